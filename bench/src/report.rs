//! The host half, after the guests: read each kernel's manifest and the `KRSI-BENCH` lines of
//! its console log, and write the book's performance page and its plot.

use crate::manifest::{
    median, CaseResult, Entry, Manifest, Measurement, MANIFEST, NATIVE_SERIES, RESULT_MARKER,
};
use crate::workload::{Case, Design, Event, Kind, Mode, MISS_PATHS};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// The console log the harness leaves in each kernel's stage directory.
pub const CONSOLE_LOG: &str = "console.log";

struct KernelRun {
    manifest: Manifest,
    /// The guest's `uname -r` and LSM list, from the harness's markers.
    release: String,
    measured: BTreeMap<String, Measurement>,
}

impl KernelRun {
    /// What the tables call the kernel: a guest's series, or the host.
    fn label(&self) -> String {
        if self.manifest.series == NATIVE_SERIES {
            "Host, natively".into()
        } else {
            format!("Guest {}", self.manifest.series)
        }
    }

    fn entry(
        &self,
        event: Event,
        design: Design,
        kind: Option<Kind>,
        rules: usize,
    ) -> Option<&Entry> {
        self.manifest
            .entries
            .iter()
            .find(|e| e.event == event && e.design == design && e.kind == kind && e.rules == rules)
    }

    /// The map design of `kind`'s rules (prefix walk or exact hash), when one holds them.
    fn map_entry(&self, event: Event, kind: Kind, rules: usize) -> Option<&Entry> {
        let design = [Design::MapPrefix, Design::MapExact]
            .into_iter()
            .find(|d| d.holds(kind))?;
        self.entry(event, design, Some(kind), rules)
    }

    /// Instructions one event of `case` executes offline, or "—".
    fn executed(
        &self,
        event: Event,
        design: Design,
        kind: Kind,
        rules: usize,
        case: Case,
    ) -> String {
        self.entry(event, design, Some(kind), rules)
            .and_then(|e| e.offline.iter().find(|(c, _)| *c == case))
            .map(|(_, n)| format!("{n:.0}"))
            .unwrap_or_else(|| "—".into())
    }

    fn case(&self, entry: &Entry, case: Case) -> Option<&CaseResult> {
        self.measured
            .get(&entry.id)?
            .cases
            .iter()
            .find(|c| c.case == case)
    }

    /// ns/run of a case, or why there is none.
    fn time(&self, entry: Option<&Entry>, case: Case) -> Result<Timed<'_>, &'static str> {
        let entry = entry.ok_or("not in this run")?;
        if entry.refused.is_some() {
            return Err("refused by its compiler");
        }
        let measured = self.measured.get(&entry.id).ok_or("not measured")?;
        if measured.refused.is_some() {
            return Err("refused by the kernel");
        }
        let result = self.case(entry, case).ok_or("not measured")?;
        if result.wrong.is_some() {
            return Err("decided wrong");
        }
        let ns = result.ns_per_run().ok_or("never ran")?;
        Ok(Timed {
            ns,
            rounds: &result.round_ns,
            group: entry.rule_set(),
        })
    }
}

/// A case's time, and the rounds it is the median of.
#[derive(Clone, Copy)]
struct Timed<'a> {
    ns: f64,
    rounds: &'a [f64],
    /// The rule set, whose designs the guest measures in the same rounds.
    group: (Event, Option<Kind>, usize),
}

impl Timed<'_> {
    /// Over `other`: the median of the rounds' ratios when both ran in the same rounds (the
    /// designs of one rule set: round k of each ran within seconds of the other's, so the
    /// host's drift cancels in each ratio), else the ratio of the two medians.
    fn over(&self, other: &Timed) -> f64 {
        let paired = self.group == other.group
            && self.rounds.len() == other.rounds.len()
            && other.rounds.iter().all(|&ns| ns > 0.0);
        let per_round = || {
            let ratios = self.rounds.iter().zip(other.rounds).map(|(a, b)| a / b);
            median(ratios.collect())
        };
        paired
            .then(per_round)
            .flatten()
            .unwrap_or(self.ns / other.ns)
    }
}

pub fn write(stage: &Path, page: &Path, plot: &Path) -> Result<(), String> {
    let runs = read_runs(stage)?;
    let plot_name = plot
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("performance.svg")
        .to_string();
    // A page without its plot still carries every number: say why the plot is missing.
    let plot_error = draw_plot(stage, plot, &runs).err();
    if let Some(e) = &plot_error {
        eprintln!("krsi-bench: no plot: {e}");
    }
    std::fs::write(page, render(&runs, &plot_name, plot_error.as_deref()))
        .map_err(|e| format!("{}: {e}", page.display()))
}

/// Each kernel's manifest and the results its console log carries.
fn read_runs(stage: &Path) -> Result<Vec<KernelRun>, String> {
    let mut runs = Vec::new();
    for series in ["6.1", "6.12", NATIVE_SERIES] {
        let dir = stage.join(series);
        let Ok(text) = std::fs::read_to_string(dir.join(MANIFEST)) else {
            continue;
        };
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let console = std::fs::read_to_string(dir.join(CONSOLE_LOG)).unwrap_or_default();
        let mut measured = BTreeMap::new();
        let mut release = String::new();
        for line in console.lines() {
            let line = line.trim_end_matches('\r');
            if let Some(json) = line
                .find(RESULT_MARKER)
                .map(|i| &line[i + RESULT_MARKER.len()..])
            {
                if let Ok(m) = serde_json::from_str::<Measurement>(json) {
                    measured.insert(m.id.clone(), m);
                }
            } else if let Some(i) = line.find("KRSI-GUEST-KERNEL ") {
                release = line[i + "KRSI-GUEST-KERNEL ".len()..].trim().to_string();
            }
        }
        if release.is_empty() && manifest.series == NATIVE_SERIES {
            // No guest boots to say it: the pin names the host's release.
            release = manifest.pin.split_whitespace().nth(2).unwrap_or("").into();
        }
        runs.push(KernelRun {
            manifest,
            release,
            measured,
        });
    }
    if runs.is_empty() {
        return Err(format!("no manifest under {}", stage.display()));
    }
    Ok(runs)
}

fn render(runs: &[KernelRun], plot_name: &str, plot_error: Option<&str>) -> String {
    let plan = &runs[0].manifest.plan;
    // The scale and glob runs have pages of their own (`scripts/bench --scale`, `--globs`),
    // beside the quick or full run's, which they would otherwise replace.
    let mut out = match plan.mode {
        Mode::Scale => String::from("# Performance at scale\n\n"),
        Mode::Globs => String::from("# Performance of globs\n\n"),
        Mode::Native => String::from("# Performance, natively\n\n"),
        _ => String::from("# Performance\n\n"),
    };
    let _ = writeln!(
        out,
        "<!-- Written by `scripts/bench{}`; rerun it rather than editing this page. -->\n",
        plan.mode.flag()
    );
    if plan.mode == Mode::Native {
        out += NATIVE_INTRO;
    } else {
        out += "This page is written by the benchmark command, `scripts/bench` (`--quick` for the \
    small mode, `--scale` for 10, 100, 1,000 and 10,000 rules, `--globs` for globs and mixed rules at 10 and \
    1,000). It boots each guest kernel once (through the guest harness, `tests/guest/run \
    --bench`) and, in that one boot, loads every compared program alone on its hook and runs the \
    same workload against it. Times come from the kernel's own statistics \
    (`kernel.bpf_stats_enabled=1`, then run_time_ns / run_cnt of the program's `bpf_prog_info`) \
    over the workload only. The programs of one rule set (clang's, the map design's and krsi's; \
    or the empty program and the path floor) are measured in five interleaved rounds: each round \
    loads each of them in turn, runs one unmeasured warm-up and one measured round of every case \
    against it, and unloads it, so that the host's drift falls on them alike; a case's time is the \
    median round's, its load time the median load's. The guests run under QEMU's TCG emulator on a shared host, so a time \
    means something only beside another time from the same boot: read ratios, not nanoseconds, \
    and allow ±30% of noise. The exact counts beside them (instructions the verifier processed, \
    instructions executed per event in krsi's offline machine, program sizes) do not vary.\n\n";
    }
    out += "## What runs\n\n";
    out += "- **Rules.** Every rule denies non-root processes a path: `deny EVENT where PATH-TEST \
and uid != 0`. Rule *i* of a set tests `/srv/appi/…`: *literal* `path == \"/srv/appi/bin/tool\"`, \
*prefix* `path ~ \"/srv/appi/**\"`, *glob* `path ~ \"/srv/appi/bin/t*l\"`, *mix* the three in turn.\n";
    out +=
        "- **Designs.** *empty*: `return 0`, the cost of any program on the hook. *path floor*: \
resolves the path with `bpf_d_path` and returns, the limit a compiled decision approaches. \
*clang -O2*: the same rules generated as C (uid test first, path resolved once, one 8-byte-word \
compare chain per rule), compiled by Debian's clang. *map: prefix walk*: Tetragon and \
KubeArmor's generic program, one prebuilt program that resolves the path into a zero-padded \
256-byte key and looks every prefix ending in `/` up in a hash map of rule directories. *map: \
exact hash*: the same for exact paths, one lookup of the whole path. The map programs also test \
the uid first. The C programs and the map designs report a refusal as krsi does: a 352-byte \
ring buffer record of the rule, the process, its parent, the time, the cgroup and the path, \
under the same per-rule rate limit (100 a second on a CPU, the rest counted), in maps of \
krsi's names and shapes. *krsi*: the policy compiled by the checkout's `krsic build` against \
the measured kernel's BTF.\n";
    let _ = writeln!(
        out,
        "- **Cases.** *miss*: uid 1000 opens (or executes) {} in turn; no rule matches, so every \
program must examine the path (krsi's exact paths first by the file's last names, read from its \
dentries: `/usr/lib/bench/tool` has a parent no listed path has, `/srv/app/bin/tool` and \
`/srv/app99999/bin/tool` a directory whose length none has there, and `/srv/appx/bin/tool` one \
with a letter where every listed one has a digit, so krsi leaves all four unresolved; its \
prefixes first by the path's first directories, read on the way up to the process's root: \
`usr` is no rule's first, and `app`, `appx` and `app99999` no rule's second; see the \
architecture page, \"Screening exact paths\" and \"Screening by the first directories\"). *last rule*: uid 1000 on the path only the last rule matches \
(denied). *root*: uid 0 on the miss paths, where the cheap `uid != 0` test can decide before \
the path is resolved: measured apart so that an early exit never flatters a path-matching \
ratio. {}",
        MISS_PATHS
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if plan.mode == Mode::Native {
            format!(
                "Natively the files are held open and decided by the iterator (above): each case \
                 decides {} files, in passes over 256, cut short after {} s.",
                plan.open_iterations,
                plan.case_cap_ms / 1000
            )
        } else {
            format!(
                "Each case runs {} opens or {} execs, cut short after {} s.",
                plan.open_iterations,
                plan.exec_iterations,
                plan.case_cap_ms / 1000
            )
        }
    );
    let load = if plan.mode == Mode::Native {
        "loading the iterator and binding it to the process holding the files (verify, then \
         link), on the host"
    } else {
        "`runtime::load` (verify, then attach) in the guest"
    };
    out += "- **Counts.** *verified insns*: `bpf_prog_info.verified_insns`, the instructions \
the verifier processed. *xlated / JIT bytes*: the program after the verifier and as machine code. \
*kernel memory*: the `memlock` the kernel charged the program and every map it uses (fdinfo), \
the maps' share beside it (`(maps N KiB)`: the policy's data, where the map designs keep their \
rules and krsi its scratch buffers; the rest is code), and the report ring buffer apart \
(`+ N KiB ring`); 6.1 estimates a map's memory from its \
declared sizes (a ring buffer counts as nothing), 6.4 and later report what the map uses. *load*: wall time of ";
    out += load;
    out +=
        ". *compile*: wall time of `krsic build` (reading the kernel's BTF included) or clang on \
the host. *offline insns*: instructions one event of the case executes in krsi's offline machine \
(`krsic test` on the policy's generated `test` items, averaged over the case's paths), a helper \
call counting one. Clang's programs run there too: aya-obj resolves their CO-RE relocations \
against the measured kernel's BTF, as aya does when it loads them, and they run on the kernel \
objects and maps laid out for krsi's program of the same rules (the hook's file, its path, the \
uid, the parent, the report's maps); a C program that decides an event otherwise than the case \
expects fails there. The map designs are not run (their rules are in a map filled after \
loading).\n";
    out += "- **Checked.** Every case checks the decisions: a program that denies a miss or \
allows the last rule's path is reported as wrong, and its time is not used. A program the \
compiler or the kernel refuses is listed as refused, with the reason.\n\n";
    out += "## Running it\n\n```sh\nKRSI_GUEST_CACHE=/path/to/cache scripts/bench --quick   # a few minutes a guest\n\
KRSI_GUEST_CACHE=/path/to/cache scripts/bench --scale   # 10, 100, 1,000 and 10,000 literal and prefix rules\n\
KRSI_GUEST_CACHE=/path/to/cache scripts/bench --globs   # 10 and 1,000 glob and mixed rules\n\
KRSI_GUEST_CACHE=/path/to/cache scripts/bench           # every kind and size; hours under TCG\n\
scripts/bench --native                                  # on the host, outside emulation: open, every kind, 1 to 10,000 rules\n```\n\n\
It installs clang, libbpf-dev and gnuplot when missing, builds krsic and `krsi-bench` (the \
`bench/` crate: `prepare` on the host, `guest` inside the guest, `report` for this page), and \
leaves the generated policies, C sources, objects, manifests and console logs in \
`target/bench/<kernel>/`. A compiler run longer than two minutes counts as refused; a \
workload case stops at its time cap.\n\n";
    if plan.mode != Mode::Native {
        out += LARGE_POLICIES;
    }
    out += "## Machine\n\n";
    let _ = writeln!(out, "- Host: {}", host_description());
    for run in runs {
        if run.manifest.series == NATIVE_SERIES {
            let _ = writeln!(
                out,
                "- Kernel: the host's, `{}`, natively (each decision run by an `iter/task_file` \
                 iterator)",
                run.release
            );
            continue;
        }
        let _ = writeln!(
            out,
            "- Guest {}: `{}` (Debian package {}), QEMU TCG, 2 vCPUs, 2 GiB",
            run.manifest.series,
            if run.release.is_empty() {
                "?"
            } else {
                run.release.as_str()
            },
            run.manifest
                .pin
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let revision = &runs[0].manifest.revision;
    let _ = writeln!(
        out,
        "- Compilers: {}{}; {}",
        runs[0].manifest.krsic,
        if revision.is_empty() {
            String::new()
        } else {
            format!(" (checkout `{revision}`)")
        },
        runs[0].manifest.clang
    );
    let _ = writeln!(
        out,
        "- Mode: {} (rule counts {}; kinds {})\n",
        plan.mode.name(),
        plan.sizes
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        plan.kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    out += "## Ratios\n\n";
    out += "krsi's ns/run over the other design's, same boot, *miss* case (every program \
examines the path), with both times beside. Below 1.0 krsi is faster. Against clang's \
program and the map design, measured in the same rounds as krsi's, a ratio is the median of the \
five rounds' ratios; against the path floor, measured in rounds of its own, the ratio of the \
medians. The last column \
counts instead of timing: the instructions krsi's program and clang's execute on one miss event \
in the offline machine, where a helper call counts one (clang's `bpf_d_path` walks the whole \
path inside its one; krsi reads the names it screens with instructions of its own).\n\n";
    for run in runs {
        case_table(&mut out, run, Case::Miss);
    }
    out += "## Refused events\n\n";
    out += "The *last rule* case: uid 1000 on the path only the last rule matches, which every \
program refuses. Every design reports the refusal the same way (*Designs* above): the first \
100 refusals a second on a CPU send a record, the rest are counted. The workload refuses far \
more often than that, so the times are mostly the rate limit's path, and the offline counts \
(one event, a fresh window) the whole record's. Ratios taken as above.\n\n";
    for run in runs {
        case_table(&mut out, run, Case::LastRule);
    }
    out += "## Early exit\n\n";
    out += "The *root* case: uid 0, where every rule's `uid != 0` decides before any path is \
needed. krsi's ns/run over clang's (which tests the uid first) and over krsi's own one-rule \
program on the *miss* case (the one-condition program); ratios taken as above.\n\n";
    for run in runs {
        early_exit_table(&mut out, run);
    }
    out += "## Plot\n\n";
    match plot_error {
        None => {
            let _ = writeln!(
                out,
                "ns/run of the *miss* case on `open` against the number of rules (log scale), \
one panel per kernel and rule kind.\n\n![ns per run against rule count]({plot_name})\n"
            );
        }
        Some(e) => {
            let _ = writeln!(out, "No plot this time: {}.\n", escape(e));
        }
    }
    for run in runs {
        let _ = writeln!(out, "## {}\n", run.label());
        for &event in &run.manifest.plan.events {
            detail_table(&mut out, run, event);
        }
    }
    out
}

/// Starts a table of `run`'s rule sets under its kernel's name: `columns` after the event and
/// rule set's.
fn table_head(out: &mut String, run: &KernelRun, columns: &[&str]) {
    let _ = writeln!(out, "{}:\n", run.label());
    let _ = writeln!(
        out,
        "| event | rules | {} |\n|---|---|{}",
        columns.join(" | "),
        "---|".repeat(columns.len())
    );
}

/// Every rule set of `run`'s plan: event, kind and size, in the tables' order.
fn rule_sets(run: &KernelRun) -> impl Iterator<Item = (Event, Kind, usize)> + '_ {
    let plan = &run.manifest.plan;
    plan.events.iter().flat_map(move |&event| {
        plan.kinds
            .iter()
            .flat_map(move |&kind| plan.sizes.iter().map(move |&rules| (event, kind, rules)))
    })
}

/// krsi against clang's program and the map design on `case` (the miss or the last rule),
/// beside the offline counts; against the path floor too on a miss, where every program
/// examines the path and none reports.
fn case_table(out: &mut String, run: &KernelRun, case: Case) {
    let floor = case == Case::Miss;
    let offline = match case {
        Case::Miss => "offline insns, miss: krsi / clang",
        _ => "offline insns, last rule: krsi / clang",
    };
    let mut columns = vec!["krsi / clang -O2", "krsi / map design"];
    if floor {
        columns.push("krsi / path floor");
    }
    columns.push(offline);
    table_head(out, run, &columns);
    for (event, kind, rules) in rule_sets(run) {
        let time = |entry| run.time(entry, case);
        let krsi = time(run.entry(event, Design::Krsi, Some(kind), rules));
        let executed = |design| run.executed(event, design, kind, rules, case);
        let _ = write!(
            out,
            "| {} | {rules} {} | {} | {} |",
            event.name(),
            kind.name(),
            ratio(
                krsi,
                time(run.entry(event, Design::Clang, Some(kind), rules))
            ),
            map_ratio(kind, krsi, time(run.map_entry(event, kind, rules))),
        );
        if floor {
            let _ = write!(
                out,
                " {} |",
                ratio(krsi, time(run.entry(event, Design::PathFloor, None, 0)))
            );
        }
        let _ = writeln!(
            out,
            " {} / {} |",
            executed(Design::Krsi),
            executed(Design::Clang)
        );
    }
    out.push('\n');
}

fn early_exit_table(out: &mut String, run: &KernelRun) {
    table_head(
        out,
        run,
        &["krsi root / clang root", "krsi root / krsi 1 rule miss"],
    );
    for (event, kind, rules) in rule_sets(run) {
        let root = |design| run.time(run.entry(event, design, Some(kind), rules), Case::Root);
        let one_rule = run.time(run.entry(event, Design::Krsi, Some(kind), 1), Case::Miss);
        let krsi = root(Design::Krsi);
        let _ = writeln!(
            out,
            "| {} | {rules} {} | {} | {} |",
            event.name(),
            kind.name(),
            ratio(krsi, root(Design::Clang)),
            ratio(krsi, one_rule)
        );
    }
    out.push('\n');
}

/// [`ratio`] over the map design, or why there is none for `kind`.
fn map_ratio(kind: Kind, krsi: Result<Timed, &str>, map: Result<Timed, &str>) -> String {
    if Design::MapPrefix.holds(kind) || Design::MapExact.holds(kind) {
        ratio(krsi, map)
    } else {
        "no map design".into()
    }
}

/// krsi's time over another program's, with both times; or why there is no ratio.
fn ratio(krsi: Result<Timed, &str>, other: Result<Timed, &str>) -> String {
    match (krsi, other) {
        (Ok(a), Ok(b)) if b.ns > 0.0 => {
            format!("**{:.2}** ({:.0} / {:.0} ns)", a.over(&b), a.ns, b.ns)
        }
        (Err(why), _) => format!("— (krsi {why})"),
        (_, Err(why)) => format!("— (the other {why})"),
        (Ok(_), Ok(_)) => "— (the other took no time)".into(),
    }
}

fn detail_table(out: &mut String, run: &KernelRun, event: Event) {
    let cases: Vec<&str> = Case::ALL.iter().map(|c| c.name()).collect();
    let _ = writeln!(
        out,
        "### {} ({})\n\n| program | rules | ns/run: {} | offline insns per event: {} | verified insns | xlated / JIT bytes | kernel memory | load | compile |\n|---|---|---|---|---|---|---|---|---|---|---|",
        event.name(),
        event.hook(),
        cases.join(" | "),
        cases.join(" / "),
    );
    for entry in run.manifest.entries.iter().filter(|e| e.event == event) {
        let rules = match entry.kind {
            Some(kind) => format!("{} {}", entry.rules, kind.name()),
            None => "—".into(),
        };
        let compile = entry
            .compile_ms
            .map(|ms| format!("{ms:.0} ms"))
            .unwrap_or_else(|| "—".into());
        let refused = entry.refused.clone().or_else(|| {
            run.measured
                .get(&entry.id)
                .and_then(|m| m.refused.clone())
                .map(|r| format!("kernel: {r}"))
        });
        if let Some(reason) = refused {
            let _ = writeln!(
                out,
                "| {} | {rules} | refused: {} | | | | | | | | {compile} |",
                entry.design.name(),
                escape(&reason)
            );
            continue;
        }
        let Some(m) = run.measured.get(&entry.id) else {
            let _ = writeln!(
                out,
                "| {} | {rules} | not measured (no result from the run) | | | | | | | | {compile} |",
                entry.design.name()
            );
            continue;
        };
        let cell = |case: Case| match run.case(entry, case) {
            Some(result) => match (&result.wrong, result.ns_per_run()) {
                (Some(wrong), _) => format!("wrong: {}", escape(wrong)),
                (None, Some(ns)) => format!("{ns:.0} ({} runs)", result.run_cnt),
                (None, None) => "no runs".into(),
            },
            None => "—".into(),
        };
        let offline = if matches!(entry.design, Design::Krsi | Design::Clang) {
            match &entry.offline_error {
                Some(e) => format!("failed: {}", escape(e)),
                None => Case::ALL
                    .iter()
                    .map(|c| {
                        entry
                            .offline
                            .iter()
                            .find(|(case, _)| case == c)
                            .map(|(_, n)| format!("{n:.0}"))
                            .unwrap_or_else(|| "—".into())
                    })
                    .collect::<Vec<_>>()
                    .join(" / "),
            }
        } else {
            "not run".into()
        };
        let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(|| "—".into());
        let _ = writeln!(
            out,
            "| {} | {rules} | {} | {} | {} | {offline} | {} | {} / {} | {} | {} | {compile} |",
            entry.design.name(),
            cell(Case::Miss),
            cell(Case::LastRule),
            cell(Case::Root),
            opt(m.verified_insns),
            opt(m.xlated_bytes),
            opt(m.jited_bytes),
            kernel_memory(m),
            m.load_ms
                .map(|ms| format!("{ms:.0} ms"))
                .unwrap_or_else(|| "—".into()),
        );
    }
    out.push('\n');
}

/// A table cell: no `|`, no line breaks, not too long.
fn escape(text: &str) -> String {
    let mut flat: String = text
        .replace('|', "\\|")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if flat.chars().count() > 280 {
        flat = flat.chars().take(277).collect::<String>() + "...";
    }
    flat
}

fn host_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpu}, {cores} cores shared with other work, Linux {}",
        kernel.trim()
    )
}

/// An SVG with one panel per kernel and rule kind (open, miss case): ns/run against the
/// rule count for each design, the empty program and the path floor as flat lines.
fn draw_plot(stage: &Path, plot: &Path, runs: &[KernelRun]) -> Result<(), String> {
    let kinds: Vec<Kind> = runs[0]
        .manifest
        .plan
        .kinds
        .iter()
        .copied()
        .filter(|k| matches!(k, Kind::Literal | Kind::Prefix))
        .collect();
    let mut script = format!(
        "set terminal svg size {},{} dynamic font 'sans,11'\nset output '{}'\n\
         set multiplot layout {},{}\nset logscale x\nset key top left font ',9'\n\
         set xlabel 'rules'\nset ylabel 'ns/run (TCG)'\nset datafile missing '?'\n",
        420 * kinds.len().max(1),
        340 * runs.len(),
        plot.display(),
        runs.len(),
        kinds.len().max(1)
    );
    for run in runs {
        for &kind in &kinds {
            let data = stage.join(format!("plot-{}-{}.dat", run.manifest.series, kind.name()));
            let map = if kind == Kind::Prefix {
                Design::MapPrefix
            } else {
                Design::MapExact
            };
            let flat = |design| {
                run.time(run.entry(Event::Open, design, None, 0), Case::Miss)
                    .ok()
            };
            let (empty, floor) = (flat(Design::Empty), flat(Design::PathFloor));
            let mut text = String::from("# rules empty floor clang map krsi\n");
            for &rules in &run.manifest.plan.sizes {
                let ns = |design| {
                    run.time(
                        run.entry(Event::Open, design, Some(kind), rules),
                        Case::Miss,
                    )
                    .ok()
                };
                let cell =
                    |v: Option<Timed>| v.map(|v| format!("{:.0}", v.ns)).unwrap_or("?".into());
                let _ = writeln!(
                    text,
                    "{rules} {} {} {} {} {}",
                    cell(empty),
                    cell(floor),
                    cell(ns(Design::Clang)),
                    cell(ns(map)),
                    cell(ns(Design::Krsi))
                );
            }
            std::fs::write(&data, text).map_err(|e| format!("{}: {e}", data.display()))?;
            let d = data.display();
            let _ = writeln!(
                script,
                "set title '{}: open, {} rules, miss'\n\
                 plot '{d}' using 1:2 with lines dt 2 lc rgb '#888888' title 'empty', \
                 '{d}' using 1:3 with lines dt 3 lc rgb '#444444' title 'path floor', \
                 '{d}' using 1:4 with linespoints lc rgb '#1f77b4' title 'clang -O2', \
                 '{d}' using 1:5 with linespoints lc rgb '#ff7f0e' title '{}', \
                 '{d}' using 1:6 with linespoints lw 2 lc rgb '#d62728' title 'krsi'",
                run.manifest.series,
                kind.name(),
                map.name()
            );
        }
    }
    script += "unset multiplot\n";
    let script_path = stage.join("plot.gp");
    std::fs::write(&script_path, script).map_err(|e| format!("{}: {e}", script_path.display()))?;
    let output = Command::new("gnuplot")
        .arg(&script_path)
        .output()
        .map_err(|e| format!("cannot run gnuplot: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "gnuplot failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(())
}

/// How large literal sets are compiled, and what was measured of them when the design was
/// chosen (outside a benchmark run: the tables below say what this run measured).
/// How a native run differs from the guests' (`scripts/bench --native`).
const NATIVE_INTRO: &str = "This page is written by `scripts/bench --native`. It times the \
same programs as the guest runs (performance.md, performance-scale.md), on `open`, on the host's \
own kernel outside emulation, where the guests' pages read ratios under QEMU's TCG emulator \
(which runs kernel C 13-15x slower than native and compare-heavy BPF 7-9x: KERNEL.md, \"Cost \
facts\"). The host refuses LSM programs but loads iterators, so each design's decision is built \
as a function that an `iter/task_file` iterator calls on every open file of one process: \
krsi's by `krsic build --attach task-file-iter`, which calls the `file_open` program's code \
unchanged, and the C designs by the same wrapper around the same C. A holder process keeps the \
case's paths open, 256 files over them in turn and nothing else; the iterator is bound to it; \
a reader with the case's uid reads the iterator pass after pass, so that each pass runs the \
decision once per file with the reader as the current process. A refusal comes back through the \
iterator's output as the wrapper's 4-byte `-errno`, and every case checks the decisions as the \
guests do. Times come from the kernel's statistics over the workload only, and include the \
wrapper (a NULL test and a call, the same in every design) and one run in 257 with no file, \
which returns at once. The programs of one rule set are measured in five interleaved rounds, as \
in the guests. The host is a shared 2-core virtual machine, so allow some noise still; the exact \
counts beside the times are the host verifier's and krsi's offline machine's (which runs each \
decision on its hook: the same code).\n\n";

const LARGE_POLICIES: &str = "## Large policies\n\n\
A run of exact paths or directory prefixes compiles to a decision tree (binary searches on the \
length and on 8-byte words), and a tree past 6,000 instructions is cut into BPF functions of \
at most 8,000 each, called from the program (bpf-to-bpf), whose leaves record the matched rule \
in the scratch map for one shared report-and-refuse exit (architecture page, \"Code \
generation\"). Chosen over a sorted hash table in a read-only array map: the tree needs no \
hash of the path per event and no kernel memory (the table would hold 16 bytes a rule), and the \
verifier walks each emitted instruction once. Measured when it was built (commit after \
`d48c187`; host compile times on a loaded 2-core machine, CPU time): 10,000 exact paths \
(`path == \"/srv/appN/bin/tool\" and uid != 0`) compile in 0.18 s to 110,479 instructions, \
10,000 prefixes in 0.44 s to 80,416; the offline machine executes 139–161 instructions on a \
listed path and 29–50 on a miss at 10,000 rules, against 127–129 and 27 at 10 rules \
(prefixes: 131–264 and 30–157, against 126–128 and 44; since each length's prefix search is \
guarded by the byte its prefixes share last, a miss at 10,000 prefixes runs 43–108 against \
43–61 at 10, where it ran up to 171). Both load as one policy and refuse a \
listed path in the 6.1 and 6.12 guests (kernel test `scale`). Globs that each begin with a \
literal of their own (the *glob* kind: `/srv/appN/bin/t*l`) are found by a search of those \
literals with the same trie, and one small automaton of what follows them scans the path's \
tail (`lang::dispatch`): 1,000 of them compile in 0.75 s (release build) where one merged \
automaton held 372, and cost the verifier 154,894 processed instructions against 116,013 for \
7 merged ones (kernel test `globs_at_scale`). Rules of the three kinds in turn (the *mix*) \
form one mixed run when no path can match rules of two kinds (`lang::runs`): each kind's rules \
are searched as above, one kind after the other; 1,000 of them, which E0207 refused before, \
compile in 0.42 s (release build) to 13,120 instructions and cost the verifier 148,165 \
processed instructions on 6.1 and 176,353 on 6.12. Compile times at `1c685a7` (release \
build, wall time on the idle 2-core machine, policies as the benchmark writes them): 10,000 \
exact paths 0.36 s, 10,000 prefixes 0.45 s, 1,000 globs 0.22 s, 1,000 of the mix 0.13 s. The \
prefixes took 1.37 s before the checker stopped building each trie-shaped pattern's automaton \
to know it fits and the duplicate lint stopped trying pairs of rules whose literal prefixes \
diverge (`lang::lint::prefixes`). Times at 1,000 and 10,000 rules \
come from a full run, `scripts/bench --scale` (its own page: [Performance at \
scale](performance-scale.md)) or `scripts/bench --globs` ([Performance of \
globs](performance-globs.md)); the mode line below says which sizes this run measured.\n\n";

/// The kernel memory cell: programs and maps, the maps' share, and the ring buffers apart.
fn kernel_memory(m: &Measurement) -> String {
    let kib = |bytes: u64| bytes as f64 / 1024.0;
    let Some(total) = m.memlock_bytes else {
        return "—".into();
    };
    let mut cell = format!("{:.1} KiB", kib(total));
    if let Some(maps) = m.map_memlock_bytes {
        cell += &format!(" (maps {:.1} KiB)", kib(maps));
    }
    if let Some(rings) = m.ringbuf_bytes.filter(|&r| r > 0) {
        cell += &format!(" + {:.0} KiB ring", kib(rings));
    }
    cell
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Plan;

    fn entry(id: &str, design: Design, kind: Option<Kind>, rules: usize) -> Entry {
        Entry {
            id: id.into(),
            event: Event::Open,
            design,
            kind,
            rules,
            object: Some(format!("{id}.o")),
            targets: Vec::new(),
            map_keys: Vec::new(),
            refused: None,
            compile_ms: Some(12.0),
            offline: vec![
                (Case::Miss, 26.0),
                (Case::LastRule, 104.0),
                (Case::Root, 26.0),
            ],
            offline_error: None,
        }
    }

    fn measured(id: &str, miss_ns: u64, wrong: Option<&str>) -> Measurement {
        Measurement {
            id: id.into(),
            cases: Case::ALL
                .iter()
                .map(|&case| CaseResult {
                    case,
                    events: 10,
                    denied: 0,
                    run_cnt: 10,
                    run_time_ns: 10 * miss_ns,
                    round_ns: vec![miss_ns as f64, 1e9, miss_ns as f64],
                    wrong: (case == Case::Miss)
                        .then_some(wrong)
                        .flatten()
                        .map(Into::into),
                })
                .collect(),
            ..Measurement::default()
        }
    }

    fn run() -> KernelRun {
        let mut plan = Plan::new(Mode::Quick);
        plan.kinds = vec![Kind::Literal];
        plan.sizes = vec![10];
        let mut refused = entry("krsi-big", Design::Krsi, Some(Kind::Literal), 10);
        refused.object = None;
        refused.refused = Some("krsic: error[E0207]: the rules of `open` are too large".into());
        let manifest = Manifest {
            series: "6.12".into(),
            pin: "linux-image-x 6.12.1 6.12.1-amd64 sha256:00".into(),
            plan,
            krsic: "krsic 0.1.0".into(),
            revision: "abc1234".into(),
            clang: "clang 14".into(),
            entries: vec![
                entry("floor", Design::PathFloor, None, 0),
                entry("clang", Design::Clang, Some(Kind::Literal), 10),
                entry("map", Design::MapExact, Some(Kind::Literal), 10),
                refused,
            ],
        };
        let measured = [
            measured("floor", 500, None),
            measured("clang", 1000, None),
            measured("map", 4000, Some("denied 3 of 10 events, expected 0")),
        ]
        .into_iter()
        .map(|m| (m.id.clone(), m))
        .collect();
        KernelRun {
            manifest,
            release: "6.12.1-amd64".into(),
            measured,
        }
    }

    #[test]
    fn refusals_and_wrong_decisions_are_shown_not_dropped() {
        let page = render(&[run()], "performance.svg", None);
        assert!(page.contains("| krsi | 10 literal | refused: krsic: error[E0207]"));
        assert!(page.contains("wrong: denied 3 of 10 events, expected 0"));
        // The median round, not the mean spoiled by the 1 s round.
        assert!(page.contains("| clang -O2 | 10 literal | 1000 (10 runs)"));
        assert!(page.contains("| open | 10 literal | — (krsi refused by its compiler) |"));
    }

    #[test]
    fn refused_events_are_compared_on_the_last_rule_case() {
        let mut run = run();
        let krsi = run.manifest.entries.last_mut().unwrap();
        (krsi.object, krsi.refused) = (Some("krsi-big.o".into()), None);
        let mut measured = measured("krsi-big", 600, None);
        measured.cases.retain(|c| c.case == Case::LastRule);
        run.measured.insert(measured.id.clone(), measured);
        let page = render(&[run], "performance.svg", None);
        let refused = &page[page.find("## Refused events").unwrap()..];
        // The map design decided the miss case wrong, not the refused one.
        assert!(
            refused.contains(
                "| open | 10 literal | **0.60** (600 / 1000 ns) | **0.15** (600 / 4000 ns) | 104 / 104 |"
            ),
            "{refused}"
        );
        // The miss case's table reads the miss case only.
        assert!(page.contains("| open | 10 literal | — (krsi not measured) |"));
    }

    #[test]
    fn a_native_run_is_the_hosts_and_has_only_its_events() {
        let mut run = run();
        run.manifest.series = NATIVE_SERIES.into();
        run.manifest.pin = "host kernel 6.18.44-host".into();
        run.manifest.plan = Plan::new(Mode::Native);
        run.release.clear();
        let page = render(&[run], "performance-native.svg", None);
        assert!(page.starts_with("# Performance, natively\n"), "{page}");
        assert!(
            page.contains("written by `scripts/bench --native`"),
            "{page}"
        );
        assert!(page.contains("Host, natively:\n"), "{page}");
        assert!(page.contains("## Host, natively\n"), "{page}");
        assert!(
            !page.contains("| exec |") && !page.contains("Guest"),
            "{page}"
        );
        assert!(!page.contains("## Large policies"), "{page}");
        // The release a guest would print, the native run's pin names.
        let release = |run: &KernelRun| run.release.clone();
        let stage = std::env::temp_dir().join(format!("krsi-bench-native-{}", std::process::id()));
        let dir = stage.join(NATIVE_SERIES);
        std::fs::create_dir_all(&dir).unwrap();
        let mut manifest = self::run().manifest;
        manifest.series = NATIVE_SERIES.into();
        manifest.pin = "host kernel 6.18.44-host".into();
        std::fs::write(
            dir.join(MANIFEST),
            serde_json::to_string(&manifest).unwrap(),
        )
        .unwrap();
        let runs = read_runs(&stage).unwrap();
        std::fs::remove_dir_all(&stage).unwrap();
        assert_eq!(
            runs.iter().map(release).collect::<Vec<_>>(),
            ["6.18.44-host"]
        );
    }

    #[test]
    fn a_missing_plot_is_explained() {
        let page = render(&[run()], "performance.svg", Some("gnuplot failed: no data"));
        assert!(page.contains("No plot this time: gnuplot failed: no data."));
        assert!(!page.contains("![ns per run"));
    }

    fn timed(rounds: &[f64], rules: usize) -> Timed<'_> {
        Timed {
            ns: median(rounds.to_vec()).unwrap_or_default(),
            rounds,
            group: (Event::Open, Some(Kind::Literal), rules),
        }
    }

    #[test]
    fn ratios_carry_both_times() {
        let (krsi, map) = ([500.0], [1000.0]);
        assert_eq!(
            ratio(Ok(timed(&krsi, 10)), Ok(timed(&map, 10))),
            "**0.50** (500 / 1000 ns)"
        );
        assert_eq!(
            ratio(Err("refused by its compiler"), Ok(timed(&map, 10))),
            "— (krsi refused by its compiler)"
        );
        assert_eq!(
            ratio(Ok(timed(&krsi, 10)), Err("decided wrong")),
            "— (the other decided wrong)"
        );
    }

    #[test]
    fn designs_measured_in_the_same_rounds_are_compared_round_by_round() {
        // The host slowed down in rounds 3 and 4 for both designs alike, and in round 5 for
        // the map design alone: four rounds' ratios are 0.5, the medians' is 500 / 4000.
        let krsi = [500.0, 500.0, 2000.0, 2000.0, 500.0];
        let map = [1000.0, 1000.0, 4000.0, 4000.0, 4000.0];
        assert_eq!(
            ratio(Ok(timed(&krsi, 10)), Ok(timed(&map, 10))),
            "**0.50** (500 / 4000 ns)"
        );
        // Designs of other rule sets ran in other rounds: the medians are compared.
        assert_eq!(
            ratio(Ok(timed(&krsi, 10)), Ok(timed(&map, 100))),
            "**0.12** (500 / 4000 ns)"
        );
    }

    #[test]
    fn kernel_memory_shows_the_maps_share_and_the_rings_apart() {
        let mut m = measured("krsi", 500, None);
        assert_eq!(kernel_memory(&m), "—");
        m.memlock_bytes = Some(40 * 1024);
        m.ringbuf_bytes = Some(0);
        assert_eq!(kernel_memory(&m), "40.0 KiB");
        m.map_memlock_bytes = Some(12 * 1024 + 512);
        m.ringbuf_bytes = Some(269 * 1024);
        assert_eq!(kernel_memory(&m), "40.0 KiB (maps 12.5 KiB) + 269 KiB ring");
    }
}
