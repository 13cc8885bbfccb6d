//! `krsic serve DIR`: keeps a directory of policies applied, streams their reports, and
//! tells Prometheus and health checkers how it goes.
//!
//! - At start and after every change to DIR (inotify; editors that write a temporary file and
//!   rename it, Kubernetes' ConfigMap symlink swap, and writes in several pieces all end in
//!   one apply once DIR has been quiet for [`QUIET`] and no file is left half written), the
//!   daemon runs `krsic apply DIR`: a broken policy fails alone, with its diagnostics on
//!   stderr, and its previous version stays enforced.
//! - It follows every pinned policy DIR manages, as `krsic follow` does, writing each report
//!   as a JSON line (krsi's form, or Falco's with `--output falco`) to stdout or
//!   `--report-file`, and optionally posting it in Falco's form to `--alerts-url`.
//! - SIGINT or SIGTERM stops the daemon and nothing else: the policies stay pinned and
//!   enforced, and the next `krsic serve DIR` finds them unchanged, keeps them as they are
//!   and resumes reading their reports (those sent meanwhile wait in the ring buffer).

use crate::alerts::Alerts;
use crate::apply::{self, ApplyOptions, Outcome};
use crate::commands::{self, block_termination_signals, Signals};
use crate::doctor;
use crate::error::Error;
use crate::metrics::{self, Health, Metrics, ProgramStats, SharedMetrics};
use crate::record::PolicyRecord;
use crate::report::{self, ReportContext};
use crate::target::kernel_types;
use crate::{MessageFormat, Output};
use compiler::ir::Module;
use compiler::report::{DROPPED_RATE_LIMITED, DROPPED_RING_FULL};
use inotify::{Inotify, WatchMask};
use runtime::{DropCounters, EventStream, PinRoot};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::fd::AsRawFd as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long DIR must be quiet before it is applied: an editor's write, rename and chmod, or
/// `cp` of several files, land in one apply.
const QUIET: Duration = Duration::from_millis(300);
/// A file opened for writing and not yet closed holds the apply back, but no longer than this
/// (a writer that hangs must not stop the rest of DIR from being applied).
const HALF_WRITTEN_LIMIT: Duration = Duration::from_secs(10);
/// How often the drop counters and the kernel's program statistics are read.
const STATS_EVERY: Duration = Duration::from_secs(1);

pub struct ServeOptions<'a> {
    pub btf: Option<&'a Path>,
    pub bpffs: &'a Path,
    pub output: Output,
    pub report_file: Option<&'a Path>,
    pub alerts_url: Option<&'a str>,
    pub metrics: Option<&'a str>,
    pub bpf_stats: bool,
    pub format: MessageFormat,
}

/// Where reports go: the stream, the metrics, the alert endpoint.
struct Sink {
    out: Box<dyn Write>,
    shared: SharedMetrics,
    alerts: Option<Alerts>,
    output: Output,
    hostname: String,
}

/// A pinned policy the daemon reads the reports of.
struct Follower {
    /// The pinned version: a replacement has another load time.
    loaded_at_ns: i128,
    source: Option<String>,
    module: Option<Module>,
    events: Option<EventStream>,
    counters: Option<DropCounters>,
    /// Program symbol → hook, as the record has them.
    hooks: BTreeMap<String, String>,
}

pub fn serve(dir: &Path, options: &ServeOptions<'_>) -> Result<ExitCode, Error> {
    runtime::check_root()?;
    let dir = std::path::absolute(dir).map_err(|error| Error::Read {
        path: dir.to_path_buf(),
        error,
    })?;
    // Before any thread starts, so that every thread inherits the mask and the signals reach
    // the signalfd only.
    let signals = block_termination_signals()?;
    let signal_fd = signals.fd()?;
    let shared: SharedMetrics = Arc::new(Mutex::new(Metrics::default()));
    if let Some(addr) = options.metrics {
        let listening =
            metrics::serve_http(addr, shared.clone()).map_err(|message| Error::Metrics {
                addr: addr.to_string(),
                message,
            })?;
        eprintln!(
            "krsic: metrics on http://{listening}/metrics, health on http://{listening}/healthz"
        );
    }
    // Held for the daemon's life: the kernel counts program runs while it is open.
    let _stats = if options.bpf_stats {
        Some(runtime::enable_run_time_stats()?)
    } else {
        None
    };
    let out: Box<dyn Write> = match options.report_file {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| Error::Write {
                    path: path.to_path_buf(),
                    error,
                })?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let mut sink = Sink {
        out,
        shared: shared.clone(),
        alerts: options
            .alerts_url
            .map(|url| Alerts::start(url, shared.clone())),
        output: options.output,
        hostname: report::hostname(),
    };
    let mut watch = Inotify::init().map_err(|error| Error::Watch {
        dir: dir.clone(),
        error,
    })?;
    watch
        .watches()
        .add(
            &dir,
            WatchMask::CREATE
                | WatchMask::MODIFY
                | WatchMask::CLOSE_WRITE
                | WatchMask::MOVED_FROM
                | WatchMask::MOVED_TO
                | WatchMask::DELETE
                | WatchMask::ATTRIB,
        )
        .map_err(|error| Error::Watch {
            dir: dir.clone(),
            error,
        })?;

    // Why enforcing cannot work here, as `krsic doctor` finds it (and the pin root, which
    // may be another bpffs than the one doctor looks at); the daemon then stays up, unready,
    // so that an orchestrator shows the reason.
    let checks = doctor::diagnose(&doctor::Machine::read());
    let mut problems: Vec<String> = checks
        .iter()
        .filter(|c| c.status == doctor::Status::Problem && c.name != "bpffs")
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    if let Err(error) = PinRoot::open(options.bpffs) {
        problems.push(error.to_string());
    }
    let unready = (!problems.is_empty()).then(|| problems.join("; "));
    let mut followers: BTreeMap<String, Follower> = BTreeMap::new();
    let apply_options = ApplyOptions {
        btf: options.btf,
        bpffs: options.bpffs,
        dry_run: false,
        format: options.format,
    };
    match &unready {
        Some(why) => {
            eprintln!("krsic: cannot enforce here ({why}); `krsic doctor` says what to change");
            metrics::lock(&shared).health = Health::Unready(why.clone());
        }
        None => {
            if let Err(error) =
                apply_and_follow(&dir, &apply_options, &mut followers, &mut sink, true)
            {
                eprintln!("krsic: cannot apply {}: {error}", dir.display());
            }
            metrics::lock(&shared).health = Health::Ready;
        }
    }
    eprintln!(
        "krsic: serving {}: {} polic{} enforced; SIGINT or SIGTERM stops serving (the policies stay enforced)",
        dir.display(),
        followers.len(),
        if followers.len() == 1 { "y" } else { "ies" }
    );

    let mut changed_at: Option<Instant> = None;
    let mut half_written: BTreeSet<std::ffi::OsString> = BTreeSet::new();
    let mut stats_at = Instant::now();
    let mut buffer = [0u8; 4096];
    loop {
        let mut fds = vec![
            libc::pollfd {
                fd: signal_fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: watch.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        fds.extend(followers.values().map(|f| libc::pollfd {
            fd: f.events.as_ref().map_or(-1, EventStream::as_raw_fd),
            events: libc::POLLIN,
            revents: 0,
        }));
        let wait = match changed_at {
            // Quiet already, but a file is still being written: look again shortly.
            Some(at) if at.elapsed() >= QUIET => Duration::from_millis(100),
            Some(at) => QUIET.saturating_sub(at.elapsed()).min(STATS_EVERY),
            None => STATS_EVERY,
        };
        // SAFETY: fds is a valid array of pollfd; a negative fd is ignored.
        let ready = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                wait.as_millis().max(1) as libc::c_int,
            )
        };
        if ready < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::WaitForReports(error));
            }
            continue;
        }
        sink.drain(&mut followers);
        if fds[1].revents & libc::POLLIN != 0 {
            // Non-blocking: an empty queue is an error of kind WouldBlock, and ends the read.
            if let Ok(events) = watch.read_events(&mut buffer) {
                for event in events {
                    if let Some(name) = event.name {
                        if event.mask.contains(inotify::EventMask::MODIFY) {
                            half_written.insert(name.to_os_string());
                        }
                        if event.mask.intersects(
                            inotify::EventMask::CLOSE_WRITE
                                | inotify::EventMask::DELETE
                                | inotify::EventMask::MOVED_FROM,
                        ) {
                            half_written.remove(name);
                        }
                    }
                    changed_at = Some(Instant::now());
                }
            }
        }
        if let Some(at) = changed_at {
            let quiet = at.elapsed() >= QUIET;
            if quiet && (half_written.is_empty() || at.elapsed() >= HALF_WRITTEN_LIMIT) {
                changed_at = None;
                half_written.clear();
                if unready.is_none() {
                    // A directory that cannot be read for a moment, or a kernel BTF that
                    // cannot, must not stop the daemon: what is pinned stays enforced.
                    if let Err(error) =
                        apply_and_follow(&dir, &apply_options, &mut followers, &mut sink, false)
                    {
                        eprintln!("krsic: cannot apply {}: {error}", dir.display());
                    }
                }
            }
        }
        if stats_at.elapsed() >= STATS_EVERY {
            stats_at = Instant::now();
            read_stats(&followers, options.bpffs, &shared);
        }
        if fds[0].revents & libc::POLLIN != 0 {
            if let Some(signal) = Signals::received(&signal_fd) {
                sink.drain(&mut followers);
                eprintln!(
                    "krsic: {signal} received; stopped serving {}, its policies stay enforced",
                    dir.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
}

/// Applies `dir`, logs what changed on stderr, counts it, and follows what is now pinned.
fn apply_and_follow(
    dir: &Path,
    options: &ApplyOptions<'_>,
    followers: &mut BTreeMap<String, Follower>,
    sink: &mut Sink,
    first: bool,
) -> Result<(), Error> {
    let shared = &sink.shared.clone();
    let applied = apply::reconcile(dir, options);
    // A replaced or unloaded policy's programs are detached now, but its ring buffer may hold
    // reports they sent while the apply ran: read them before letting it go.
    sink.drain(followers);
    let applied = applied?;
    if first || applied.changed_anything() {
        eprintln!("krsic: applied {}: {}", dir.display(), applied.summary());
    }
    {
        let mut metrics = metrics::lock(shared);
        metrics.applies += 1;
        for (step, outcome) in &applied.outcomes {
            if let Outcome::Failed(_) = outcome {
                *metrics
                    .apply_failures
                    .entry(step.name().to_string())
                    .or_default() += 1;
            }
        }
    }
    follow_pinned(dir, options, followers, shared)?;
    let mut metrics = metrics::lock(shared);
    metrics.policies = followers.len();
    metrics
        .dropped
        .retain(|name, _| followers.contains_key(name));
    metrics
        .programs
        .retain(|(name, _, _), _| followers.contains_key(name));
    Ok(())
}

/// Follows every pinned policy `dir` manages, and only those: a replaced policy is followed
/// anew (its ring buffer is a new one), an unloaded one no longer.
fn follow_pinned(
    dir: &Path,
    options: &ApplyOptions<'_>,
    followers: &mut BTreeMap<String, Follower>,
    shared: &SharedMetrics,
) -> Result<(), Error> {
    let root = PinRoot::open(options.bpffs)?;
    let mut pinned = BTreeMap::new();
    for policy in root.policies()? {
        let Ok(record) = policy
            .record()
            .map_err(Error::from)
            .and_then(|bytes| PolicyRecord::from_bytes(&bytes).map_err(Error::from))
        else {
            continue;
        };
        if apply::manages(dir, &record.file) {
            pinned.insert(policy.name.clone(), (policy, record));
        }
    }
    followers.retain(|name, follower| {
        let current = pinned
            .get(name)
            .is_some_and(|(_, record)| record.loaded_at_ns == follower.loaded_at_ns);
        if !current {
            // Its counters go with it: keep what they counted, so that the policy's
            // `krsi_reports_dropped_total` never goes back.
            let (full, limited) = drops(follower);
            let mut metrics = metrics::lock(shared);
            let retired = metrics.dropped_retired.entry(name.clone()).or_default();
            retired.0 += full;
            retired.1 += limited;
        }
        current
    });
    let mut kernel = None;
    for (name, (policy, record)) in pinned {
        if followers.contains_key(&name) {
            continue;
        }
        if kernel.is_none() {
            kernel = Some(kernel_types(options.btf)?);
        }
        let module = kernel
            .as_ref()
            .and_then(|kernel| commands::report_module(&record, kernel));
        if module.is_none() {
            eprintln!(
                "krsic: `{name}` was pinned by {}; its reports are shown undecoded",
                record.compiler
            );
        }
        followers.insert(
            name,
            Follower {
                loaded_at_ns: record.loaded_at_ns,
                source: record.source,
                module,
                events: policy.events()?,
                counters: policy.drop_counters()?,
                hooks: record
                    .programs
                    .into_iter()
                    .map(|p| (p.symbol, p.hook))
                    .collect(),
            },
        );
    }
    Ok(())
}

impl Sink {
    /// Writes out, counts and posts every waiting report.
    fn drain(&mut self, followers: &mut BTreeMap<String, Follower>) {
        for (name, follower) in followers.iter_mut() {
            let Some(events) = follower.events.as_mut() else {
                continue;
            };
            let context = ReportContext {
                policy: name,
                module: follower.module.as_ref(),
                source: follower.source.as_deref(),
                realtime_offset_ns: report::realtime_offset_ns(),
            };
            events.drain(|bytes| {
                let decoded = context.to_json(bytes);
                for report in decoded.iter().flatten() {
                    metrics::lock(&self.shared).count_report(report);
                    if let Some(alerts) = &self.alerts {
                        alerts.post(report::to_falco(report, &self.hostname));
                    }
                }
                let lines = report::render(decoded, &context, bytes, self.output, &self.hostname);
                for line in lines {
                    // A full disk must not stop the daemon; enforcement does not depend on it
                    // anyway. (A closed stdout ends krsic with SIGPIPE; the policies stay.)
                    let _ = writeln!(self.out, "{line}");
                }
            });
        }
        let _ = self.out.flush();
    }
}

/// The reports a followed policy could not send since it was loaded: (ring full, over the
/// rate limit); zeros when its counters cannot be read.
fn drops(follower: &Follower) -> (u64, u64) {
    let Some(counters) = &follower.counters else {
        return (0, 0);
    };
    (
        counters.total(DROPPED_RING_FULL).unwrap_or(0),
        counters.total(DROPPED_RATE_LIMITED).unwrap_or(0),
    )
}

/// Reads the drop counters and the kernel's program statistics into the metrics.
fn read_stats(followers: &BTreeMap<String, Follower>, bpffs: &Path, shared: &SharedMetrics) {
    let enabled = std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")
        .map(|s| s.trim() == "1")
        .unwrap_or(false);
    let mut dropped = BTreeMap::new();
    let mut programs = BTreeMap::new();
    let root = PinRoot::open(bpffs).ok();
    for (name, follower) in followers {
        dropped.insert(name.clone(), drops(follower));
        let Some(Ok(Some(policy))) = root.as_ref().map(|root| root.policy(name)) else {
            continue;
        };
        for program in policy.programs().unwrap_or_default() {
            let hook = follower
                .hooks
                .get(&program.symbol)
                .cloned()
                .unwrap_or_default();
            programs.insert(
                (name.clone(), program.symbol, hook),
                ProgramStats {
                    runs: program.run_count,
                    run_time_ns: program.run_time_ns,
                },
            );
        }
    }
    let mut metrics = metrics::lock(shared);
    metrics.bpf_stats_enabled = enabled;
    for (name, (full, limited)) in &mut dropped {
        if let Some(retired) = metrics.dropped_retired.get(name) {
            *full += retired.0;
            *limited += retired.1;
        }
    }
    metrics.dropped = dropped;
    metrics.programs = programs;
}
