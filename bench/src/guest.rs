//! The guest half, inside a guest kernel booted by `tests/guest/run --bench`: load each
//! program of the manifest alone on its hook, run every workload case against it, and print
//! what the kernel's own statistics say, one `KRSI-BENCH {json}` line per program. The
//! programs of one rule set are measured in interleaved rounds ([`measure_group`]).
//!
//! Loading goes through the runtime crate (`runtime::load`, as `krsic load` does) for every
//! design, so that C and krsi objects are loaded and attached the same way. The kernel's
//! `bpf_prog_info` of the new programs gives run_time_ns / run_cnt (with
//! `kernel.bpf_stats_enabled=1`), verified instructions and the xlated and JIT sizes.

use crate::generate::{PATH_KEY_BYTES, RULE_MAP};
use crate::manifest::{median, CaseResult, Entry, Manifest, Measurement, MANIFEST, RESULT_MARKER};
use crate::workload::{last_rule_target, Case, Design, Event, MISS_PATHS};
use aya::maps::{HashMap, Map, MapData, MapInfo, MapType};
use aya::programs::{loaded_programs, ProgramInfo};
use std::collections::BTreeSet;
use std::ffi::CString;
use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const STATS_SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";
/// The executable copied to every workload path: exec runs it, open opens it.
const WORKLOAD_BINARY: &str = "/bin/true";
/// Measured rounds per workload case: each program of a group is loaded once a round.
const ROUNDS: u32 = 5;
/// The exit status of a workload child whose execve was refused.
const EXEC_REFUSED: i32 = 126;

/// Where the programs run and what makes their events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Harness {
    /// Attached to their LSM hooks in a guest kernel; a child process opens or executes the
    /// workload's paths.
    Guest,
    /// On the host, as iterators over the open files of a process that holds the workload's
    /// paths open ([`crate::native`]).
    Native,
}

pub fn run(stage: &Path, harness: Harness) -> Result<(), String> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_err(|e| format!("reading the kernel release: {e}"))?;
    let manifest = find_manifest(stage, release.trim())?;
    let kernel_dir = stage.join(&manifest.series);
    eprintln!(
        "krsi-bench: kernel {} ({}), {} programs",
        release.trim(),
        manifest.series,
        manifest.entries.len()
    );
    let created = create_workload_files(&manifest)?;
    std::fs::write(STATS_SYSCTL, "1").map_err(|e| format!("{STATS_SYSCTL}: {e}"))?;
    let measured = measure_all(harness, &kernel_dir, &manifest);
    let stats = std::fs::write(STATS_SYSCTL, "0").map_err(|e| format!("{STATS_SYSCTL}: {e}"));
    // A guest is thrown away after the run; the host keeps nothing the run made.
    if harness == Harness::Native {
        created.remove();
    }
    measured.and(stats)
}

/// Measures every rule set's designs, printing one result line per program.
fn measure_all(harness: Harness, kernel_dir: &Path, manifest: &Manifest) -> Result<(), String> {
    for group in rule_sets(&manifest.entries) {
        for measurement in measure_group(harness, kernel_dir, manifest, &group) {
            let line = serde_json::to_string(&measurement).map_err(|e| e.to_string())?;
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{RESULT_MARKER}{line}");
            let _ = stdout.flush();
        }
    }
    Ok(())
}

/// The manifest compiled for this kernel: its pin names the release (`PACKAGE VERSION
/// RELEASE sha256:…`).
fn find_manifest(stage: &Path, release: &str) -> Result<Manifest, String> {
    let dirs = std::fs::read_dir(stage).map_err(|e| format!("{}: {e}", stage.display()))?;
    for dir in dirs.flatten() {
        let path = dir.path().join(MANIFEST);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if manifest.pin.split_whitespace().nth(2) == Some(release) {
            return Ok(manifest);
        }
    }
    Err(format!(
        "no manifest in {} was compiled for kernel {release}",
        stage.display()
    ))
}

/// What [`create_workload_files`] made that was not there: removed after a native run.
struct Created {
    files: Vec<PathBuf>,
    /// Deepest last.
    dirs: Vec<PathBuf>,
}

impl Created {
    fn remove(self) {
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
        for dir in self.dirs.iter().rev() {
            // Only if empty: something else may have put files there since.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn create_workload_files(manifest: &Manifest) -> Result<Created, String> {
    let mut created = Created {
        files: Vec::new(),
        dirs: Vec::new(),
    };
    let mut paths: BTreeSet<String> = MISS_PATHS.iter().map(|p| p.to_string()).collect();
    // The programs without rules (empty, path floor) run the last-rule case on the target of
    // a set of none, which no size of a scale or glob run creates.
    paths.extend(
        std::iter::once(0)
            .chain(manifest.plan.sizes.iter().copied())
            .map(last_rule_target),
    );
    for path in paths {
        let path = PathBuf::from(path);
        let mut missing: Vec<PathBuf> = path
            .ancestors()
            .skip(1)
            .take_while(|dir| !dir.exists())
            .map(Path::to_path_buf)
            .collect();
        missing.reverse();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        created.dirs.extend(missing);
        if !path.exists() {
            created.files.push(path.clone());
        }
        std::fs::copy(WORKLOAD_BINARY, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(created)
}

/// The compiled programs grouped by the rules they decide, in the manifest's order.
fn rule_sets(entries: &[Entry]) -> Vec<Vec<Entry>> {
    let mut groups: Vec<Vec<Entry>> = Vec::new();
    for entry in entries.iter().filter(|e| e.object.is_some()) {
        match groups
            .iter_mut()
            .find(|g| g[0].rule_set() == entry.rule_set())
        {
            Some(group) => group.push(entry.clone()),
            None => groups.push(vec![entry.clone()]),
        }
    }
    groups
}

/// Measures the designs of one rule set (clang's program, the map design's, krsi's; or the
/// empty program and the path floor) in interleaved rounds: each round loads every program in
/// turn alone on its hook, runs one measured round of every case against it, and unloads it.
/// The host's load under TCG drifts over minutes: measured design after design, a slow minute
/// fell on every round of one design and moved its ratio to the others (the map design's time
/// per exec swung from 30 to 83 µs between the cells of one run). Interleaved, a drift falls
/// on the whole group alike, and each round's fresh load also samples where the kernel puts
/// the program's code and maps.
fn measure_group(
    harness: Harness,
    kernel_dir: &Path,
    manifest: &Manifest,
    group: &[Entry],
) -> Vec<Measurement> {
    let mut measurements: Vec<Measurement> = group
        .iter()
        .map(|entry| Measurement {
            id: entry.id.clone(),
            cases: Case::ALL
                .iter()
                .map(|&case| CaseResult::new(case))
                .collect(),
            ..Measurement::default()
        })
        .collect();
    let mut tallies: Vec<[Tally; Case::ALL.len()]> = vec![Default::default(); group.len()];
    let mut load_ms = vec![Vec::new(); group.len()];
    for round in 0..ROUNDS as usize {
        // Rotated, so that no design always runs first after a boot's idle time or after the
        // same other design.
        for turn in 0..group.len() {
            let i = (turn + round) % group.len();
            let (entry, measurement) = (&group[i], &mut measurements[i]);
            if measurement.refused.is_some() {
                continue;
            }
            let started = Instant::now();
            let loaded = match load(harness, kernel_dir, entry, measurement, round == 0) {
                Ok(loaded) => loaded,
                Err(refused) => {
                    measurement.refused = Some(refused);
                    continue;
                }
            };
            load_ms[i].push(started.elapsed().as_secs_f64() * 1e3);
            for (result, tally) in measurement.cases.iter_mut().zip(&mut tallies[i]) {
                run_round(manifest, entry, &loaded, result, tally);
            }
            // Dropping the policy detaches and unloads every program (and its maps).
            drop(loaded);
        }
    }
    for ((entry, measurement), (tallies, loads)) in group
        .iter()
        .zip(&mut measurements)
        .zip(tallies.iter().zip(&load_ms))
    {
        measurement.load_ms = median(loads.clone());
        for (result, tally) in measurement.cases.iter_mut().zip(tallies) {
            result.judge(entry, tally);
        }
    }
    measurements
}

/// A program of the group, loaded (and in a guest, attached).
struct Loaded {
    /// Detaches and unloads when dropped.
    held: Held,
    /// The kernel's ids of its programs, whose statistics the rounds read.
    ids: Vec<u32>,
}

enum Held {
    Policy { _policy: runtime::EnforcedPolicy },
    Iterators(crate::native::Iterators),
}

/// Loads and attaches `entry`'s object; on the first load, also records what the kernel
/// charged and counted for it (the same at every load).
fn load(
    harness: Harness,
    kernel_dir: &Path,
    entry: &Entry,
    measurement: &mut Measurement,
    first: bool,
) -> Result<Loaded, String> {
    let object = kernel_dir.join(entry.object.as_deref().unwrap_or_default());
    let bytes = std::fs::read(&object).map_err(|e| format!("{}: {e}", object.display()))?;
    let before: BTreeSet<u32> = program_infos().iter().map(|p| p.id()).collect();
    let held = match harness {
        Harness::Guest => {
            let targets: Vec<runtime::ProgramTarget> = entry
                .targets
                .iter()
                .map(|t| runtime::ProgramTarget {
                    symbol: t.symbol.clone(),
                    hook: t.hook.clone(),
                })
                .collect();
            let gate = runtime::GateMaps {
                gate_map: compiler::codegen::GATE_MAP.to_string(),
                version_map: compiler::codegen::VERSION_MAP.to_string(),
                handover: None,
            };
            Held::Policy {
                _policy: runtime::load(&bytes, &targets, None, &gate, None)
                    .map_err(|e| refusal(&e))?,
            }
        }
        Harness::Native => Held::Iterators(crate::native::Iterators::load(&bytes, &entry.targets)?),
    };
    let infos: Vec<ProgramInfo> = program_infos()
        .into_iter()
        .filter(|p| !before.contains(&p.id()))
        .collect();
    if first {
        measurement.verified_insns = sum(infos.iter().map(|p| p.verified_instruction_count()));
        measurement.xlated_bytes = sum(infos.iter().map(|p| p.size_translated()));
        measurement.jited_bytes = sum(infos.iter().map(|p| Some(p.size_jitted())));
        if let Some(charged) = memlock(&infos) {
            measurement.memlock_bytes = Some(charged.programs + charged.maps);
            measurement.map_memlock_bytes = Some(charged.maps);
            measurement.ringbuf_bytes = Some(charged.rings);
        }
    }
    fill_rule_map(&infos, &entry.map_keys)?;
    Ok(Loaded {
        held,
        ids: infos.iter().map(|p| p.id()).collect(),
    })
}

fn program_infos() -> Vec<ProgramInfo> {
    loaded_programs().filter_map(Result::ok).collect()
}

fn sum(values: impl Iterator<Item = Option<u32>>) -> Option<u32> {
    values.sum()
}

/// The kernel's refusal, short: the error, then the last lines of the verifier's log, which
/// say why (`BPF program is too large`, `The sequence of 8193 jumps is too complex`, ...).
pub(crate) fn refusal(error: &runtime::RuntimeError) -> String {
    let text = error.to_string();
    let mut short = text.lines().next().unwrap_or("").to_string();
    if let runtime::RuntimeError::Rejected { log, .. } = error {
        // A statistics-level log ends with the verifier's statistics; the reason, when the
        // verifier gives one, is the line before them.
        let is_statistic = |l: &&str| {
            ["verification time", "stack depth", "processed "]
                .iter()
                .any(|p| l.trim_start().starts_with(p))
        };
        let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
        let reasons: Vec<&str> = lines.iter().copied().filter(|l| !is_statistic(l)).collect();
        let mut parts: Vec<&str> = reasons[reasons.len().saturating_sub(2)..].to_vec();
        if let Some(processed) = lines
            .iter()
            .find(|l| l.trim_start().starts_with("processed "))
        {
            parts.push(processed);
        }
        if !parts.is_empty() {
            short = format!("{short}: {}", parts.join(" / "));
        }
    }
    short
}

/// Bytes the kernel charged the programs and every map they use (fdinfo `memlock`), in
/// bytes: the programs' code, the maps the policy keeps (its data), and apart from them the
/// report ring buffers (sized for bursts of reports, not by the rules).
struct Memlock {
    programs: u64,
    maps: u64,
    rings: u64,
}

fn memlock(infos: &[ProgramInfo]) -> Option<Memlock> {
    let mut charged = Memlock {
        programs: 0,
        maps: 0,
        rings: 0,
    };
    let mut maps = BTreeSet::new();
    for info in infos {
        charged.programs += u64::from(info.memory_locked().ok()?);
        maps.extend(info.map_ids().ok().flatten().unwrap_or_default());
    }
    for id in maps {
        let map = MapInfo::from_id(id).ok()?;
        let fd = map.fd().ok()?;
        let fdinfo =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_fd().as_raw_fd()))
                .ok()?;
        let bytes = fdinfo
            .lines()
            .find_map(|l| l.strip_prefix("memlock:"))
            .and_then(|v| v.trim().parse::<u64>().ok())?;
        match map.map_type().ok() {
            Some(MapType::RingBuf) => charged.rings += bytes,
            _ => charged.maps += bytes,
        }
    }
    Some(charged)
}

/// Puts the rule keys into the map design's rule map, as the agents do after loading.
fn fill_rule_map(infos: &[ProgramInfo], keys: &[String]) -> Result<(), String> {
    if keys.is_empty() {
        return Ok(());
    }
    let ids: BTreeSet<u32> = infos
        .iter()
        .flat_map(|p| p.map_ids().ok().flatten().unwrap_or_default())
        .collect();
    let id = ids
        .into_iter()
        .find(|&id| {
            MapInfo::from_id(id)
                .map(|m| m.name_as_str() == Some(RULE_MAP))
                .unwrap_or(false)
        })
        .ok_or_else(|| format!("the program has no map `{RULE_MAP}`"))?;
    let data = MapData::from_id(id).map_err(|e| format!("map {RULE_MAP}: {e}"))?;
    let mut rules: HashMap<MapData, [u8; PATH_KEY_BYTES], u32> =
        HashMap::try_from(Map::HashMap(data)).map_err(|e| format!("map {RULE_MAP}: {e}"))?;
    // Each key's value is its rule's index, which the program's report carries.
    for (index, key) in (0u32..).zip(keys) {
        let mut padded = [0u8; PATH_KEY_BYTES];
        let len = key.len().min(PATH_KEY_BYTES - 1);
        padded[..len].copy_from_slice(&key.as_bytes()[..len]);
        rules
            .insert(padded, index, 0)
            .map_err(|e| format!("inserting `{key}` into {RULE_MAP}: {e}"))?;
    }
    Ok(())
}

/// (run_cnt, run_time_ns) summed over the programs.
fn run_stats(ids: &[u32]) -> (u64, u64) {
    program_infos()
        .iter()
        .filter(|p| ids.contains(&p.id()))
        .fold((0, 0), |(cnt, ns), p| {
            (cnt + p.run_count(), ns + p.run_time().as_nanos() as u64)
        })
}

/// One warm-up round (the first events after a load pay for cold caches), then one measured
/// round of `result`'s case against the loaded program.
fn run_round(
    manifest: &Manifest,
    entry: &Entry,
    loaded: &Loaded,
    result: &mut CaseResult,
    tally: &mut Tally,
) {
    let case = result.case;
    let iterations = match entry.event {
        Event::Open => manifest.plan.open_iterations,
        Event::Exec => manifest.plan.exec_iterations,
    };
    let paths: Vec<CString> = case
        .paths(entry.rules)
        .into_iter()
        .filter_map(|p| CString::new(p).ok())
        .collect();
    let per_round = (iterations / ROUNDS).max(1);
    let cap = Duration::from_millis(manifest.plan.case_cap_ms) / (ROUNDS + 1);
    let run = |events: u32, cap: Duration| match &loaded.held {
        Held::Policy { .. } => workload(entry.event, case.uid(), &paths, events, cap),
        Held::Iterators(iterators) => iterators.workload(case.uid(), &paths, events, cap),
    };
    let _ = run((per_round / 4).max(1), cap / 4);
    let (cnt0, ns0) = run_stats(&loaded.ids);
    let round = run(per_round, cap);
    let (cnt1, ns1) = run_stats(&loaded.ids);
    let (cnt, ns) = (cnt1.saturating_sub(cnt0), ns1.saturating_sub(ns0));
    result.run_cnt += cnt;
    result.run_time_ns += ns;
    if cnt > 0 {
        result.round_ns.push(ns as f64 / cnt as f64);
    }
    match round {
        Ok(round) => {
            tally.counts.events += round.events;
            tally.counts.denied += round.denied;
            tally.counts.failed += round.failed;
        }
        Err(e) => tally.broken = Some(e),
    }
}

/// The decisions of a case's rounds so far.
#[derive(Clone, Debug, Default)]
struct Tally {
    counts: Counts,
    /// Why a round's workload could not run (its child died, no paths).
    broken: Option<String>,
}

impl CaseResult {
    fn new(case: Case) -> CaseResult {
        CaseResult {
            case,
            events: 0,
            denied: 0,
            run_cnt: 0,
            run_time_ns: 0,
            round_ns: Vec::new(),
            wrong: None,
        }
    }

    /// Records the decisions, and whether they were the rule set's.
    fn judge(&mut self, entry: &Entry, tally: &Tally) {
        let counts = tally.counts;
        self.events = counts.events;
        self.denied = counts.denied;
        let has_rules = !matches!(entry.design, Design::Empty | Design::PathFloor);
        let expected = if has_rules && self.case.denied_with_rules() {
            counts.events
        } else {
            0
        };
        self.wrong = if let Some(broken) = &tally.broken {
            Some(broken.clone())
        } else if counts.failed > 0 {
            Some(format!("{} events failed otherwise", counts.failed))
        } else if counts.denied != expected {
            Some(format!(
                "denied {} of {} events, expected {expected}",
                counts.denied, counts.events
            ))
        } else {
            None
        };
    }
}

#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(crate) struct Counts {
    pub events: u64,
    pub denied: u64,
    /// Refused for another reason than the policy (EACCES, ENOENT...): a broken workload.
    pub failed: u64,
}

/// Runs the workload in a child process with `uid`, so that the parent does nothing between
/// the two readings of the statistics but wait.
fn workload(
    event: Event,
    uid: u32,
    paths: &[CString],
    iterations: u32,
    cap: Duration,
) -> Result<Counts, String> {
    if paths.is_empty() {
        return Err("no workload paths".into());
    }
    in_child(|| child_workload(event, uid, paths, iterations, cap))
}

/// A pipe (read end, write end), then a fork: the child's pid in the parent, 0 in the child.
/// The child must only make system calls and leave with `_exit`: the bench runner is
/// single-threaded, so no lock is held across the fork.
pub(crate) fn fork_with_pipe() -> Result<(libc::pid_t, [i32; 2]), String> {
    let mut pipe = [0i32; 2];
    // SAFETY: pipe writes two descriptors into the array.
    if unsafe { libc::pipe(pipe.as_mut_ptr()) } != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: see above.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    Ok((child, pipe))
}

/// Runs `work` in a forked child and returns what it counted.
pub(crate) fn in_child(work: impl FnOnce() -> Counts) -> Result<Counts, String> {
    let (child, pipe) = fork_with_pipe()?;
    if child == 0 {
        let counts = work();
        // SAFETY: writes the plain struct's bytes to the pipe, then leaves without unwinding.
        unsafe {
            libc::write(
                pipe[1],
                (&counts as *const Counts).cast(),
                std::mem::size_of::<Counts>(),
            );
            libc::_exit(0);
        }
    }
    // SAFETY: closes the parent's copy of the write end; waits for the child it forked.
    let mut status = 0;
    unsafe {
        libc::close(pipe[1]);
        libc::waitpid(child, &mut status, 0);
    }
    let mut counts = Counts::default();
    // SAFETY: reads at most the struct's size into it; any byte pattern is a valid Counts.
    let read = unsafe {
        libc::read(
            pipe[0],
            (&mut counts as *mut Counts).cast(),
            std::mem::size_of::<Counts>(),
        )
    };
    // SAFETY: closes the read end this function opened.
    unsafe { libc::close(pipe[0]) };
    if read != std::mem::size_of::<Counts>() as isize {
        return Err(format!("the workload child died (wait status {status:#x})"));
    }
    Ok(counts)
}

fn child_workload(
    event: Event,
    uid: u32,
    paths: &[CString],
    iterations: u32,
    cap: Duration,
) -> Counts {
    let mut counts = Counts::default();
    if !become_user(uid) {
        counts.failed = 1;
        return counts;
    }
    let started = Instant::now();
    for i in 0..iterations as usize {
        if started.elapsed() > cap {
            break;
        }
        let path = &paths[i % paths.len()];
        let outcome = match event {
            Event::Open => open_once(path),
            Event::Exec => exec_once(path),
        };
        counts.events += 1;
        match outcome {
            Outcome::Allowed => {}
            Outcome::Denied => counts.denied += 1,
            Outcome::Failed => counts.failed += 1,
        }
    }
    counts
}

/// Gives this process `uid`'s credentials (and its own group of the same number); root stays
/// root. False when it could not.
pub(crate) fn become_user(uid: u32) -> bool {
    // SAFETY: plain system calls on this process's credentials.
    uid == 0
        || unsafe {
            libc::setgroups(0, std::ptr::null()) == 0
                && libc::setresgid(uid, uid, uid) == 0
                && libc::setresuid(uid, uid, uid) == 0
        }
}

enum Outcome {
    Allowed,
    Denied,
    Failed,
}

fn open_once(path: &CString) -> Outcome {
    // SAFETY: a NUL-terminated path; the descriptor is closed at once.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd >= 0 {
        // SAFETY: closes the descriptor just opened.
        unsafe { libc::close(fd) };
        return Outcome::Allowed;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EPERM) => Outcome::Denied,
        _ => Outcome::Failed,
    }
}

fn exec_once(path: &CString) -> Outcome {
    let argv = [path.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null()];
    // SAFETY: the grandchild only calls execve and _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Outcome::Failed;
    }
    if pid == 0 {
        // SAFETY: NUL-terminated path and NULL-terminated argument and environment arrays.
        unsafe {
            libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            let denied = std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
            libc::_exit(if denied {
                EXEC_REFUSED
            } else {
                EXEC_REFUSED + 1
            });
        }
    }
    let mut status = 0;
    // SAFETY: waits for the process just forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
        Some(0) => Outcome::Allowed,
        Some(EXEC_REFUSED) => Outcome::Denied,
        _ => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepare::new_entry;
    use crate::workload::Kind;

    /// An entry as `prepare` makes it, compiled.
    fn compiled(event: Event, design: Design, kind: Option<Kind>, rules: usize) -> Entry {
        let mut entry = new_entry(event, design, kind, rules);
        entry.object = Some(format!("{}.o", entry.id));
        entry
    }

    #[test]
    fn the_designs_of_one_rule_set_are_measured_together_wherever_the_manifest_lists_them() {
        let literal = Some(Kind::Literal);
        let entries = vec![
            compiled(Event::Open, Design::Empty, None, 0),
            compiled(Event::Open, Design::Krsi, literal, 10),
            compiled(Event::Open, Design::PathFloor, None, 0),
            compiled(Event::Exec, Design::Krsi, literal, 10),
            compiled(Event::Open, Design::MapExact, literal, 10),
            // Refused by clang: nothing to measure.
            new_entry(Event::Open, Design::Clang, literal, 100),
            compiled(Event::Open, Design::Krsi, literal, 100),
        ];
        let groups = rule_sets(&entries);
        let ids: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|e| e.id.as_str()).collect())
            .collect();
        assert_eq!(
            ids,
            [
                vec!["open-empty", "open-floor"],
                vec!["open-krsi-literal-10", "open-map-exact-literal-10"],
                vec!["exec-krsi-literal-10"],
                vec!["open-krsi-literal-100"],
            ]
        );
    }
}
