//! Whether a `test` item describes an event the kernel can produce.
//!
//! A test item gives some attributes of an event; `krsic test` runs the policy on it in the
//! reference evaluator and in the compiled program. An event no kernel can produce (an
//! address on a unix socket, a relative path where the kernel always resolves an absolute
//! one) proves nothing about the policy, so it is refused with a diagnostic on the value
//! rather than run.

use crate::catalog::{Attribute, EndpointPart, Source, ARGC, FAMILIES};
use crate::checked::AttrValue;
use std::net::IpAddr;

const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;

/// A given value the kernel never produces: which of the test's values (an index into the
/// values passed in), why, and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Impossible {
    pub value: usize,
    pub message: String,
    pub help: String,
}

/// The values of `given` (the attributes a test item names, with their values) that no
/// kernel event has, given the other values.
pub fn impossible_values(given: &[(&'static Attribute, AttrValue)]) -> Vec<Impossible> {
    let family = given.iter().find_map(|(attribute, value)| match value {
        AttrValue::Int(f) if attribute.name == "family" => Some(*f),
        _ => None,
    });
    // The cgroup the event's process is in: the root, a host process, unless given.
    let cgroup = given
        .iter()
        .find_map(|(attribute, value)| match value {
            AttrValue::Str(path) if matches!(attribute.source, Source::KernfsPath { .. }) => {
                Some(path.as_slice())
            }
            _ => None,
        })
        .unwrap_or(b"/");
    let mut found = Vec::new();
    for (index, (attribute, value)) in given.iter().enumerate() {
        let mut refuse = |message: String, help: String| {
            found.push(Impossible {
                value: index,
                message,
                help,
            })
        };
        match (attribute.source, value) {
            (Source::WalkedPath { .. }, AttrValue::Str(path))
                if path.is_empty()
                    && attribute.name == "path"
                    && !crate::catalog::may_have_no_file(attribute) =>
            {
                refuse(
                    format!(
                        "`{}` is never \"\" here: the operation always has a file (only a mapping of anonymous memory has none)",
                        attribute.name
                    ),
                    "give the file's absolute path, e.g. `path: \"/tmp/x\"`".into(),
                )
            }
            (Source::WalkedPath { .. }, AttrValue::Str(path)) if !is_walk_result(path) => refuse(
                format!(
                    "`{}` is never `{}`: the kernel gives an absolute path with no empty component",
                    attribute.name,
                    String::from_utf8_lossy(path)
                ),
                walk_help(path),
            ),
            (Source::KernfsPath { .. }, AttrValue::Str(path))
                if path.is_empty() || !is_walk_result(path) =>
            {
                refuse(
                    format!(
                        "`{}` is never \"{}\": the kernel gives a path from the hierarchy's root, `/` for the root itself",
                        attribute.name,
                        String::from_utf8_lossy(path)
                    ),
                    if path.is_empty() { "write `/` for the root cgroup".into() } else { walk_help(path) },
                )
            }
            (Source::ResolvedPath { .. }, AttrValue::Str(path)) if is_relative(path) => refuse(
                format!(
                    "`{}` is never the relative path `{}`: the kernel resolves it from the root",
                    attribute.name,
                    String::from_utf8_lossy(path)
                ),
                "start the path with `/`".into(),
            ),
            (
                Source::Flag {
                    param,
                    members,
                    mask,
                },
                AttrValue::Bool(on),
            ) => {
                // A flag that is a bit of an integer the test also gives (`attach` of
                // `ptrace`'s `mode`): the kernel has one value for both.
                let whole = given.iter().find_map(|(a, v)| match v {
                    AttrValue::Int(v) if a.source == Source::Int { param, members } => {
                        Some((a.name, *v))
                    }
                    _ => None,
                });
                if let Some((whole, v)) = whole {
                    if (v & mask != 0) != *on {
                        refuse(
                            format!(
                                "`{}` is bit {mask:#x} of `{whole}`, which is `{v}`: the kernel has one value for both",
                                attribute.name
                            ),
                            format!("give only one of `{}` and `{whole}`", attribute.name),
                        );
                    }
                }
            }
            // fs/exec.c, do_execveat_common: since Linux 5.18 an exec with an empty argv
            // gets one empty argument, so no exec the supported kernels run has argc 0.
            (source, AttrValue::Int(0)) if source == ARGC => refuse(
                format!(
                    "`{}` is never 0: the kernel gives an empty argv one empty argument",
                    attribute.name
                ),
                format!("give `{}: 1` or more", attribute.name),
            ),
            // The kernel has one cgroup path; the container id and pod UID are derived from it.
            (Source::WorkloadId { workload, .. }, AttrValue::Str(id))
                if *id != workload.of_path(cgroup) =>
            {
                let derived = workload.of_path(cgroup);
                refuse(
                    format!(
                        "`{}` is \"{}\" in cgroup `{}`, never \"{}\": it is derived from the cgroup's path",
                        attribute.name,
                        String::from_utf8_lossy(&derived),
                        String::from_utf8_lossy(cgroup),
                        String::from_utf8_lossy(id)
                    ),
                    match (id.is_empty(), workload) {
                        (true, _) => "give a cgroup no container runtime or kubelet named instead, e.g. `cgroup: \"/system.slice/sshd.service\"`".into(),
                        (false, crate::workload::Workload::Container) => format!(
                            "give the container's cgroup instead, e.g. `cgroup: \"/system.slice/docker-{}.scope\"`",
                            String::from_utf8_lossy(id)
                        ),
                        (false, crate::workload::Workload::Pod) => format!(
                            "give the pod's cgroup instead, e.g. `cgroup: \"/kubepods/burstable/pod{}\"`",
                            String::from_utf8_lossy(id).replace('_', "-")
                        ),
                    },
                )
            }
            // Tests on it are tests on other attributes (lang::check::workload).
            (Source::Expanded, _) => refuse(
                format!(
                    "`{}` is not a value of its own: it is `container.id != \"\" or ns.pid != 4026531836`",
                    attribute.name
                ),
                "give `cgroup` (a container's, e.g. `\"/system.slice/docker-<64 hex digits>.scope\"`) or `ns.pid` instead".into(),
            ),
            // The command line's arguments are `argc` of them (an empty argv gets one empty
            // argument, as above).
            (Source::CommandLine { count, .. }, AttrValue::Str(block)) => {
                let args = crate::cmdline::arguments(block).len() as u64;
                let argc = given.iter().find_map(|(a, v)| match v {
                    AttrValue::Int(n) if a.name == count => Some(*n),
                    _ => None,
                });
                if args == 0 {
                    refuse(
                        "an exec never has no arguments: the kernel gives an empty argv one empty argument".into(),
                        "give `argv: [\"\"]` or more arguments".into(),
                    );
                } else if argc.is_some_and(|n| n != args) {
                    refuse(
                        format!(
                            "the command line has {args} arguments and `{count}` is {}",
                            argc.unwrap_or(0)
                        ),
                        format!("give `{count}: {args}`, or leave `{count}` out"),
                    );
                }
            }
            (Source::Endpoint { part, .. }, _) => {
                let Some(family) = family else { continue };
                let noun = match part {
                    EndpointPart::Addr => "address",
                    EndpointPart::Port => "port",
                };
                let family_name = FAMILIES.name_of(family).unwrap_or("this family's");
                if family != AF_INET && family != AF_INET6 {
                    refuse(
                        format!("a `{family_name}` socket has no {noun}"),
                        format!(
                            "give `family: inet` or `family: inet6`, or leave out `{}`",
                            attribute.name
                        ),
                    );
                } else if let (AF_INET, AttrValue::Addr(IpAddr::V6(v6))) = (family, value) {
                    refuse(
                        format!("an `inet` socket has no IPv6 address such as `{v6}`"),
                        "give `family: inet6`, or an IPv4 address".into(),
                    );
                }
            }
            _ => {}
        }
    }
    found
}

/// What a dentry walk gives: "" (no file), "/", or `/` followed by non-empty components.
fn is_walk_result(path: &[u8]) -> bool {
    match path {
        b"" | b"/" => true,
        [b'/', rest @ ..] => rest.split(|&c| c == b'/').all(|c| !c.is_empty()),
        _ => false,
    }
}

fn walk_help(path: &[u8]) -> String {
    if !path.starts_with(b"/") {
        return "start the path with `/`".into();
    }
    let mut canonical = Vec::new();
    for component in path.split(|&c| c == b'/').filter(|c| !c.is_empty()) {
        canonical.push(b'/');
        canonical.extend_from_slice(component);
    }
    if canonical.is_empty() {
        canonical.push(b'/');
    }
    format!(
        "write it as the kernel gives it: `\"{}\"`",
        String::from_utf8_lossy(&canonical)
    )
}

/// A path with a `/` that does not start with one. `bpf_d_path` gives an absolute path, or
/// for a file of a pseudo file system a name with no `/` at all (`pipe:[4026]`), so only a
/// path with directories in it is known to be impossible.
fn is_relative(path: &[u8]) -> bool {
    !path.starts_with(b"/") && path.contains(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    fn given(event: &str, values: Vec<(&str, AttrValue)>) -> Vec<(&'static Attribute, AttrValue)> {
        let event = catalog::event(event).unwrap();
        values
            .into_iter()
            .map(|(name, value)| (event.attribute(name).unwrap(), value))
            .collect()
    }

    fn s(text: &str) -> AttrValue {
        AttrValue::Str(text.as_bytes().to_vec())
    }

    #[test]
    fn possible_events_pass() {
        for values in [
            given("open", vec![("path", s("/etc/passwd"))]),
            given("open", vec![("path", s("pipe:[4026]"))]),
            given("unlink", vec![("path", s("/"))]),
            given("mmap", vec![("path", s(""))]),
            given("mprotect", vec![("path", s(""))]),
            given("exec", vec![("exe", s(""))]),
            given("exec", vec![("filename", s("relative/is/fine"))]),
            given("exec", vec![("argc", AttrValue::Int(1))]),
            given(
                "connect",
                vec![
                    ("family", AttrValue::Int(AF_INET6)),
                    ("addr", AttrValue::Addr("10.0.0.1".parse().unwrap())),
                ],
            ),
            given(
                "connect",
                vec![("addr", AttrValue::Addr("::1".parse().unwrap()))],
            ),
            given(
                "ptrace",
                vec![
                    ("mode", AttrValue::Int(2)),
                    ("attach", AttrValue::Bool(true)),
                ],
            ),
        ] {
            assert_eq!(impossible_values(&values), vec![], "{values:?}");
        }
    }

    #[test]
    fn impossible_events_are_named() {
        let cases = [
            (
                given(
                    "ptrace",
                    vec![
                        ("mode", AttrValue::Int(1)),
                        ("attach", AttrValue::Bool(true)),
                    ],
                ),
                1,
            ),
            (given("open", vec![("path", s("etc/passwd"))]), 0),
            (
                given(
                    "exec",
                    vec![("uid", AttrValue::Int(0)), ("argc", AttrValue::Int(0))],
                ),
                1,
            ),
            (given("unlink", vec![("path", s("tmp/x"))]), 0),
            (given("unlink", vec![("path", s("/tmp//x"))]), 0),
            (given("unlink", vec![("path", s("/tmp/x/"))]), 0),
            (
                given(
                    "connect",
                    vec![
                        ("family", AttrValue::Int(1)),
                        ("addr", AttrValue::Addr("10.0.0.1".parse().unwrap())),
                    ],
                ),
                1,
            ),
            (
                given(
                    "bind",
                    vec![("port", AttrValue::Int(22)), ("family", AttrValue::Int(1))],
                ),
                0,
            ),
            // Only a mapping of anonymous memory has no file.
            (given("unlink", vec![("path", s(""))]), 0),
            (given("chmod", vec![("path", s(""))]), 0),
            (
                given(
                    "connect",
                    vec![
                        ("family", AttrValue::Int(AF_INET)),
                        ("addr", AttrValue::Addr("fe80::1".parse().unwrap())),
                    ],
                ),
                1,
            ),
        ];
        for (values, index) in cases {
            let found = impossible_values(&values);
            assert_eq!(found.len(), 1, "{values:?}: {found:?}");
            assert_eq!(found[0].value, index, "{values:?}");
        }
        let walked = impossible_values(&given("unlink", vec![("path", s("/tmp//x/"))]));
        assert!(walked[0].help.contains("\"/tmp/x\""), "{walked:?}");
    }
}
