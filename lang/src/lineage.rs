//! Process lineage: what `ancestor.comm` means, and the values an event gives for it.
//!
//! The ancestors of the current process are the tasks reached by following `real_parent`
//! from it, nearest first: the parent (level 1), the grandparent (level 2), ... The walk ends
//! at the idle task (`init_task`, pid 0), which is not an ancestor: it is the parent of pid 1
//! and of `kthreadd` and its own `real_parent` (init/init_task.c). A test on `ancestor.comm`
//! holds when it holds for any of the first [`ANCESTOR_DEPTH`] ancestors:
//!
//! ```text
//! ancestor.comm P  ≡  (parent.pid != 0 and parent.comm P)
//!                   or (ancestor.2.pid != 0 and ancestor.2.comm P)
//!                   or ...
//!                   or (ancestor.8.pid != 0 and ancestor.8.comm P)
//!                   or <unknown when ancestor.9.pid != 0>
//! ```
//!
//! The checker writes this expansion (`check::lineage`), so the reference evaluator and the
//! compiled program both decide the expanded tests, each on per-level values it reads like
//! `parent.comm`. The last line is the fail-closed part: when the lineage goes on past the
//! depth and no level matched, the test is unknown, and an unknown test makes a deny, kill or
//! audit rule match and an allow rule not (under `not`, the opposite), as for every value
//! krsi cannot read. The checker resolves it by the test's polarity: where an unknown test
//! counts as true the line is the test `ancestor.9.pid != 0`, elsewhere it is false.

use crate::catalog::{ANCESTOR_DEPTH, ANCESTOR_EXES, ANCESTOR_LEVELS};
use crate::checked::AttrValue;

pub use crate::catalog::{ANCESTOR_COMM, ANCESTOR_EXE};

/// One ancestor, as an event gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ancestor {
    /// Its process id (`tgid`); 0 is the idle task, no ancestor.
    pub pid: u64,
    /// Its name (`comm`).
    pub comm: Vec<u8>,
    /// Its executable's path; "" for a kernel thread.
    pub exe: Vec<u8>,
}

/// The process id an event gives ancestor `level` (1 is the parent) when it names the
/// ancestor but not its pid: any value other than 0 (the idle task) would do.
pub fn ancestor_pid(level: usize) -> u64 {
    1000 + level as u64
}

/// The per-level values of an event whose ancestors are `ancestors`, nearest first, or no
/// ancestor (pid 0, "") past their end: `parent.pid`, `parent.comm`, `parent.exe`, then each
/// level's `ancestor.N.pid`, `ancestor.N.comm` and `ancestor.N.exe`. More than
/// [`ANCESTOR_DEPTH`] ancestors make the lineage too deep to follow: the last level's pid is
/// not 0.
pub fn lineage_values(ancestors: &[Ancestor]) -> Vec<(&'static str, AttrValue)> {
    let none = Ancestor::default();
    let level = |k: usize| ancestors.get(k - 1).unwrap_or(&none);
    let parent = level(1);
    let mut values = vec![
        ("parent.pid", AttrValue::Int(parent.pid)),
        ("parent.comm", AttrValue::Str(parent.comm.clone())),
        ("parent.exe", AttrValue::Str(parent.exe.clone())),
    ];
    for (at, (pid, comm)) in ANCESTOR_LEVELS.iter().enumerate() {
        let k = at + 2;
        let ancestor = level(k);
        values.push((pid.name, AttrValue::Int(ancestor.pid)));
        if let Some(comm) = comm {
            values.push((comm.name, AttrValue::Str(ancestor.comm.clone())));
        }
        if let Some(exe) = ANCESTOR_EXES.get(at) {
            values.push((exe.name, AttrValue::Str(ancestor.exe.clone())));
        }
    }
    debug_assert_eq!(values.len(), 3 * ANCESTOR_DEPTH + 1);
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_past_the_names_are_no_ancestor_and_too_many_names_go_past_the_depth() {
        let named = |pid: u64, comm: &[u8], exe: &[u8]| Ancestor {
            pid,
            comm: comm.to_vec(),
            exe: exe.to_vec(),
        };
        let two = lineage_values(&[
            named(7, b"bash", b"/usr/bin/bash"),
            named(1, b"systemd", b"/usr/lib/systemd/systemd"),
        ]);
        let get = |values: &[(&str, AttrValue)], name: &str| {
            values.iter().find(|(n, _)| *n == name).unwrap().1.clone()
        };
        assert_eq!(get(&two, "parent.pid"), AttrValue::Int(7));
        assert_eq!(
            get(&two, "ancestor.2.comm"),
            AttrValue::Str(b"systemd".to_vec())
        );
        assert_eq!(
            get(&two, "ancestor.2.exe"),
            AttrValue::Str(b"/usr/lib/systemd/systemd".to_vec())
        );
        assert_eq!(
            get(&two, "parent.exe"),
            AttrValue::Str(b"/usr/bin/bash".to_vec())
        );
        assert_eq!(get(&two, "ancestor.3.pid"), AttrValue::Int(0));
        assert_eq!(get(&two, "ancestor.3.exe"), AttrValue::Str(Vec::new()));
        assert_eq!(get(&two, "ancestor.9.pid"), AttrValue::Int(0));
        let deep: Vec<_> = (1..=ANCESTOR_DEPTH + 1)
            .map(|k| named(ancestor_pid(k), b"sh", b"/bin/sh"))
            .collect();
        assert_eq!(
            get(&lineage_values(&deep), "ancestor.9.pid"),
            AttrValue::Int(ancestor_pid(ANCESTOR_DEPTH + 1))
        );
    }

    /// The catalog spells each level's chain out by hand; the offline machine lays its memory
    /// out from those same chains, so a level that follows `real_parent` once too often or too
    /// rarely would read another ancestor unseen by the differential test. Count them here.
    #[test]
    fn level_k_follows_real_parent_k_times() {
        use crate::catalog::{Source, ANCESTOR_LEVELS};
        let members = |source: Source| match source {
            Source::TaskInt { members } | Source::TaskChars { members } => members,
            other => panic!("an ancestor level reads {other:?}"),
        };
        for (at, (pid, comm)) in ANCESTOR_LEVELS.iter().enumerate() {
            let k = at + 2;
            let mut chains = vec![(pid.name, members(pid.source), "tgid")];
            if let Some(comm) = comm {
                chains.push((comm.name, members(comm.source), "comm"));
            }
            for (name, chain, last) in chains {
                let (field, parents) = chain.split_last().expect("a member chain");
                assert_eq!(*field, last, "{name}");
                assert_eq!(parents, vec!["real_parent"; k].as_slice(), "{name}");
            }
        }
        for (at, exe) in crate::catalog::ANCESTOR_EXES.iter().enumerate() {
            let k = at + 2;
            let Source::WalkedPath { dentry, mnt, .. } = exe.source else {
                panic!("{} reads {:?}", exe.name, exe.source);
            };
            for (chain, last) in [(dentry.members, "dentry"), (mnt.members, "mnt")] {
                let (parents, fields) = chain.split_at(k);
                assert_eq!(parents, vec!["real_parent"; k].as_slice(), "{}", exe.name);
                assert_eq!(fields, ["mm", "exe_file", "f_path", last], "{}", exe.name);
            }
        }
    }
}
