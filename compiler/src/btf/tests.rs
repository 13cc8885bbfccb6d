//! Unit tests on hand-built and corrupted blobs; tests on real kernel BTF live in
//! compiler/tests/btf_*.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lang::kernel::{KernelTypes, Member, Param, TypeShape};

use super::raw::*;
use super::write::Writer;
use super::{Btf, BtfError};

/// A small kernel-like BTF, written in either byte order:
///
/// ```c
/// 1 int; 2 unsigned char; 3 typedef unsigned int u32; 4 const u32;
/// 5 struct path { void *mnt; struct dentry *dentry; };   6 struct dentry *; 7 fwd struct dentry
/// 8 struct file {                     // kind_flag set: bitfield sizes in member offsets
///       int f_mode : 3;  u32 f_flags : 5;
///       union { const struct path f_path; struct path __f_path; };  // 9 anonymous union
///       char f_name[16];                                            // 10 array
///   };
/// 11 const struct path; 12 struct file *; 13 int (struct file *file) ; 14 bpf_lsm_file_open
/// 15 struct old { int a : 4 (INT bitfield encoding, no kind_flag); int b; }; 16 int:4
/// 17 typedef struct { u32 val; } kuid_t;  18 the anonymous struct
/// 19 void *
/// ```
fn sample(big_endian: bool) -> Vec<u8> {
    let mut w = Writer::new(big_endian);
    let int = |w: &mut Writer, name: &str, size: u32, enc: u32, off: u32, bits: u32| {
        w.header(name, KIND_INT, false, 0, size).unwrap();
        w.u32(enc << 24 | off << 16 | bits);
    };
    let members = |w: &mut Writer, list: &[(&str, u32, u32)]| {
        for &(name, ty, off) in list {
            let name = w.string(name).unwrap();
            w.u32(name);
            w.u32(ty);
            w.u32(off);
        }
    };
    int(&mut w, "int", 4, 1, 0, 32); // 1
    int(&mut w, "unsigned char", 1, 0, 0, 8); // 2
    w.header("u32", KIND_TYPEDEF, false, 0, 20).unwrap(); // 3 -> 20 unsigned int
    w.header("", KIND_CONST, false, 0, 3).unwrap(); // 4
    w.header("path", KIND_STRUCT, false, 2, 16).unwrap(); // 5
    members(&mut w, &[("mnt", 19, 0), ("dentry", 6, 64)]);
    w.header("", KIND_PTR, false, 0, 7).unwrap(); // 6
    w.header("dentry", KIND_FWD, false, 0, 0).unwrap(); // 7
    w.header("file", KIND_STRUCT, true, 4, 56).unwrap(); // 8
    members(
        &mut w,
        &[
            ("f_mode", 1, 3 << 24),
            ("f_flags", 3, 5 << 24 | 3),
            ("", 9, 64),
            ("f_name", 10, 192),
        ],
    );
    w.header("", KIND_UNION, false, 2, 16).unwrap(); // 9
    members(&mut w, &[("f_path", 11, 0), ("__f_path", 5, 0)]);
    w.header("", KIND_ARRAY, false, 0, 0).unwrap(); // 10
    w.u32(2);
    w.u32(1);
    w.u32(16);
    w.header("", KIND_CONST, false, 0, 5).unwrap(); // 11
    w.header("", KIND_PTR, false, 0, 8).unwrap(); // 12
    w.header("", KIND_FUNC_PROTO, false, 1, 1).unwrap(); // 13
    let file = w.string("file").unwrap();
    w.u32(file);
    w.u32(12);
    w.header("bpf_lsm_file_open", KIND_FUNC, false, 1, 13)
        .unwrap(); // 14
    w.header("old", KIND_STRUCT, false, 2, 8).unwrap(); // 15
    members(&mut w, &[("a", 16, 0), ("b", 1, 32)]);
    int(&mut w, "int", 4, 1, 2, 4); // 16: 4 bits starting at bit 2
    w.header("kuid_t", KIND_TYPEDEF, false, 0, 18).unwrap(); // 17
    w.header("", KIND_STRUCT, false, 1, 4).unwrap(); // 18
    members(&mut w, &[("val", 3, 0)]);
    w.header("", KIND_PTR, false, 0, 0).unwrap(); // 19
    int(&mut w, "unsigned int", 4, 0, 0, 32); // 20
    w.finish().unwrap()
}

fn member(offset_bits: u32, bitfield_bits: u32, ty: u32) -> Option<Member> {
    Some(Member {
        offset_bits,
        bitfield_bits,
        ty,
    })
}

fn check_sample(btf: &Btf) {
    assert_eq!(btf.type_count(), 21);
    let file = btf.find_struct("file").unwrap();
    assert_eq!(file, 8);
    assert_eq!(btf.member(file, "f_mode"), member(0, 3, 1));
    assert_eq!(btf.member(file, "f_flags"), member(3, 5, 3));
    assert_eq!(
        btf.member(file, "f_path"),
        member(64, 0, 11),
        "found through the anonymous union"
    );
    assert_eq!(btf.member(file, "__f_path"), member(64, 0, 5));
    assert_eq!(btf.member(file, "f_name"), member(192, 0, 10));
    assert_eq!(
        btf.member(file, "dentry"),
        None,
        "members of named members are not members"
    );
    assert_eq!(
        btf.member(file, ""),
        None,
        "anonymous members have no name to find"
    );
    assert_eq!(
        btf.member(11, "dentry"),
        member(64, 0, 6),
        "const is stripped"
    );
    assert_eq!(btf.member(1, "x"), None);
    assert_eq!(btf.member(99, "x"), None);
    // An INT-encoded bitfield (struct without kind_flag).
    assert_eq!(btf.member(15, "a"), member(2, 4, 16));
    assert_eq!(btf.member(15, "b"), member(32, 0, 1));

    let kuid = btf.find_struct("kuid_t").unwrap();
    assert_eq!(kuid, 18, "the anonymous struct the typedef names");
    assert_eq!(btf.member(17, "val"), member(0, 0, 3));
    assert_eq!(
        btf.shape(3),
        TypeShape::Int {
            bytes: 4,
            signed: false
        }
    );
    assert_eq!(
        btf.shape(4),
        TypeShape::Int {
            bytes: 4,
            signed: false
        }
    );
    assert_eq!(
        btf.shape(1),
        TypeShape::Int {
            bytes: 4,
            signed: true
        }
    );
    assert_eq!(btf.shape(12), TypeShape::Pointer { to: 8 });
    assert_eq!(
        btf.shape(11),
        TypeShape::Struct {
            name: "path".into(),
            bytes: 16
        }
    );
    assert_eq!(
        btf.shape(9),
        TypeShape::Union {
            name: String::new(),
            bytes: 16
        }
    );
    assert_eq!(
        btf.shape(10),
        TypeShape::Array {
            element: 2,
            len: 16
        }
    );
    assert_eq!(
        btf.shape(7),
        TypeShape::Opaque {
            name: "dentry".into()
        }
    );
    assert_eq!(btf.shape(0), TypeShape::Void);
    assert_eq!(btf.shape(13), TypeShape::Other);
    assert_eq!(btf.shape(1000), TypeShape::Other);

    assert_eq!(
        btf.hook_params("file_open"),
        Some(vec![Param {
            name: "file".into(),
            ty: 12
        }])
    );
    assert_eq!(btf.hook_params("file_close"), None);
    assert_eq!(btf.lsm_hooks().collect::<Vec<_>>(), ["file_open"]);

    assert_eq!(btf.type_name(12), "struct file *");
    assert_eq!(btf.type_name(11), "const struct path");
    assert_eq!(btf.type_name(10), "unsigned char[16]");
    assert_eq!(btf.type_name(19), "void *");
    assert_eq!(btf.type_name(13), "int (struct file *)");
    assert_eq!(btf.type_name(9), "union <anonymous>");
    assert_eq!(btf.type_name(500), "<unknown type 500>");
    assert_eq!(btf.size_of(8), Some(56));
    assert_eq!(btf.size_of(10), Some(16));
    assert_eq!(btf.size_of(4), Some(4));
    assert_eq!(btf.size_of(6), Some(8));
    assert_eq!(btf.size_of(7), None);
    assert_eq!(btf.size_of(0), None);
    let names: Vec<&str> = btf.members(file).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["f_mode", "f_flags", "f_path", "__f_path", "f_name"]);
}

#[test]
fn reads_both_byte_orders() {
    let le = Btf::parse(&sample(false)).unwrap();
    let be = Btf::parse(&sample(true)).unwrap();
    check_sample(&le);
    check_sample(&be);
}

#[test]
fn description_is_settable() {
    let btf = Btf::parse(&sample(false)).unwrap();
    assert_eq!(btf.describe(), "the target kernel");
    let btf = btf.with_description("vmlinux-6.1.btf");
    assert_eq!(btf.describe(), "vmlinux-6.1.btf");
}

#[test]
fn cut_keeps_what_is_asked_and_forward_declares_the_rest() {
    for big_endian in [false, true] {
        let btf = Btf::parse(&sample(big_endian)).unwrap();
        let cut = btf
            .cut(
                &["file_open", "no_such_hook"],
                &["file", "kuid_t", "no_such_struct"],
            )
            .unwrap();
        assert_eq!(cut[0..2], sample(big_endian)[0..2], "same byte order");
        let small = Btf::parse(&cut).unwrap();
        assert_eq!(small.hook_params("file_open").map(|p| p.len()), Some(1));
        let file = small.find_struct("file").unwrap();
        for name in ["f_mode", "f_flags", "f_path", "__f_path", "f_name"] {
            let (full, cut) = (
                btf.member(8, name).unwrap(),
                small.member(file, name).unwrap(),
            );
            assert_eq!(
                (full.offset_bits, full.bitfield_bits),
                (cut.offset_bits, cut.bitfield_bits)
            );
            assert_eq!(btf.type_name(full.ty), small.type_name(cut.ty));
        }
        // `struct path` is embedded by value in the union, so it stays complete; `struct old`
        // is not reached at all.
        assert!(small
            .member(small.find_struct("path").unwrap(), "dentry")
            .is_some());
        assert_eq!(small.find_struct("old"), None);
        assert_eq!(
            small
                .member(small.find_type("kuid_t").unwrap(), "val")
                .map(|m| m.offset_bits),
            Some(0)
        );
        // Cutting the cut changes nothing.
        assert_eq!(small.cut(&["file_open"], &["file", "kuid_t"]).unwrap(), cut);
    }
}

#[test]
fn cut_turns_pointed_to_structs_into_forward_declarations() {
    let btf = Btf::parse(&sample(false)).unwrap();
    // Only the hook: `struct file` is reached through its pointer parameter.
    let small = Btf::parse(&btf.cut(&["file_open"], &[]).unwrap()).unwrap();
    let param = &small.hook_params("file_open").unwrap()[0];
    let TypeShape::Pointer { to } = small.shape(param.ty) else {
        panic!("not a pointer")
    };
    assert_eq!(
        small.shape(to),
        TypeShape::Opaque {
            name: "file".into()
        }
    );
    assert_eq!(
        small.type_count(),
        6,
        "void, int, fwd file, pointer, prototype, function"
    );
}

/// A blob whose header and sections are all under the test's control.
fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
    let mut out = vec![0x9f, 0xeb, 1, 0];
    let type_len = (types.len() * 4) as u32;
    for v in [24, 0, type_len, type_len, strings.len() as u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in types {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(strings);
    out
}

const fn info(kind: u32, vlen: u32) -> u32 {
    kind << 24 | vlen
}

#[test]
fn malformed_input_is_an_error() {
    let err = |bytes: &[u8]| Btf::parse(bytes).unwrap_err();
    assert_eq!(err(&[]), BtfError::TooShort { len: 0 });
    assert!(matches!(
        err(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
        BtfError::BadMagic { elf: true, .. }
    ));
    assert!(matches!(
        err(&[0u8; 24]),
        BtfError::BadMagic { elf: false, .. }
    ));
    let good = blob(&[0, info(KIND_INT, 0), 4, 32], b"\0");
    assert!(Btf::parse(&good).is_ok());

    let mut bad = good.clone();
    bad[2] = 2;
    assert_eq!(err(&bad), BtfError::UnsupportedVersion { version: 2 });
    let mut bad = good.clone();
    bad[4] = 200;
    assert!(matches!(
        err(&bad),
        BtfError::BadHeaderLength { hdr_len: 200, .. }
    ));
    let mut bad = good.clone();
    bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        err(&bad),
        BtfError::SectionOutOfBounds {
            section: "type",
            ..
        }
    ));
    assert!(matches!(
        err(&good[..good.len() - 1]),
        BtfError::SectionOutOfBounds {
            section: "string",
            ..
        }
    ));

    assert!(matches!(
        err(&blob(&[], b"x\0")),
        BtfError::BadStrings { .. }
    ));
    assert!(matches!(
        err(&blob(&[], b"\0x")),
        BtfError::BadStrings { .. }
    ));
    assert!(matches!(
        err(&blob(&[], b"\0\xff\0")),
        BtfError::BadStrings { .. }
    ));
    assert!(matches!(
        err(&blob(&[0, info(KIND_INT, 0), 4], b"\0")),
        BtfError::TruncatedType { id: 1, offset: 0 }
    ));
    assert!(matches!(
        err(&blob(&[0, info(KIND_STRUCT, 2), 4, 0, 1, 0], b"\0")),
        BtfError::TruncatedType { .. }
    ));
    assert!(matches!(
        err(&blob(&[0, info(25, 0), 0], b"\0")),
        BtfError::UnknownKind {
            id: 1,
            kind: 25,
            ..
        }
    ));
    assert!(matches!(
        err(&blob(&[0, info(0, 0), 0], b"\0")),
        BtfError::UnknownKind { kind: 0, .. }
    ));
    assert_eq!(
        err(&blob(&[0, info(KIND_PTR, 0), 7], b"\0")),
        BtfError::DanglingType {
            id: 1,
            refers_to: 7,
            count: 2
        }
    );
    assert!(matches!(
        err(&blob(&[9, info(KIND_PTR, 0), 0], b"\0a\0")),
        BtfError::BadName {
            id: 1,
            name_off: 9,
            ..
        }
    ));
    // A name offset into the middle of a multi-byte character.
    assert!(matches!(
        err(&blob(&[2, info(KIND_FWD, 0), 0], "\0é\0".as_bytes())),
        BtfError::BadName { .. }
    ));
    assert!(matches!(
        err(&blob(&[0, info(KIND_STRUCT, 1), 4, 5, 0, 0], b"\0")),
        BtfError::BadName {
            id: 1,
            name_off: 5,
            ..
        }
    ));
}

#[test]
fn error_messages_are_lower_case_without_final_period() {
    let errors = [
        BtfError::TooShort { len: 3 },
        BtfError::BadMagic {
            found: [0x7f, b'E'],
            elf: true,
        },
        BtfError::BadMagic {
            found: [0, 0],
            elf: false,
        },
        BtfError::UnsupportedVersion { version: 9 },
        BtfError::BadHeaderLength {
            hdr_len: 1,
            len: 30,
        },
        BtfError::SectionOutOfBounds {
            section: "type",
            start: 24,
            len: 100,
            available: 30,
        },
        BtfError::BadStrings {
            reason: "it is not valid UTF-8",
        },
        BtfError::TruncatedType { id: 3, offset: 40 },
        BtfError::UnknownKind {
            id: 3,
            kind: 25,
            offset: 40,
        },
        BtfError::BadName {
            id: 3,
            name_off: 99,
            str_len: 10,
        },
        BtfError::DanglingType {
            id: 3,
            refers_to: 99,
            count: 10,
        },
        BtfError::Elf {
            reason: "no `.BTF` section".into(),
        },
        BtfError::TooLarge {
            what: "type section",
        },
    ];
    for e in errors {
        let text = e.to_string();
        assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
        assert!(!text.ends_with('.'), "{text}");
        let _: &dyn std::error::Error = &e;
    }
}

#[test]
fn cycles_end_every_walk() {
    // 1 typedef a -> 2; 2 typedef b -> 1; 3 struct s { struct s; } (anonymous member of its
    // own type); 4 ptr -> 3; 5 array of 5
    let strings = b"\0a\0b\0s\0x\0";
    let types = [
        1,
        info(KIND_TYPEDEF, 0),
        2, //
        3,
        info(KIND_TYPEDEF, 0),
        1, //
        5,
        info(KIND_STRUCT, 1),
        4,
        0,
        3,
        0, //
        0,
        info(KIND_PTR, 0),
        3, //
        0,
        info(KIND_ARRAY, 0),
        0,
        5,
        0,
        2,
    ];
    let btf = Btf::parse(&blob(&types, strings)).unwrap();
    assert_eq!(btf.strip(1), None);
    assert_eq!(btf.shape(1), TypeShape::Other);
    assert_eq!(btf.size_of(1), None);
    assert_eq!(btf.size_of(5), None);
    assert_eq!(btf.member(1, "x"), None);
    assert_eq!(btf.member(3, "x"), None);
    assert!(btf.members(3).is_empty());
    assert_eq!(btf.type_name(1), "a");
    assert!(btf.type_name(5).contains('…'));
    let cut = btf.cut(&[], &["s", "a"]).unwrap();
    let small = Btf::parse(&cut).unwrap();
    assert_eq!(small.type_count(), 4, "void, typedefs a and b, struct s");
}

/// Cheap deterministic randomness for the corruption test.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn corrupted_blobs_never_panic() {
    let good = sample(false);
    let mut state = 0x9e37_79b9_7f4a_7c15;
    for round in 0..5000 {
        let mut bytes = good.clone();
        match round % 3 {
            0 => bytes.truncate(xorshift(&mut state) as usize % good.len()),
            _ => {
                for _ in 0..1 + round % 4 {
                    let at = xorshift(&mut state) as usize % bytes.len();
                    bytes[at] = xorshift(&mut state) as u8;
                }
            }
        }
        let Ok(btf) = Btf::parse(&bytes) else {
            continue;
        };
        for id in 0..btf.type_count() + 2 {
            let _ = (
                btf.shape(id),
                btf.type_name(id),
                btf.size_of(id),
                btf.members(id),
            );
            let _ = btf.member(id, "f_path");
        }
        let _ = btf.hook_params("file_open");
        let _ = btf.find_struct("kuid_t");
        if let Ok(cut) = btf.cut(&["file_open"], &["file", "kuid_t"]) {
            Btf::parse(&cut).unwrap();
        }
    }
}
