//! What the host half hands the guest half (one manifest per guest kernel), and what the
//! guest half prints back.

use crate::workload::{Case, Design, Event, Kind, Plan};
use serde::{Deserialize, Serialize};

/// The file name of the manifest in a kernel's stage directory.
pub const MANIFEST: &str = "manifest.json";
/// The series of a native run's manifest: the host's own kernel.
pub const NATIVE_SERIES: &str = "host";
/// The prefix of every result line the guest prints on its console.
pub const RESULT_MARKER: &str = "KRSI-BENCH ";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// The guest kernel series (6.1, 6.12) the objects were compiled for.
    pub series: String,
    /// The harness's pin of that kernel (package, version, release).
    pub pin: String,
    pub plan: Plan,
    pub krsic: String,
    /// `git describe --always --dirty` of the checkout whose krsic was measured.
    #[serde(default)]
    pub revision: String,
    pub clang: String,
    pub entries: Vec<Entry>,
}

/// One program of the comparison.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// Unique, and the stem of its files.
    pub id: String,
    pub event: Event,
    pub design: Design,
    /// `None` for the designs without rules (empty, path floor).
    pub kind: Option<Kind>,
    pub rules: usize,
    /// The ELF object in the stage directory, when it compiled.
    pub object: Option<String>,
    pub targets: Vec<Target>,
    /// Keys the guest puts into the map design's rule map.
    pub map_keys: Vec<String>,
    /// Why the compiler refused the program.
    pub refused: Option<String>,
    /// Wall-clock milliseconds of the compiler (`krsic build` or clang) on the host.
    pub compile_ms: Option<f64>,
    /// Mean instructions executed per event of each case in krsi's offline machine.
    pub offline: Vec<(Case, f64)>,
    /// Why the offline machine gave no counts.
    pub offline_error: Option<String>,
}

impl Entry {
    /// The rules it decides, which the designs compared with each other share: the guest
    /// measures the programs of one rule set in the same rounds.
    pub fn rule_set(&self) -> (Event, Option<Kind>, usize) {
        (self.event, self.kind, self.rules)
    }
}

/// A program of an object and the hook it attaches to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    pub symbol: String,
    pub hook: String,
}

/// What the guest measured for one entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Measurement {
    pub id: String,
    /// Why the kernel refused the program (verifier log tail or load error).
    pub refused: Option<String>,
    pub load_ms: Option<f64>,
    pub verified_insns: Option<u32>,
    pub xlated_bytes: Option<u32>,
    pub jited_bytes: Option<u32>,
    /// Memory the kernel charged the programs and their maps (fdinfo `memlock`), in bytes,
    /// ring buffers apart.
    pub memlock_bytes: Option<u64>,
    /// Of `memlock_bytes`, what the maps take (the rest is the programs' code). Absent from
    /// results written before it was measured.
    #[serde(default)]
    pub map_memlock_bytes: Option<u64>,
    pub ringbuf_bytes: Option<u64>,
    pub cases: Vec<CaseResult>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseResult {
    pub case: Case,
    /// Events issued by the workload and how many the kernel refused.
    pub events: u64,
    pub denied: u64,
    /// The kernel's statistics over the workload: program runs and their total time.
    pub run_cnt: u64,
    pub run_time_ns: u64,
    /// ns/run of each measured round.
    #[serde(default)]
    pub round_ns: Vec<f64>,
    /// Set when the decisions were not the rule set's (a wrong program, not a slow one).
    pub wrong: Option<String>,
}

impl CaseResult {
    /// The median round's ns/run (the overall mean when there are no rounds).
    pub fn ns_per_run(&self) -> Option<f64> {
        median(self.round_ns.clone())
            .or_else(|| (self.run_cnt > 0).then(|| self.run_time_ns as f64 / self.run_cnt as f64))
    }
}

/// The middle value (the mean of the middle two of an even count).
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}
