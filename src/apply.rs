//! `krsic apply DIR`: the directory is the desired state of the pinned policies it manages.
//!
//! A pinned policy is managed by DIR when it was pinned from a file in DIR (its record keeps
//! the file's absolute path). Applying compares each `DIR/*.krsi` with what is pinned:
//!
//! - a name not pinned is loaded and pinned;
//! - a name pinned from DIR whose file changed (its SHA-256, or the compiler that pinned it) is
//!   replaced without a gap, as `krsic load --pin` replaces;
//! - a name pinned from DIR whose file is unchanged is not touched (its programs stay loaded);
//! - a name pinned from DIR whose file is gone is unloaded;
//! - a name pinned from elsewhere is left alone, and a file of DIR claiming it fails.
//!
//! Each policy is all-or-nothing, and a policy that fails (errors, a verifier rejection) keeps
//! its previous version enforced while the others proceed. The exit status is 1 when any policy
//! failed.

use crate::commands::{self, LoadOptions};
use crate::error::Error;
use crate::record::{self, PolicyRecord};
use crate::{MessageFormat, Output};
use runtime::PinRoot;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub struct ApplyOptions<'a> {
    pub btf: Option<&'a Path>,
    pub bpffs: &'a Path,
    pub dry_run: bool,
    pub format: MessageFormat,
}

/// What applying does to one policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Load {
        name: String,
        file: PathBuf,
    },
    Replace {
        name: String,
        file: PathBuf,
        why: String,
    },
    Keep {
        name: String,
    },
    Unload {
        name: String,
    },
    /// Cannot be applied; the reason.
    Refuse {
        name: String,
        file: PathBuf,
        why: String,
    },
}

/// A policy file of DIR: its name (the `policy NAME` header, else the file's stem) and hash.
#[derive(Clone, Debug)]
pub struct Desired {
    pub name: String,
    pub file: PathBuf,
    pub sha256: String,
}

/// A pinned policy as its record tells it.
#[derive(Clone, Debug)]
pub struct Pinned {
    pub name: String,
    pub file: String,
    pub sha256: String,
    pub compiler: String,
}

/// The steps that make what is pinned equal to `desired`, for the policies `dir` manages.
pub fn plan(dir: &Path, desired: &[Desired], pinned: &[Pinned]) -> Vec<Step> {
    let managed = |p: &Pinned| manages(dir, &p.file);
    let pinned_by_name: BTreeMap<&str, &Pinned> =
        pinned.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut claims: BTreeMap<&str, usize> = BTreeMap::new();
    for d in desired {
        *claims.entry(d.name.as_str()).or_default() += 1;
    }
    let mut steps = Vec::new();
    for d in desired {
        let (name, file) = (d.name.clone(), d.file.clone());
        if claims[d.name.as_str()] > 1 {
            steps.push(Step::Refuse {
                name,
                file,
                why: "another file of the directory has the same policy name".into(),
            });
            continue;
        }
        steps.push(match pinned_by_name.get(d.name.as_str()) {
            None => Step::Load { name, file },
            Some(p) if !managed(p) => Step::Refuse {
                name,
                file,
                why: format!(
                    "a policy of that name is pinned from `{}`, not from this directory; \
                     `krsic unload {}` it first",
                    p.file, p.name
                ),
            },
            Some(p) if p.sha256 != d.sha256 => Step::Replace {
                name,
                file,
                why: format!(
                    "changed: sha256 {} → {}",
                    short(&p.sha256),
                    short(&d.sha256)
                ),
            },
            Some(p) if p.compiler != record::COMPILER => Step::Replace {
                name,
                file,
                why: format!("pinned by {}, this is {}", p.compiler, record::COMPILER),
            },
            Some(_) => Step::Keep { name },
        });
    }
    for p in pinned {
        if managed(p) && !claims.contains_key(p.name.as_str()) {
            steps.push(Step::Unload {
                name: p.name.clone(),
            });
        }
    }
    steps
}

/// Whether the policy pinned from `file` (as its record names it) is managed by `dir`.
pub fn manages(dir: &Path, file: &str) -> bool {
    Path::new(file).parent() == Some(dir)
}

fn short(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

fn desired_policies(dir: &Path) -> Result<Vec<Desired>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|error| Error::Read {
        path: dir.to_path_buf(),
        error,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "krsi") && p.is_file())
        .collect();
    files.sort();
    let mut desired = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|error| Error::Read {
            path: file.clone(),
            error,
        })?;
        let sha256: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // The name as `krsic load` gives it: the header, else the stem. A file that does not
        // parse keeps its stem here and fails when it is loaded, with its diagnostics.
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let header = std::str::from_utf8(&bytes).ok().and_then(|text| {
            let (policy, _) = lang::syntax::parse(text);
            policy?.items.into_iter().find_map(|item| match item {
                lang::ast::Item::PolicyName { name, .. } => Some(name.text),
                _ => None,
            })
        });
        desired.push(Desired {
            name: header.unwrap_or(stem),
            file,
            sha256,
        });
    }
    Ok(desired)
}

pub fn pinned_policies(root: &PinRoot) -> Result<Vec<Pinned>, Error> {
    let mut pinned = Vec::new();
    for policy in root.policies()? {
        // Leftovers of an interrupted load or unload enforce nothing: a policy of that name
        // is loaded again (which finishes the interrupted job first).
        if !policy.enforced {
            continue;
        }
        // A pin whose record cannot be read was not made by this krsic: not managed.
        let Ok(bytes) = policy.record() else { continue };
        let Ok(record) = PolicyRecord::from_bytes(&bytes) else {
            continue;
        };
        pinned.push(Pinned {
            name: policy.name,
            file: record.file,
            sha256: record.sha256,
            compiler: record.compiler,
        });
    }
    Ok(pinned)
}

/// What applying did to one policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Loaded,
    Replaced,
    Unchanged,
    Unloaded,
    /// The policy's previous version, if any, stays enforced; why.
    Failed(String),
}

/// What one apply did, step by step.
pub struct Applied {
    pub dir: PathBuf,
    pub outcomes: Vec<(Step, Outcome)>,
}

impl Applied {
    /// `2 loaded, 0 replaced, 1 unchanged, 0 unloaded, 0 failed`.
    pub fn summary(&self) -> String {
        let mut counts = [0usize; 5];
        for (_, outcome) in &self.outcomes {
            counts[match outcome {
                Outcome::Loaded => 0,
                Outcome::Replaced => 1,
                Outcome::Unchanged => 2,
                Outcome::Unloaded => 3,
                Outcome::Failed(_) => 4,
            }] += 1;
        }
        ["loaded", "replaced", "unchanged", "unloaded", "failed"]
            .iter()
            .zip(counts)
            .map(|(what, n)| format!("{n} {what}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The names of the policies that failed.
    pub fn failed(&self) -> impl Iterator<Item = &str> {
        self.outcomes
            .iter()
            .filter_map(|(step, outcome)| match outcome {
                Outcome::Failed(_) => Some(step.name()),
                _ => None,
            })
    }

    /// Whether anything was loaded, replaced or unloaded, or failed.
    pub fn changed_anything(&self) -> bool {
        self.outcomes
            .iter()
            .any(|(_, outcome)| *outcome != Outcome::Unchanged)
    }
}

impl Step {
    pub fn name(&self) -> &str {
        match self {
            Step::Load { name, .. }
            | Step::Replace { name, .. }
            | Step::Keep { name }
            | Step::Unload { name }
            | Step::Refuse { name, .. } => name,
        }
    }
}

pub fn apply(dir: &Path, options: &ApplyOptions<'_>) -> Result<ExitCode, Error> {
    if options.dry_run {
        let dir = absolute(dir)?;
        let desired = desired_policies(&dir)?;
        let root = PinRoot::open(options.bpffs)?;
        // Without the kernel's types the plan is still worth printing, without meanings.
        let kernel = crate::target::kernel_types(options.btf).ok();
        for step in plan(&dir, &desired, &pinned_policies(&root)?) {
            println!("{}", describe(&step));
            if let (Step::Replace { name, file, .. }, Some(kernel)) = (&step, &kernel) {
                for line in crate::diff::replacement(&root, name, file, kernel) {
                    println!("    {line}");
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let applied = reconcile(dir, options)?;
    println!("applied {}: {}", applied.dir.display(), applied.summary());
    Ok(if applied.failed().next().is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn absolute(dir: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(dir).map_err(|error| Error::Read {
        path: dir.to_path_buf(),
        error,
    })
}

/// Makes the pinned policies `dir` manages equal to its files; each failure is reported on
/// stderr (the policy's diagnostics, or why) and recorded in the outcome.
pub fn reconcile(dir: &Path, options: &ApplyOptions<'_>) -> Result<Applied, Error> {
    let dir = absolute(dir)?;
    let desired = desired_policies(&dir)?;
    runtime::check_root()?;
    let root = PinRoot::create(options.bpffs)?;
    let steps = plan(&dir, &desired, &pinned_policies(&root)?);
    let load_options = LoadOptions {
        cgroup: None,
        btf: options.btf,
        mode: None,
        output: Output::Json,
        report_rate: None,
        format: options.format,
        pin: true,
        bpffs: options.bpffs,
    };
    let mut outcomes = Vec::new();
    for step in steps {
        let done = match &step {
            Step::Load { file, .. } | Step::Replace { file, .. } => {
                match commands::load(file, &load_options) {
                    Ok(code) if code == ExitCode::SUCCESS => Ok(()),
                    Ok(_) => Err("its diagnostics are above".to_string()),
                    Err(error) => Err(error.to_string()),
                }
            }
            Step::Unload { name } => root.unload(name).map_err(|e| e.to_string()),
            Step::Keep { .. } => Ok(()),
            Step::Refuse { why, .. } => Err(why.clone()),
        };
        let outcome = match (&step, done) {
            (_, Err(why)) => {
                eprintln!("krsic: {} failed: {why}", describe(&step));
                Outcome::Failed(why)
            }
            (Step::Load { .. }, Ok(())) => Outcome::Loaded,
            (Step::Replace { .. }, Ok(())) => Outcome::Replaced,
            (Step::Keep { .. }, Ok(())) => Outcome::Unchanged,
            (Step::Unload { .. }, Ok(())) => Outcome::Unloaded,
            (Step::Refuse { why, .. }, Ok(())) => Outcome::Failed(why.clone()),
        };
        outcomes.push((step, outcome));
    }
    Ok(Applied { dir, outcomes })
}

fn describe(step: &Step) -> String {
    match step {
        Step::Load { name, file } => format!("load {name} ({})", file.display()),
        Step::Replace { name, file, why } => format!("replace {name} ({}): {why}", file.display()),
        Step::Keep { name } => format!("keep {name} (unchanged)"),
        Step::Unload { name } => format!("unload {name} (its file is gone)"),
        Step::Refuse { name, file, why } => format!("refuse {name} ({}): {why}", file.display()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn desired(name: &str, sha: &str) -> Desired {
        Desired {
            name: name.into(),
            file: PathBuf::from(format!("/etc/krsi/policies.d/{name}.krsi")),
            sha256: sha.into(),
        }
    }

    fn pinned(name: &str, dir: &str, sha: &str) -> Pinned {
        Pinned {
            name: name.into(),
            file: format!("{dir}/{name}.krsi"),
            sha256: sha.into(),
            compiler: record::COMPILER.into(),
        }
    }

    #[test]
    fn the_plan_loads_replaces_keeps_and_unloads() {
        let dir = Path::new("/etc/krsi/policies.d");
        let steps = plan(
            dir,
            &[
                desired("new", "aa"),
                desired("changed", "bb"),
                desired("same", "cc"),
            ],
            &[
                pinned("changed", "/etc/krsi/policies.d", "b0"),
                pinned("same", "/etc/krsi/policies.d", "cc"),
                pinned("gone", "/etc/krsi/policies.d", "dd"),
                pinned("elsewhere", "/root", "ee"),
            ],
        );
        let kinds: Vec<String> = steps.iter().map(describe).collect();
        assert_eq!(
            kinds,
            [
                "load new (/etc/krsi/policies.d/new.krsi)",
                "replace changed (/etc/krsi/policies.d/changed.krsi): changed: sha256 b0 → bb",
                "keep same (unchanged)",
                "unload gone (its file is gone)",
            ]
        );
    }

    #[test]
    fn a_name_pinned_from_elsewhere_or_claimed_twice_is_refused() {
        let dir = Path::new("/etc/krsi/policies.d");
        let mut twice = desired("dup", "11");
        twice.file = PathBuf::from("/etc/krsi/policies.d/dup-again.krsi");
        let steps = plan(
            dir,
            &[desired("theirs", "aa"), desired("dup", "10"), twice],
            &[pinned("theirs", "/root", "aa")],
        );
        assert!(
            steps.iter().all(|s| matches!(s, Step::Refuse { .. })),
            "{steps:?}"
        );
        assert_eq!(steps.len(), 3);
    }

    #[test]
    fn a_new_compiler_replaces_an_unchanged_file() {
        let dir = Path::new("/etc/krsi/policies.d");
        let mut old = pinned("p", "/etc/krsi/policies.d", "aa");
        old.compiler = "krsic 0.0.1".into();
        let steps = plan(dir, &[desired("p", "aa")], &[old]);
        assert!(matches!(&steps[0], Step::Replace { why, .. } if why.contains("krsic 0.0.1")));
    }
}
