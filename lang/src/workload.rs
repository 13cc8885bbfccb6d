//! Workload identity derived from a cgroup path: which container a process is in.
//!
//! Container runtimes name the cgroup v2 directory of a container after its id, a 64-digit
//! lowercase hexadecimal string (the SHA-256 the runtime chose), in one of a few ways:
//!
//! | runtime, cgroup driver        | the container's cgroup              |
//! |-------------------------------|-------------------------------------|
//! | Docker, systemd               | `.../docker-<id>.scope`             |
//! | containerd (CRI), systemd     | `.../cri-containerd-<id>.scope`     |
//! | CRI-O, systemd                | `.../crio-<id>.scope`               |
//! | Podman, systemd               | `.../libpod-<id>.scope`             |
//! | Docker, containerd, cgroupfs  | `/docker/<id>`, `/kubepods/.../<id>` |
//!
//! This is how container tools tell a container from its cgroup (Falco's libsinsp matches
//! the same prefixes and suffixes, `runc.cpp`, `match_one_container_id`). The id is the
//! innermost component of the path that is one of these names: a process in a cgroup the
//! container made below its own (`.../docker-<id>.scope/init.scope`, what systemd or a
//! delegated cgroup manager inside the container does) is still that container's, so a
//! container cannot step out of container rules by making a child cgroup. A path with no
//! such component is no container: the id is `""`.
//!
//! The id is the full 64 digits, not Falco's 12-digit short form: a prefix is ambiguous
//! across hosts and images, and a rule can still match by prefix with a glob
//! (`container.id ~ "3f4e5a6b7c8d*"`). Falco-form reports print the short form in
//! `container.id`, as Falco does.
//!
//! The compiled program makes the same derivation while it walks the cgroup's kernfs nodes
//! (compiler/src/codegen/walk.rs), from [`CONTAINER_SCHEMES`]; the differential test compares
//! the two on generated paths.

/// How many hexadecimal digits a container id has.
pub const CONTAINER_ID_LEN: usize = 64;

/// How many digits Falco reports in `container.id`.
pub const SHORT_CONTAINER_ID_LEN: usize = 12;

/// The cgroup names that hold a container id: a prefix, the id, a suffix.
pub static CONTAINER_SCHEMES: &[(&str, &str)] = &[
    ("", ""),
    ("docker-", ".scope"),
    ("cri-containerd-", ".scope"),
    ("crio-", ".scope"),
    ("libpod-", ".scope"),
];

/// The id a single cgroup name holds, if it is one of [`CONTAINER_SCHEMES`].
pub fn component_container_id(name: &[u8]) -> Option<&[u8]> {
    CONTAINER_SCHEMES.iter().find_map(|(prefix, suffix)| {
        let id = name
            .strip_prefix(prefix.as_bytes())?
            .strip_suffix(suffix.as_bytes())?;
        (id.len() == CONTAINER_ID_LEN && id.iter().all(|&c| is_lower_hex(c))).then_some(id)
    })
}

/// The container id of a process in cgroup `path` (`/kubepods.slice/.../cri-containerd-<id>.scope`):
/// the id of the innermost component that holds one, or `""` when none does.
pub fn container_id(path: &[u8]) -> &[u8] {
    path.rsplit(|&c| c == b'/')
        .find_map(component_container_id)
        .unwrap_or(b"")
}

/// What Falco prints for a container id: its first 12 digits.
pub fn short_container_id(id: &[u8]) -> &[u8] {
    &id[..id.len().min(SHORT_CONTAINER_ID_LEN)]
}

fn is_lower_hex(c: u8) -> bool {
    c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f3f4e5a6b7c8d9e0f";

    #[test]
    fn every_scheme_names_its_id() {
        for path in [
            format!("/system.slice/docker-{ID}.scope"),
            format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1_2.slice/cri-containerd-{ID}.scope"),
            format!("/kubepods.slice/crio-{ID}.scope"),
            format!("/machine.slice/libpod-{ID}.scope"),
            format!("/docker/{ID}"),
            format!("/kubepods/besteffort/pod1234/{ID}"),
        ] {
            assert_eq!(container_id(path.as_bytes()), ID.as_bytes(), "{path}");
        }
    }

    #[test]
    fn near_misses_are_no_container() {
        for path in [
            "/".to_string(),
            "/system.slice/sshd.service".to_string(),
            format!("/docker/{}", &ID[1..]),
            format!("/docker/{}0", ID),
            format!("/docker/{}", ID.to_uppercase()),
            format!("/system.slice/docker-{ID}.service"),
            format!("/system.slice/podman-{ID}.scope"),
            format!("/system.slice/docker-{ID}"),
        ] {
            assert_eq!(container_id(path.as_bytes()), b"", "{path}");
        }
    }

    #[test]
    fn the_innermost_container_wins_and_children_belong_to_it() {
        let other = "a".repeat(64);
        let nested = format!("/docker/{other}/docker/{ID}");
        assert_eq!(container_id(nested.as_bytes()), ID.as_bytes());
        let child = format!("/system.slice/docker-{ID}.scope/init.scope");
        assert_eq!(container_id(child.as_bytes()), ID.as_bytes());
        assert_eq!(short_container_id(ID.as_bytes()), &ID.as_bytes()[..12]);
    }
}
