//! Tests on this machine's own kernel BTF. A build machine may have none, so the tests are
//! `#[ignore]`d (a plain `cargo test` lists them as ignored, with the reason) and
//! scripts/test-all runs them with `--ignored`. Run that way without /sys/kernel/btf/vmlinux,
//! a test fails under `CI=true` and otherwise passes with a `skipped:` line on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use compiler::btf::Btf;
use lang::kernel::KernelTypes;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn host() -> Option<Btf> {
    match std::fs::read(VMLINUX) {
        Ok(bytes) => Some(
            Btf::parse(&bytes)
                .unwrap()
                .with_description("the running kernel"),
        ),
        Err(e) if in_ci() => panic!(
            "cannot read {VMLINUX} ({e}): CI=true, and CI must run the host BTF tests on a \
             kernel with BTF"
        ),
        Err(e) => {
            eprintln!("skipped: cannot read {VMLINUX} ({e}); this kernel has no BTF");
            None
        }
    }
}

/// `CI` set to a true value, as tests/guest/run reads it.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.as_str(), "true" | "1" | "yes"))
}

const HOOKS: &[&str] = &[
    "bprm_check_security",
    "file_open",
    "task_kill",
    "socket_connect",
    "sb_mount",
    "mmap_file",
];
const STRUCTS: &[&str] = &[
    "linux_binprm",
    "file",
    "path",
    "dentry",
    "qstr",
    "task_struct",
    "cred",
    "kuid_t",
    "sock_common",
];

#[test]
#[ignore = "reads /sys/kernel/btf/vmlinux: scripts/test-all runs it"]
fn host_btf_parses_and_answers() {
    let Some(btf) = host() else { return };
    assert!(btf.type_count() > 10_000);
    assert!(
        btf.lsm_hooks().count() > 100,
        "a BPF LSM kernel has a bpf_lsm_ function per hook"
    );
    let file = btf.find_struct("file").unwrap();
    assert!(btf.member(file, "f_path").is_some());
    assert!(btf.hook_params("file_open").is_some());
    assert_eq!(btf.describe(), "the running kernel");
    // Every type of a real kernel renders and sizes without tripping the cycle bounds.
    for id in 0..btf.type_count() {
        let _ = (btf.type_name(id), btf.size_of(id), btf.shape(id));
    }
}

#[test]
#[ignore = "reads /sys/kernel/btf/vmlinux: scripts/test-all runs it"]
fn a_cut_answers_like_the_kernel_it_was_cut_from() {
    let Some(full) = host() else { return };
    let bytes = full.cut(HOOKS, STRUCTS).unwrap();
    let cut = Btf::parse(&bytes).unwrap();

    // Someone else's reader: aya-obj decodes and re-encodes every record identically. (Its
    // `Endianness` is object 0.39's, which this crate cannot name; the default is the host's
    // byte order, the same as the host BTF's and so the cut's.)
    let aya = aya_obj::btf::Btf::parse(&bytes, Default::default()).unwrap();
    assert_eq!(aya.to_bytes(), bytes);

    for hook in HOOKS {
        let (Some(a), Some(b)) = (full.hook_params(hook), cut.hook_params(hook)) else {
            assert!(full.hook_params(hook).is_none(), "`{hook}` lost in the cut");
            continue;
        };
        let render = |btf: &Btf, params: Vec<lang::kernel::Param>| {
            params
                .into_iter()
                .map(|p| (p.name, btf.type_name(p.ty)))
                .collect::<Vec<_>>()
        };
        assert_eq!(render(&full, a), render(&cut, b), "{hook}");
    }
    for name in STRUCTS {
        let Some(id) = full.find_struct(name) else {
            continue;
        };
        let cut_id = cut
            .find_struct(name)
            .unwrap_or_else(|| panic!("`{name}` lost in the cut"));
        assert_eq!(full.size_of(id), cut.size_of(cut_id), "{name}");
        let members = full.members(id);
        assert!(!members.is_empty(), "{name}");
        for (member, m) in members {
            let c = cut
                .member(cut_id, member)
                .unwrap_or_else(|| panic!("`{name}.{member}` lost in the cut"));
            assert_eq!(
                (m.offset_bits, m.bitfield_bits),
                (c.offset_bits, c.bitfield_bits),
                "{name}.{member}"
            );
            assert_eq!(full.type_name(m.ty), cut.type_name(c.ty), "{name}.{member}");
        }
    }
}
