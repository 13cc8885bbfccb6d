//! Workload identity derived from a cgroup path: which container and which Kubernetes pod a
//! process is in.
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
//! The kubelet names a pod's cgroup after the pod's UID, below the cgroup of its QoS class,
//! and puts the pod's containers below it (pkg/kubelet/cm/cgroup_manager_linux.go):
//!
//! | cgroup driver | the pod's cgroup                                                       |
//! |---------------|------------------------------------------------------------------------|
//! | systemd       | `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice`, the UID's `-` written `_` (systemd's slice names use `-` for nesting) |
//! | cgroupfs      | `/kubepods/burstable/pod<uid>`                                          |
//!
//! (`kubepods-pod<uid>.slice` and `/kubepods/pod<uid>` for the guaranteed class, `besteffort`
//! for best effort.) The pod UID is given as Kubernetes prints it, 36 characters with `-`.
//! It is the *outermost* such component: pods do not nest, and the kubelet makes the pod's
//! cgroup above every cgroup its containers can make, so a container that names a child
//! cgroup `pod<another uid>` does not change its pod.
//!
//! The compiled program makes the same derivations while it walks the cgroup's kernfs nodes
//! (compiler/src/codegen/walk.rs), from [`Workload::schemes`]; the differential test compares
//! the two on generated paths.

/// Which workload identity a cgroup path is read for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workload {
    /// The container id: 64 lowercase hexadecimal digits, the innermost component's.
    Container,
    /// The Kubernetes pod UID: 32 lowercase hexadecimal digits in groups of 8-4-4-4-12, the
    /// outermost component's.
    Pod,
}

/// One way a cgroup's name holds an id: `prefix`, the id, `suffix`; within the id, the
/// groups of digits are separated by `separator` (at [`Workload::separators`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scheme {
    pub prefix: &'static str,
    pub suffix: &'static str,
    pub separator: u8,
}

const fn scheme(prefix: &'static str, suffix: &'static str, separator: u8) -> Scheme {
    Scheme {
        prefix,
        suffix,
        separator,
    }
}

/// How many hexadecimal digits a container id has.
pub const CONTAINER_ID_LEN: usize = 64;

/// How many characters a pod UID has (`8-4-4-4-12` digits and the four `-`).
pub const POD_UID_LEN: usize = 36;

/// How many digits Falco reports in `container.id`.
pub const SHORT_CONTAINER_ID_LEN: usize = 12;

/// The cgroup names that hold a container id.
static CONTAINER_SCHEMES: &[Scheme] = &[
    scheme("", "", 0),
    scheme("docker-", ".scope", 0),
    scheme("cri-containerd-", ".scope", 0),
    scheme("crio-", ".scope", 0),
    scheme("libpod-", ".scope", 0),
];

/// The cgroup names that hold a pod UID: the systemd driver's (`_` between the groups) and
/// the cgroupfs driver's (`-`).
static POD_SCHEMES: &[Scheme] = &[
    scheme("kubepods-pod", ".slice", b'_'),
    scheme("kubepods-burstable-pod", ".slice", b'_'),
    scheme("kubepods-besteffort-pod", ".slice", b'_'),
    scheme("pod", "", b'-'),
];

/// Where a pod UID's groups are separated.
static UUID_SEPARATORS: &[usize] = &[8, 13, 18, 23];

impl Workload {
    /// The names that hold this identity.
    pub fn schemes(self) -> &'static [Scheme] {
        match self {
            Workload::Container => CONTAINER_SCHEMES,
            Workload::Pod => POD_SCHEMES,
        }
    }

    /// The id's length, separators included.
    pub fn id_len(self) -> usize {
        match self {
            Workload::Container => CONTAINER_ID_LEN,
            Workload::Pod => POD_UID_LEN,
        }
    }

    /// Where the id has a separator, not a digit; written `-` in the value.
    pub fn separators(self) -> &'static [usize] {
        match self {
            Workload::Container => &[],
            Workload::Pod => UUID_SEPARATORS,
        }
    }

    /// Whether the innermost component that holds an id names it (else the outermost).
    pub fn innermost(self) -> bool {
        self == Workload::Container
    }

    /// The id a single cgroup name holds, as the value gives it, if it is one of
    /// [`Self::schemes`].
    pub fn of_component(self, name: &[u8]) -> Option<Vec<u8>> {
        self.schemes().iter().find_map(|s| {
            let id = name
                .strip_prefix(s.prefix.as_bytes())?
                .strip_suffix(s.suffix.as_bytes())?;
            let separators = self.separators();
            let well_formed = id.len() == self.id_len()
                && id.iter().enumerate().all(|(i, &c)| {
                    if separators.contains(&i) {
                        c == s.separator
                    } else {
                        is_lower_hex(c)
                    }
                });
            well_formed.then(|| {
                let mut id = id.to_vec();
                for &i in separators {
                    id[i] = b'-';
                }
                id
            })
        })
    }

    /// The id of a process in cgroup `path` (`/kubepods.slice/.../cri-containerd-<id>.scope`):
    /// that of the innermost (or outermost, see [`Self::innermost`]) component that holds
    /// one, or `""` when none does.
    pub fn of_path(self, path: &[u8]) -> Vec<u8> {
        let mut components = path.split(|&c| c == b'/');
        let found = if self.innermost() {
            components.rev().find_map(|c| self.of_component(c))
        } else {
            components.find_map(|c| self.of_component(c))
        };
        found.unwrap_or_default()
    }
}

/// The container id of a process in cgroup `path`, or `""` (see [`Workload::Container`]).
pub fn container_id(path: &[u8]) -> Vec<u8> {
    Workload::Container.of_path(path)
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

    const POD: &str = "1a2b3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d";

    #[test]
    fn both_cgroup_drivers_name_the_pod() {
        let systemd = POD.replace('-', "_");
        for path in [
            format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{systemd}.slice/cri-containerd-{ID}.scope"),
            format!("/kubepods.slice/kubepods-pod{systemd}.slice/cri-containerd-{ID}.scope"),
            format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{systemd}.slice"),
            format!("/kubepods/burstable/pod{POD}/{ID}"),
            format!("/kubepods/pod{POD}"),
        ] {
            assert_eq!(Workload::Pod.of_path(path.as_bytes()), POD.as_bytes(), "{path}");
        }
    }

    #[test]
    fn pod_near_misses_and_children_named_like_pods() {
        let systemd = POD.replace('-', "_");
        for path in [
            format!("/kubepods/burstable/pod{systemd}"),
            format!("/kubepods.slice/kubepods-pod{POD}.slice"),
            format!("/kubepods/pod{}", &POD[1..]),
            format!("/kubepods/pod{}", POD.to_uppercase()),
            format!("/kubepods/pod{}x", POD),
            format!("/system.slice/kubepods-pod{systemd}.scope"),
        ] {
            assert_eq!(Workload::Pod.of_path(path.as_bytes()), b"", "{path}");
        }
        // A container's own child cgroup named like another pod does not move it.
        let other = "ffffffff-ffff-ffff-ffff-ffffffffffff";
        let spoof = format!("/kubepods/pod{POD}/{ID}/pod{other}");
        assert_eq!(Workload::Pod.of_path(spoof.as_bytes()), POD.as_bytes());
    }
}
