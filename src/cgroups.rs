//! Cgroup v2 ids to paths, for reports.
//!
//! A report carries the id of the process's cgroup v2 (`bpf_get_current_cgroup_id`, the
//! kernfs node id of its directory, which is that directory's inode number on cgroup2,
//! kernel/cgroup/cgroup.c `cgroup_id()`). User space turns it into the cgroup's path by
//! finding the directory with that inode number under the cgroup2 mount, and derives the
//! container id from the path with `lang::workload::container_id`, the same function the
//! evaluator uses. Resolving in user space keeps the record small and the programs short
//! (a kernfs walk in every report would cost each reporting program a bounded loop);
//! what it cannot do is name a cgroup removed before the report is read: its path is then
//! unknown (`null`). The paths are the hierarchy's as the cgroup2 mount krsic sees shows
//! them: from the host, the same paths `cgroup` rules test.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Paths found so far, by cgroup id.
static KNOWN: Mutex<BTreeMap<u64, String>> = Mutex::new(BTreeMap::new());

/// The path of the cgroup whose id is `id`, from the root of the cgroup2 hierarchy (`/` for
/// the root), or `None` when no cgroup has it any more (or there is no cgroup2 mount).
pub fn path_of(id: u64) -> Option<String> {
    let (mount, root) = cgroup2_mount()?;
    let mut known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    // A cached path holds while its directory still has the id (ids are not reused while
    // the system runs, but a cgroup may be gone).
    if let Some(path) = known.get(&id) {
        let dir = mount.join(
            path.strip_prefix(root.as_str())
                .unwrap_or(path)
                .trim_start_matches('/'),
        );
        if std::fs::metadata(&dir).is_ok_and(|m| m.ino() == id) {
            return Some(path.clone());
        }
        known.remove(&id);
    }
    // Not known yet: look at every cgroup once, keeping every path found.
    let mut stack = vec![mount.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        let relative = dir.strip_prefix(mount).unwrap_or(Path::new(""));
        known.insert(meta.ino(), in_hierarchy(root, relative));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    known.get(&id).cloned()
}

/// The container id of a process in cgroup `path`: "" for none.
pub fn container_id(path: &str) -> String {
    String::from_utf8_lossy(&lang::workload::container_id(path.as_bytes())).into_owned()
}

/// The Kubernetes pod UID of a process in cgroup `path`: "" for none.
pub fn pod_uid(path: &str) -> String {
    let uid = lang::workload::Workload::Pod.of_path(path.as_bytes());
    String::from_utf8_lossy(&uid).into_owned()
}

/// `relative` (a directory under the mount) as a path in the hierarchy, given the mount's
/// root in the hierarchy.
fn in_hierarchy(root: &str, relative: &Path) -> String {
    let mut path = root.trim_end_matches('/').to_string();
    for component in relative.components() {
        path.push('/');
        path.push_str(&component.as_os_str().to_string_lossy());
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}

/// The first cgroup2 mount of this mount namespace and the directory of the hierarchy it
/// shows (`/` unless a subtree was mounted), from /proc/self/mountinfo.
fn cgroup2_mount() -> Option<&'static (PathBuf, String)> {
    static MOUNT: OnceLock<Option<(PathBuf, String)>> = OnceLock::new();
    MOUNT
        .get_or_init(|| {
            let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
            info.lines().find_map(|line| {
                // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - TYPE SOURCE ...
                let (mount, fs) = line.split_once(" - ")?;
                if fs.split(' ').next() != Some("cgroup2") {
                    return None;
                }
                let fields: Vec<&str> = mount.split(' ').collect();
                Some((
                    PathBuf::from(unescape(fields.get(4)?)),
                    unescape(fields.get(3)?),
                ))
            })
        })
        .as_ref()
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_the_hierarchy_and_escapes() {
        assert_eq!(in_hierarchy("/", Path::new("")), "/");
        assert_eq!(
            in_hierarchy("/", Path::new("kubepods.slice/x.scope")),
            "/kubepods.slice/x.scope"
        );
        assert_eq!(in_hierarchy("/sub", Path::new("a")), "/sub/a");
        assert_eq!(unescape("/sys/fs/cgroup\\040x"), "/sys/fs/cgroup x");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn an_id_no_cgroup_has_is_unknown() {
        // Inode numbers of cgroup2 directories are small; none is u64::MAX.
        assert_eq!(path_of(u64::MAX), None);
    }
}
