//! What is measured: the events, the rule sets, the designs, and the paths the workload
//! touches. Shared by the host half (which compiles rules into programs) and the guest half
//! (which creates the paths and runs the workload), so both read the same definitions.

use serde::{Deserialize, Serialize};

/// The event a program decides, with its LSM hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Open,
    Exec,
}

impl Event {
    pub const ALL: [Event; 2] = [Event::Open, Event::Exec];

    /// The word the policy language uses.
    pub fn name(self) -> &'static str {
        match self {
            Event::Open => "open",
            Event::Exec => "exec",
        }
    }

    pub fn hook(self) -> &'static str {
        match self {
            Event::Open => "file_open",
            Event::Exec => "bprm_check_security",
        }
    }
}

/// The shape of every rule of a rule set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `path == "/srv/appN/bin/tool"`
    Literal,
    /// `path ~ "/srv/appN/**"`
    Prefix,
    /// `path ~ "/srv/appN/bin/t*l"`
    Glob,
    /// literal, prefix and glob rules in turn.
    Mix,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Literal, Kind::Prefix, Kind::Glob, Kind::Mix];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Literal => "literal",
            Kind::Prefix => "prefix",
            Kind::Glob => "glob",
            Kind::Mix => "mix",
        }
    }

    /// The shape of rule `index` of a set of this kind.
    pub fn rule(self, index: usize) -> Rule {
        let dir = format!("/srv/app{index}/");
        let shape = match self {
            Kind::Literal => Kind::Literal,
            Kind::Prefix => Kind::Prefix,
            Kind::Glob => Kind::Glob,
            Kind::Mix => [Kind::Literal, Kind::Prefix, Kind::Glob][index % 3],
        };
        match shape {
            Kind::Prefix => Rule::Prefix(dir),
            Kind::Glob => Rule::Glob {
                prefix: format!("{dir}bin/t"),
                suffix: "l".into(),
            },
            Kind::Literal | Kind::Mix => Rule::Literal(format!("{dir}bin/tool")),
        }
    }
}

/// One rule: every rule denies its paths to non-root processes (`... and uid != 0`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The whole path.
    Literal(String),
    /// Every path under this directory (ends in `/`).
    Prefix(String),
    /// `prefix*suffix` where `*` matches no `/`.
    Glob { prefix: String, suffix: String },
}

impl Rule {
    /// The rule's path test in the policy language.
    pub fn krsi_test(&self) -> String {
        match self {
            Rule::Literal(path) => format!("path == \"{path}\""),
            Rule::Prefix(dir) => format!("path ~ \"{dir}**\""),
            Rule::Glob { prefix, suffix } => format!("path ~ \"{prefix}*{suffix}\""),
        }
    }
}

/// The file every rule set's last rule denies: the workload of [`Case::LastRule`].
pub fn last_rule_target(rules: usize) -> String {
    format!("/srv/app{}/bin/tool", rules.saturating_sub(1))
}

/// Paths no rule of any set matches, all starting like the rules' paths (so that matching
/// must read into them) and of similar lengths. The miss workload opens or executes them in
/// turn.
pub const MISS_PATHS: [&str; 4] = [
    "/srv/app/bin/tool",
    "/srv/appx/bin/tool",
    "/srv/app99999/bin/tool",
    "/usr/lib/bench/tool",
];

/// How a program's rules are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Design {
    /// `return 0`: the cost of running any program on the hook.
    Empty,
    /// Resolves the path with `bpf_d_path` and returns: the limit a compiled decision
    /// approaches.
    PathFloor,
    /// The rules written as C, compiled by clang -O2.
    Clang,
    /// Tetragon and KubeArmor's generic program: resolve the path, then look every prefix of
    /// it (at each `/`) up in a hash map of rule directories.
    MapPrefix,
    /// The generic program for exact paths: one hash-map lookup of the whole path.
    MapExact,
    /// The policy compiled by krsic.
    Krsi,
}

impl Design {
    pub fn name(self) -> &'static str {
        match self {
            Design::Empty => "empty",
            Design::PathFloor => "path floor",
            Design::Clang => "clang -O2",
            Design::MapPrefix => "map: prefix walk",
            Design::MapExact => "map: exact hash",
            Design::Krsi => "krsi",
        }
    }

    /// Whether the design can hold rule sets of `kind` (the map designs hold one shape each).
    pub fn holds(self, kind: Kind) -> bool {
        match self {
            Design::MapPrefix => kind == Kind::Prefix,
            Design::MapExact => kind == Kind::Literal,
            Design::Clang | Design::Krsi => true,
            Design::Empty | Design::PathFloor => false,
        }
    }
}

/// One workload run against an attached program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// uid 1000 on [`MISS_PATHS`]: every program must examine the path and allow.
    Miss,
    /// uid 1000 on [`last_rule_target`]: denied by the last rule.
    LastRule,
    /// uid 0 on [`MISS_PATHS`]: every rule's cheap `uid != 0` test can decide early.
    Root,
}

impl Case {
    pub const ALL: [Case; 3] = [Case::Miss, Case::LastRule, Case::Root];

    pub fn name(self) -> &'static str {
        match self {
            Case::Miss => "miss (uid 1000)",
            Case::LastRule => "last rule (uid 1000)",
            Case::Root => "root (uid 0)",
        }
    }

    pub fn uid(self) -> u32 {
        match self {
            Case::Miss | Case::LastRule => 1000,
            Case::Root => 0,
        }
    }

    /// The paths the workload cycles through for a set of `rules` rules.
    pub fn paths(self, rules: usize) -> Vec<String> {
        match self {
            Case::Miss | Case::Root => MISS_PATHS.iter().map(|p| p.to_string()).collect(),
            Case::LastRule => vec![last_rule_target(rules)],
        }
    }

    /// Whether a program with rules denies this case's events.
    pub fn denied_with_rules(self) -> bool {
        self == Case::LastRule
    }
}

/// Which sizes a run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Literal and prefix rules at 1, 10 and 100: a few minutes a guest.
    Quick,
    /// Literal and prefix rules at 10, 100, 1,000 and 10,000: what one policy costs as it grows, beside
    /// the map design, without the hours of the full run.
    Scale,
    /// Glob and mixed rules at 10 and 1,000, beside clang: globs found by their literal
    /// prefix, where one merged automaton held at most 372.
    Globs,
    /// Every kind at 1, 10, 100, 1,000 and 10,000 rules.
    Full,
    /// Every kind at 1, 10, 100, 1,000 and 10,000 rules, on open, timed natively on the
    /// host: each program's decision called by an iterator over a process's open files
    /// (`krsic build --attach task-file-iter`), where the host refuses LSM programs.
    Native,
}

impl Mode {
    /// The flag that asks for it (`scripts/bench --quick`); "" for the full run.
    pub fn flag(self) -> &'static str {
        match self {
            Mode::Quick => " --quick",
            Mode::Scale => " --scale",
            Mode::Globs => " --globs",
            Mode::Full => "",
            Mode::Native => " --native",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Quick => "quick",
            Mode::Scale => "scale",
            Mode::Globs => "globs",
            Mode::Full => "full",
            Mode::Native => "native",
        }
    }
}

/// The sizes measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub mode: Mode,
    pub events: Vec<Event>,
    pub kinds: Vec<Kind>,
    pub sizes: Vec<usize>,
    /// Events per workload case: opens are cheap, each exec forks a process.
    pub open_iterations: u32,
    pub exec_iterations: u32,
    /// A case stops early after this long (TCG makes large programs slow).
    pub case_cap_ms: u64,
}

impl Plan {
    pub fn new(mode: Mode) -> Plan {
        match mode {
            Mode::Quick => Plan {
                mode,
                events: Event::ALL.to_vec(),
                kinds: vec![Kind::Literal, Kind::Prefix],
                sizes: vec![1, 10, 100],
                open_iterations: 2000,
                exec_iterations: 60,
                case_cap_ms: 4000,
            },
            Mode::Scale => Plan {
                mode,
                events: Event::ALL.to_vec(),
                kinds: vec![Kind::Literal, Kind::Prefix],
                sizes: vec![10, 100, 1000, 10_000],
                open_iterations: 2000,
                exec_iterations: 60,
                case_cap_ms: 6000,
            },
            Mode::Globs => Plan {
                mode,
                events: Event::ALL.to_vec(),
                kinds: vec![Kind::Glob, Kind::Mix],
                sizes: vec![10, 1000],
                open_iterations: 2000,
                exec_iterations: 60,
                case_cap_ms: 6000,
            },
            Mode::Full => Plan {
                mode,
                events: Event::ALL.to_vec(),
                kinds: Kind::ALL.to_vec(),
                sizes: vec![1, 10, 100, 1000, 10_000],
                open_iterations: 3000,
                exec_iterations: 90,
                case_cap_ms: 6000,
            },
            // Natively a decision takes a microsecond, not tens: many more events, each
            // one file of the iterated process.
            Mode::Native => Plan {
                mode,
                events: vec![Event::Open],
                kinds: Kind::ALL.to_vec(),
                sizes: vec![1, 10, 100, 1000, 10_000],
                open_iterations: 500_000,
                exec_iterations: 0,
                case_cap_ms: 6000,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_rule_target_is_matched_by_every_shape_of_the_last_rule() {
        for kind in Kind::ALL {
            for rules in [1, 10, 100] {
                let target = last_rule_target(rules);
                let rule = kind.rule(rules - 1);
                assert!(rule_matches(&rule, &target), "{kind:?} {rules}: {rule:?}");
                for miss in MISS_PATHS {
                    for i in 0..rules {
                        assert!(!rule_matches(&kind.rule(i), miss), "{miss} {i}");
                    }
                }
            }
        }
    }

    fn rule_matches(rule: &Rule, path: &str) -> bool {
        match rule {
            Rule::Literal(p) => p == path,
            Rule::Prefix(dir) => path.starts_with(dir.as_str()),
            Rule::Glob { prefix, suffix } => {
                path.len() >= prefix.len() + suffix.len()
                    && path.starts_with(prefix.as_str())
                    && path.ends_with(suffix.as_str())
                    && !path[prefix.len()..path.len() - suffix.len()].contains('/')
            }
        }
    }
}
