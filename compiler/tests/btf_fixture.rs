//! The checked-in BTF fixture, cut from this project's host kernel (6.18), read without a
//! kernel. Regenerate it with
//! `cargo test -p compiler --test btf_fixture -- --ignored regenerate_fixture`
//! on a machine with /sys/kernel/btf/vmlinux, then update the numbers below from the output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::STRUCTS;
use compiler::btf::Btf;
use lang::kernel::{KernelTypes, TypeShape};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/btf/host-6.18.btf"
);

/// LSM hooks the fixture carries: the ones events use today and the ones planned.
const HOOKS: &[&str] = &[
    "bprm_check_security",
    "bprm_committing_creds",
    "file_open",
    "path_unlink",
    "path_mkdir",
    "path_rmdir",
    "path_rename",
    "path_link",
    "path_symlink",
    "path_chmod",
    "path_chown",
    "path_truncate",
    "inode_create",
    "mmap_file",
    "file_mprotect",
    "file_ioctl",
    "ptrace_access_check",
    "task_kill",
    "task_fix_setuid",
    "task_fix_setgid",
    "capable",
    "kernel_read_file",
    "kernel_load_data",
    "kernel_module_request",
    "bpf",
    "sb_mount",
    "sb_umount",
    "path_chroot",
    "socket_create",
    "socket_connect",
    "socket_bind",
    "socket_listen",
    "userns_create",
    "task_alloc",
    "path_mknod",
    "ptrace_traceme",
    "task_prctl",
    "inode_setxattr",
    "inode_removexattr",
    "inode_set_acl",
    "inode_remove_acl",
    "sb_pivotroot",
    "move_mount",
];

/// Hooks of the catalog the fixture leaves out on purpose, so that a hook the target kernel
/// lacks is tested against it: `bpf_token_create` (Linux 6.9; the host has it).
const LEFT_OUT: &[&str] = &["bpf_token_create"];

/// The fixture carries every hook an event of the catalog needs, so a new event is checked
/// offline against it: the hook list above follows the catalog, not the other way round.
/// (A variant hook that only newer kernels have may be missing: the event is enforced
/// without it.)
#[test]
fn the_fixture_hook_list_covers_the_catalog() {
    let btf = fixture();
    for event in lang::catalog::all_events() {
        for hook in event.required_hooks() {
            if LEFT_OUT.contains(&hook) {
                assert!(btf.hook_params(hook).is_none(), "`{hook}` is left out");
                continue;
            }
            assert!(
                HOOKS.contains(&hook),
                "`{}` needs `{hook}`: add it to HOOKS and regenerate the fixture",
                event.name
            );
            assert!(
                btf.hook_params(hook).is_some(),
                "the fixture lacks `{hook}`"
            );
        }
    }
}

#[test]
#[ignore = "rewrites tests/fixtures/btf/host-6.18.btf from this machine's kernel"]
fn regenerate_fixture() {
    let Ok(vmlinux) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        panic!("/sys/kernel/btf/vmlinux is missing: regenerate the fixture on a kernel with BTF");
    };
    let full = Btf::parse(&vmlinux).unwrap();
    let cut = full.cut(HOOKS, STRUCTS).unwrap();
    std::fs::write(FIXTURE, &cut).unwrap();
    println!("wrote {FIXTURE}: {} bytes", cut.len());
    for hook in HOOKS {
        if full.hook_params(hook).is_none() {
            println!("note: this kernel has no LSM hook `{hook}`");
        }
    }
    for name in STRUCTS {
        if full.find_struct(name).is_none() {
            println!("note: this kernel has no struct or typedef `{name}`");
        }
    }
    for (ty, member) in OFFSETS.iter().map(|(t, m, _)| (t, m)) {
        let m = full.member(full.find_struct(ty).unwrap(), member).unwrap();
        println!("{ty}.{member}: {} bits", m.offset_bits);
    }
}

fn fixture() -> Btf {
    let bytes = std::fs::read(FIXTURE).expect("the fixture is checked in");
    Btf::parse(&bytes)
        .unwrap()
        .with_description("host-6.18.btf")
}

/// Member offsets in bits, as the host's 6.18 kernel (6.18.44) lays them out; the same numbers
/// come out of the full /sys/kernel/btf/vmlinux (btf_host.rs checks a cut against it).
const OFFSETS: &[(&str, &str, u32)] = &[
    ("linux_binprm", "file", 64 * 8),
    ("linux_binprm", "filename", 96 * 8),
    // Inside an anonymous union { const struct path f_path; struct path __f_path; }.
    ("file", "f_path", 64 * 8),
    ("file", "f_mode", 4 * 8),
    ("path", "dentry", 8 * 8),
    ("task_struct", "cred", 1736 * 8),
    ("task_struct", "real_parent", 1280 * 8),
    ("task_struct", "tgid", 1268 * 8),
    ("task_struct", "comm", 1752 * 8),
    ("cred", "euid", 24 * 8),
    ("kuid_t", "val", 0),
];

#[test]
fn member_offsets_are_the_host_kernels() {
    let btf = fixture();
    for &(ty, member, bits) in OFFSETS {
        let id = btf
            .find_struct(ty)
            .unwrap_or_else(|| panic!("no `{ty}` in the fixture"));
        let found = btf
            .member(id, member)
            .unwrap_or_else(|| panic!("no `{ty}.{member}`"));
        assert_eq!(found.offset_bits, bits, "{ty}.{member}");
        assert_eq!(found.bitfield_bits, 0, "{ty}.{member}");
    }
}

#[test]
fn member_types() {
    let btf = fixture();
    let ty =
        |s: &str, m: &str| btf.type_name(btf.member(btf.find_struct(s).unwrap(), m).unwrap().ty);
    assert_eq!(ty("file", "f_path"), "const struct path");
    assert_eq!(ty("linux_binprm", "filename"), "const char *");
    assert_eq!(ty("task_struct", "cred"), "const struct cred *");
    assert_eq!(ty("task_struct", "comm"), "char[16]");
    assert_eq!(ty("cred", "euid"), "kuid_t");
    assert_eq!(ty("dentry", "d_name"), "const struct qstr");
    let comm = btf
        .member(btf.find_struct("task_struct").unwrap(), "comm")
        .unwrap();
    let TypeShape::Array { element, len: 16 } = btf.shape(comm.ty) else {
        panic!("comm is not char[16]")
    };
    // Unsigned: the kernel builds with -funsigned-char since 6.2, and BTF records it.
    assert_eq!(
        btf.shape(element),
        TypeShape::Int {
            bytes: 1,
            signed: false
        }
    );
    let euid = btf
        .member(btf.find_struct("cred").unwrap(), "euid")
        .unwrap();
    let val = btf.member(euid.ty, "val").unwrap();
    assert_eq!(
        btf.shape(val.ty),
        TypeShape::Int {
            bytes: 4,
            signed: false
        }
    );
}

/// `param` is a pointer to the struct called `name`.
fn points_to_struct(btf: &Btf, param: u32, name: &str) -> bool {
    let TypeShape::Pointer { to } = btf.shape(param) else {
        return false;
    };
    matches!(btf.shape(to), TypeShape::Struct { name: n, .. } if n == name)
}

#[test]
fn hook_signatures() {
    let btf = fixture();
    let bprm = btf.hook_params("bprm_check_security").unwrap();
    assert_eq!(bprm.len(), 1);
    assert_eq!(bprm[0].name, "bprm");
    assert!(points_to_struct(&btf, bprm[0].ty, "linux_binprm"));
    let open = btf.hook_params("file_open").unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].name, "file");
    assert!(points_to_struct(&btf, open[0].ty, "file"));
    assert_eq!(btf.hook_params("no_such_hook"), None);
    let kill = btf.hook_params("task_kill").unwrap();
    let names: Vec<&str> = kill.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["p", "info", "sig", "cred"]);
    assert_eq!(btf.type_name(kill[1].ty), "struct kernel_siginfo *");
    // Reached only through pointers and not asked for: a forward declaration.
    let TypeShape::Pointer { to } = btf.shape(kill[1].ty) else {
        panic!("not a pointer")
    };
    assert_eq!(
        btf.shape(to),
        TypeShape::Opaque {
            name: "kernel_siginfo".into()
        }
    );
}

#[test]
fn every_hook_and_struct_is_there() {
    let btf = fixture();
    for hook in HOOKS {
        assert!(btf.hook_params(hook).is_some(), "hook `{hook}` missing");
    }
    // 6.18 has kernel_cap_t, not struct kernel_cap_struct.
    for name in STRUCTS.iter().filter(|&&n| n != "kernel_cap_struct") {
        let id = btf
            .find_struct(name)
            .unwrap_or_else(|| panic!("`{name}` missing"));
        assert!(!btf.members(id).is_empty(), "`{name}` has no members");
    }
    assert_eq!(btf.lsm_hooks().count(), HOOKS.len());
}

#[test]
fn fixture_is_small_and_cutting_it_again_changes_nothing() {
    let bytes = std::fs::read(FIXTURE).unwrap();
    assert!(
        bytes.len() < 256 * 1024,
        "the fixture grew to {} bytes",
        bytes.len()
    );
    assert_eq!(fixture().cut(HOOKS, STRUCTS).unwrap(), bytes);
}

// aya-obj takes object 0.39's `Endianness`, which this crate (on object 0.36) cannot name; its
// default is the host's byte order, which is the fixture's on little-endian hosts.
#[cfg(target_endian = "little")]
#[test]
fn aya_reads_the_fixture_as_written() {
    let bytes = std::fs::read(FIXTURE).unwrap();
    let aya = aya_obj::btf::Btf::parse(&bytes, Default::default()).unwrap();
    // aya decodes every record and writes it back: the same bytes mean it read each record
    // the way we wrote it.
    assert_eq!(aya.to_bytes(), bytes);
    let ours = fixture();
    use aya_obj::btf::BtfKind;
    for (name, kind) in [
        ("bpf_lsm_file_open", BtfKind::Func),
        ("bpf_lsm_bprm_check_security", BtfKind::Func),
        ("file", BtfKind::Struct),
        ("task_struct", BtfKind::Struct),
        ("kuid_t", BtfKind::Typedef),
    ] {
        assert_eq!(
            Some(aya.id_by_type_name_kind(name, kind).unwrap()),
            ours.find_type(name),
            "{name}"
        );
    }
}

#[test]
fn reads_btf_from_an_elf_section() {
    use object::write::Object;
    use object::{Architecture, BinaryFormat, Endianness, SectionKind};
    let bytes = std::fs::read(FIXTURE).unwrap();
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let section = obj.add_section(Vec::new(), b".BTF".to_vec(), SectionKind::Other);
    obj.append_section_data(section, &bytes, 4);
    let elf = obj.write().unwrap();
    let btf = Btf::parse_elf(&elf).unwrap();
    assert!(btf.hook_params("file_open").is_some());

    let err = Btf::parse(&elf).unwrap_err().to_string();
    assert!(err.contains("ELF"), "{err}");
    let empty = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little)
        .write()
        .unwrap();
    let err = Btf::parse_elf(&empty).unwrap_err().to_string();
    assert!(err.contains("no `.BTF` section"), "{err}");
}

/// Cheap deterministic randomness for the corruption test.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn corrupted_fixture_never_panics() {
    let good = std::fs::read(FIXTURE).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1d;
    for round in 0..300 {
        let mut bytes = good.clone();
        if round % 4 == 0 {
            bytes.truncate(xorshift(&mut state) as usize % good.len());
        } else {
            for _ in 0..1 + round % 8 {
                let at = xorshift(&mut state) as usize % bytes.len();
                bytes[at] = xorshift(&mut state) as u8;
            }
        }
        let Ok(btf) = Btf::parse(&bytes) else {
            continue;
        };
        for hook in HOOKS {
            for p in btf.hook_params(hook).unwrap_or_default() {
                let _ = (btf.shape(p.ty), btf.type_name(p.ty), btf.size_of(p.ty));
            }
        }
        for &(ty, member, _) in OFFSETS {
            if let Some(id) = btf.find_struct(ty) {
                let _ = (btf.member(id, member), btf.members(id));
            }
        }
        if let Ok(cut) = btf.cut(&["file_open"], &["file", "kuid_t"]) {
            Btf::parse(&cut).unwrap();
        }
    }
}
