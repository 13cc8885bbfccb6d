//! Every object krsi writes is read back by someone else's reader: aya-obj, the parser behind
//! the loader `krsic load` uses. Then by ours, which must agree.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};

use aya_obj::generated::bpf_insn;
use aya_obj::{Object, ProgramSection};
use compiler::bpf::{self, AluOp, Assembler, Insn, JmpCond, MapRelocation, Reg::*, Size};
use compiler::elf::{read_object, write_object, DataSection, MapSpec, ObjectSpec, ProgramSpec};

const SCOPE: &str = "krsi_scope";
const EVENTS: &str = "krsi_events";

/// A deny-unless-in-scope program: looks the cgroup id up in `krsi_scope`, returns -EPERM when
/// found. `extra_map` adds a second map reference, so the two programs differ in relocations.
fn program(symbol: &str, section: &str, errno: i32, extra_map: Option<&str>) -> ProgramSpec {
    let mut asm = Assembler::new();
    let allow = asm.new_label();
    asm.set_origin(Some(0))
        .call_helper(80) // get_current_cgroup_id
        .store_reg(Size::DW, R10, -8, R0)
        .ld_map_fd(R1, SCOPE)
        .mov64_reg(R2, R10)
        .alu64_imm(AluOp::Add, R2, -8)
        .call_helper(1) // map_lookup_elem
        .jump_imm(JmpCond::Eq, R0, 0, allow);
    if let Some(map) = extra_map {
        asm.set_origin(Some(1))
            .ld_map_fd(R1, map)
            .mov64_reg(R2, R10)
            .alu64_imm(AluOp::Add, R2, -8)
            .mov64_imm(R3, 8)
            .mov64_imm(R4, 0)
            .call_helper(130); // ringbuf_output
    }
    asm.mov64_imm(R0, -errno)
        .exit()
        .bind(allow)
        .mov64_imm(R0, 0)
        .exit();
    ProgramSpec {
        symbol: symbol.into(),
        section: section.into(),
        code: asm.finish().unwrap(),
    }
}

fn spec() -> ObjectSpec {
    ObjectSpec {
        programs: vec![
            program("krsi_exec", "lsm/bprm_check_security", 1, None),
            program("krsi_open", "lsm.s/file_open", 13, Some(EVENTS)),
        ],
        maps: vec![
            MapSpec {
                symbol: SCOPE.into(),
                map_type: 1, // hash
                key_size: 8,
                value_size: 1,
                max_entries: 64,
                flags: 0,
            },
            MapSpec {
                symbol: EVENTS.into(),
                map_type: 27, // ringbuf
                key_size: 0,
                value_size: 0,
                max_entries: 1 << 16,
                flags: 0,
            },
        ],
        license: "GPL".into(),
        data: Vec::new(),
    }
}

fn raw(insn: &bpf_insn) -> Insn {
    Insn::new(
        insn.code,
        insn.dst_reg(),
        insn.src_reg(),
        insn.off,
        insn.imm,
    )
}

#[test]
fn aya_reads_programs_maps_license_and_relocations() {
    let spec = spec();
    let bytes = write_object(&spec).unwrap();
    let mut obj = Object::parse(&bytes).expect("aya-obj parses what krsi writes");

    assert_eq!(obj.license.to_str().unwrap(), "GPL");

    // Programs: found by symbol name, with the sleepable flag taken from the section prefix.
    let mut names: Vec<_> = obj.programs.keys().cloned().collect();
    names.sort();
    assert_eq!(names, ["krsi_exec", "krsi_open"]);
    assert!(matches!(
        obj.programs["krsi_exec"].section,
        ProgramSection::Lsm { sleepable: false }
    ));
    assert!(matches!(
        obj.programs["krsi_open"].section,
        ProgramSection::Lsm { sleepable: true }
    ));
    for program in &spec.programs {
        let key = obj.programs[&program.symbol].function_key();
        let function = &obj.functions[&key];
        assert_eq!(function.name, program.symbol);
        let insns: Vec<Insn> = function.instructions.iter().map(raw).collect();
        assert_eq!(insns, program.code.insns, "{}", program.symbol);
    }

    // Maps: legacy definitions, one per symbol.
    assert_eq!(obj.maps.len(), spec.maps.len());
    for map in &spec.maps {
        let m = &obj.maps[&map.symbol];
        assert_eq!(
            (
                m.map_type(),
                m.key_size(),
                m.value_size(),
                m.max_entries(),
                m.map_flags()
            ),
            (
                map.map_type,
                map.key_size,
                map.value_size,
                map.max_entries,
                map.flags
            ),
            "{}",
            map.symbol
        );
    }

    // Relocations: let aya patch fake fds in, and check that exactly the slots the assembler
    // recorded now load the right map.
    let fds: HashMap<&str, i32> = [(SCOPE, 41), (EVENTS, 42)].into_iter().collect();
    let maps = obj.maps.clone();
    obj.relocate_maps(
        maps.iter()
            .map(|(name, map)| (name.as_str(), fds[name.as_str()], map)),
        &HashSet::new(),
    )
    .expect("aya relocates the map references");
    for program in &spec.programs {
        let key = obj.programs[&program.symbol].function_key();
        let insns = &obj.functions[&key].instructions;
        let mut patched = Vec::new();
        for (slot, insn) in insns.iter().enumerate() {
            if let Some((name, _)) = fds.iter().find(|(_, &fd)| insn.imm == fd) {
                if insn.code == bpf::Opcode::LdImm64.code() {
                    assert_eq!(insn.src_reg(), 1, "BPF_PSEUDO_MAP_FD");
                    patched.push(MapRelocation {
                        slot,
                        symbol: name.to_string(),
                    });
                }
            }
        }
        assert_eq!(patched, program.code.relocations, "{}", program.symbol);
    }
    assert_eq!(spec.programs[0].code.relocations.len(), 1);
    assert_eq!(spec.programs[1].code.relocations.len(), 2);
}

#[test]
fn read_object_round_trip() {
    let spec = spec();
    let bytes = write_object(&spec).unwrap();
    let contents = read_object(&bytes).unwrap();
    assert_eq!(contents.license, spec.license);
    assert_eq!(contents.maps, spec.maps);
    assert_eq!(contents.programs.len(), spec.programs.len());
    for (read, written) in contents.programs.iter().zip(&spec.programs) {
        assert_eq!(read.symbol, written.symbol);
        assert_eq!(read.section, written.section);
        assert_eq!(read.insns, written.code.insns);
        assert_eq!(read.relocations, written.code.relocations);
    }
    // Writing what was read gives the same file.
    let again = ObjectSpec {
        programs: contents
            .programs
            .iter()
            .map(|p| ProgramSpec {
                symbol: p.symbol.clone(),
                section: p.section.clone(),
                code: bpf::Code {
                    insns: p.insns.clone(),
                    relocations: p.relocations.clone(),
                    origins: vec![None; p.insns.len()],
                    functions: p.functions.clone(),
                },
            })
            .collect(),
        maps: contents.maps.clone(),
        license: contents.license.clone(),
        data: contents.data.clone(),
    };
    assert_eq!(write_object(&again).unwrap(), bytes);
}

#[test]
fn disassembly_of_a_read_object_names_its_maps() {
    let bytes = write_object(&spec()).unwrap();
    let contents = read_object(&bytes).unwrap();
    let open = &contents.programs[1];
    let text = bpf::disassemble_with(&open.insns, &open.relocations).unwrap();
    assert!(text.contains("   2: r1 = map[krsi_scope] ll\n"), "{text}");
    assert!(text.contains("r1 = map[krsi_events] ll\n"), "{text}");
    assert!(text.contains("call 130 ; ringbuf_output\n"), "{text}");
}

#[test]
fn an_object_without_maps_has_no_maps_section() {
    let spec = ObjectSpec {
        programs: vec![program("krsi_exec", "lsm/bprm_check_security", 1, None)],
        maps: vec![],
        license: "GPL".into(),
        data: Vec::new(),
    };
    // A program that loads no map.
    let mut spec = spec;
    let mut asm = Assembler::new();
    asm.mov64_imm(R0, 0).exit();
    spec.programs[0].code = asm.finish().unwrap();
    let bytes = write_object(&spec).unwrap();
    let obj = Object::parse(&bytes).unwrap();
    assert!(obj.maps.is_empty());
    assert_eq!(obj.programs.len(), 1);
    assert_eq!(read_object(&bytes).unwrap().maps, vec![]);
}

/// Data sections: aya-obj makes `.rodata` (the glob automata's tables) a one-entry array
/// map, read-only to programs, and `.data.krsi_gate` (the version gate) a writable one, each
/// holding its bytes, and relocates a load of an address in either into a
/// `BPF_PSEUDO_MAP_VALUE` of that map at the offset the instruction carried; our reader gets
/// the sections back.
#[test]
fn aya_reads_data_sections_and_relocates_a_map_value_load() {
    let gate = compiler::codegen::GATE_MAP;
    let mut asm = Assembler::new();
    asm.ld_map_value(R1, compiler::elf::RODATA_SECTION, 24)
        .load(Size::B, R0, R1, 0)
        .ld_map_value(R2, gate, 0)
        .load(Size::DW, R2, R2, 0)
        .exit();
    let rodata: Vec<u8> = (0..64).collect();
    let data = vec![
        DataSection {
            name: compiler::elf::RODATA_SECTION.into(),
            bytes: rodata.clone(),
        },
        DataSection {
            name: gate.into(),
            bytes: 7u64.to_le_bytes().to_vec(),
        },
    ];
    let spec = ObjectSpec {
        programs: vec![ProgramSpec {
            symbol: "krsi_open".into(),
            section: "lsm/file_open".into(),
            code: asm.finish().unwrap(),
        }],
        maps: Vec::new(),
        license: "GPL".into(),
        data: data.clone(),
    };
    let bytes = write_object(&spec).unwrap();
    assert_eq!(read_object(&bytes).unwrap().data, data);
    let mut obj = Object::parse(&bytes).expect("aya-obj parses what krsi writes");
    let shape = |map: &aya_obj::Map| {
        (
            map.map_type(),
            map.key_size(),
            map.value_size(),
            map.max_entries(),
            map.map_flags(),
        )
    };
    let (read_only, gate_map) = (&obj.maps[".rodata"], &obj.maps[gate]);
    assert_eq!(shape(read_only), (2, 4, 64, 1, 1 << 7), "BPF_F_RDONLY_PROG");
    assert_eq!(read_only.data(), rodata.as_slice());
    assert_eq!(shape(gate_map), (2, 4, 8, 1, 0), "writable by the program");
    assert_eq!(gate_map.data(), 7u64.to_le_bytes());
    // aya overrides a global by its symbol: the runtime writes the gate this way.
    obj.patch_map_data(HashMap::from([(gate, (&9u64.to_le_bytes()[..], true))]))
        .expect("the gate's symbol is found");
    assert_eq!(obj.maps[gate].data(), 9u64.to_le_bytes());
    let maps = obj.maps.clone();
    obj.relocate_maps(
        maps.iter().map(|(name, map)| {
            let fd = if name == gate { 78 } else { 77 };
            (name.as_str(), fd, map)
        }),
        &HashSet::new(),
    )
    .expect("aya relocates the value loads");
    let key = obj.programs["krsi_open"].function_key();
    let insns = &obj.functions[&key].instructions;
    assert_eq!(insns[0].src_reg(), 2, "BPF_PSEUDO_MAP_VALUE");
    assert_eq!((insns[0].imm, insns[1].imm), (77, 24));
    assert_eq!(insns[3].src_reg(), 2, "BPF_PSEUDO_MAP_VALUE");
    assert_eq!((insns[3].imm, insns[4].imm), (78, 0));
}

/// A program whose entry calls `outer`, which calls `inner` and loads a map: the layout of the
/// iterator, whose `decision` calls `report`.
fn nested(symbol: &str, section: &str) -> ProgramSpec {
    let mut asm = Assembler::new();
    let (outer, inner) = (asm.new_label(), asm.new_label());
    asm.mov64_imm(R1, 1)
        .call_function(outer)
        .exit()
        .function("outer", outer)
        .call_function(inner)
        .ld_map_fd(R1, SCOPE)
        .alu64_imm(AluOp::Add, R0, 1)
        .exit()
        .function("inner", inner)
        .mov64_imm(R0, 2)
        .exit();
    ProgramSpec {
        symbol: symbol.into(),
        section: section.into(),
        code: asm.finish().unwrap(),
    }
}

/// The functions go to `.text` with a relocation on each call: aya-obj takes only the entries
/// for programs and links each with its own functions, a function's callee included, into
/// exactly the code written; our reader gives the programs back as written.
#[test]
fn functions_that_call_functions_are_linked_as_written() {
    let spec = ObjectSpec {
        programs: vec![
            nested("krsi_open", "iter/task_file"),
            nested("krsi_exec", "lsm/bprm_check_security"),
            program("krsi_mmap", "lsm/mmap_file", 1, None),
        ],
        ..spec()
    };
    let bytes = write_object(&spec).unwrap();
    let mut obj = Object::parse(&bytes).unwrap();
    assert_eq!(obj.programs.len(), 3, "functions are no programs");
    // As written, each call's `imm` is -1, which libbpf adds (plus one) to its symbol's slot.
    let calls: Vec<i32> = obj
        .functions
        .values()
        .flat_map(|f| &f.instructions)
        .filter(|i| i.code == 0x85 && i.src_reg() == bpf::PSEUDO_CALL)
        .map(|i| i.imm)
        .collect();
    assert_eq!(calls, [-1; 4]);
    let text: HashSet<usize> = obj.functions.keys().map(|(section, _)| *section).collect();
    obj.relocate_calls(&text).unwrap();
    for program in &spec.programs {
        let key = obj.programs[&program.symbol].function_key();
        let linked: Vec<Insn> = obj.functions[&key].instructions.iter().map(raw).collect();
        assert_eq!(linked, program.code.insns, "{}", program.symbol);
    }
    let contents = read_object(&bytes).unwrap();
    for (read, written) in contents.programs.iter().zip(&spec.programs) {
        assert_eq!(read.insns, written.code.insns, "{}", written.symbol);
        assert_eq!(read.functions, written.code.functions, "{}", written.symbol);
        assert_eq!(
            read.relocations, written.code.relocations,
            "{}",
            written.symbol
        );
    }
    assert_eq!(
        contents.programs[0].relocations,
        [MapRelocation {
            slot: 4,
            symbol: SCOPE.into()
        }]
    );
}

/// Code `.text` cannot hold is refused before anything is written: a call into the middle of
/// a function, or functions out of order.
#[test]
fn calls_that_begin_no_function_are_refused() {
    let mut into_the_middle = nested("krsi_open", "iter/task_file");
    into_the_middle.code.insns[1].imm += 1;
    let mut out_of_order = nested("krsi_open", "iter/task_file");
    out_of_order.code.functions.swap(0, 1);
    for program in [into_the_middle, out_of_order] {
        let spec = ObjectSpec {
            programs: vec![program],
            ..spec()
        };
        assert!(matches!(
            write_object(&spec),
            Err(compiler::elf::ElfError::BadFunctions { .. })
        ));
    }
}
