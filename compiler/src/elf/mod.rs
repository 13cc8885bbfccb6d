//! BPF ELF objects: written for aya's loader, and read back for `krsic disasm` and `krsic load`.
//!
//! The layout is the one KERNEL.md measured aya 0.14 to accept, and `.text` for the functions
//! the programs call (loaded in both guests since 2026-12-07):
//!
//! - one section per program, named after its attach point (`lsm/<hook>`, `lsm.s/<hook>`,
//!   `iter/task_file`), executable, 8-byte aligned, holding one global `STT_FUNC` symbol at
//!   offset 0 whose size is the program's code (aya finds programs by this symbol's name; size
//!   0 makes the kernel say E2BIG);
//! - a `.text` section with the functions the programs call (bpf-to-bpf), as clang writes
//!   static functions: each program's together and in its order, each a local `STT_FUNC`
//!   symbol `<program>.<function>`. Every call (`call` with `src_reg` 1) has an `R_BPF_64_32`
//!   relocation against its function's symbol and `imm` -1, which aya (the symbol's address)
//!   and libbpf (the symbol's slot plus `imm + 1`) both read as the function's start. A loader
//!   links each program's functions after its code. Functions in the program's own section
//!   are what aya-obj 0.3 misreads: it takes every function symbol of a program section for a
//!   program of its own and links each in place, so a function that calls another (the
//!   iterator's `decision`, which calls `report`) could be linked twice into a program;
//! - a `license` section with the NUL-terminated license string;
//! - a legacy `maps` section of 20-byte little-endian `{type, key_size, value_size,
//!   max_entries, flags}` records, one global `STT_OBJECT` symbol per map;
//! - an `R_BPF_64_64` relocation, addend 0, on every `ld_imm64` that loads a map, against the
//!   map's symbol; the loader writes the map's fd into the instruction.
//!
//! - a section for each block of data the programs address directly ([`DataSection`]): the
//!   constant data of `.rodata` (the glob automata's tables) and the words of `.data.*` (the
//!   version gate), each holding one `STT_OBJECT` symbol of the section's own name at its
//!   start; an `ld_imm64` that loads an address in it (`BPF_PSEUDO_MAP_VALUE`, the offset in
//!   the first slot's `imm`, as clang writes it) has an `R_BPF_64_64` relocation against that
//!   symbol. The loader makes each section a one-entry array map named after it (`.rodata`
//!   read-only to programs and frozen), and writes the map and the offset into the
//!   instruction.
//!
//! No `.BTF` is written: LSM programs and legacy maps load without it.

use std::collections::HashSet;
use std::fmt;

use object::write::{Object, Relocation, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope,
};

use crate::bpf::{self, Code, DecodeError, Insn, MapRelocation, Opcode};

mod read;
pub use read::read_object;

/// Size of one legacy map definition record.
pub const MAP_DEF_SIZE: usize = 20;

/// Name of the legacy map definitions section.
pub const MAPS_SECTION: &str = "maps";

/// Name of the license section.
pub const LICENSE_SECTION: &str = "license";

/// Name of the read-only data section.
pub const RODATA_SECTION: &str = ".rodata";

/// What a writable data section's name begins with.
pub const DATA_SECTION_PREFIX: &str = ".data";

/// A block of data the programs address directly, without a map lookup: the loader makes it
/// a one-entry array map named `name`, whose value holds `bytes` (read-only to the programs
/// and frozen for [`RODATA_SECTION`], writable for a name beginning [`DATA_SECTION_PREFIX`]).
/// Loads of its addresses are relocated against the symbol of the same name at its start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSection {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl DataSection {
    /// Whether the loader reads `name` as a data section (aya's `EbpfSectionKind`).
    pub fn is_data_name(name: &str) -> bool {
        name == RODATA_SECTION || name.starts_with(DATA_SECTION_PREFIX)
    }

    /// Whether the programs may write it.
    pub fn writable(&self) -> bool {
        self.name != RODATA_SECTION
    }
}

/// A program to write: its code goes into section `section` under symbol `symbol`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// The name the loader finds the program by.
    pub symbol: String,
    /// `lsm/<hook>` or `lsm.s/<hook>` (sleepable).
    pub section: String,
    pub code: Code,
}

/// A legacy map definition (`struct bpf_map_def` without its optional fields).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MapSpec {
    pub symbol: String,
    /// `enum bpf_map_type`, e.g. 1 hash, 2 array, 27 ring buffer.
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
}

impl MapSpec {
    fn to_bytes(&self) -> [u8; MAP_DEF_SIZE] {
        let mut bytes = [0; MAP_DEF_SIZE];
        let fields = [
            self.map_type,
            self.key_size,
            self.value_size,
            self.max_entries,
            self.flags,
        ];
        for (chunk, field) in bytes.chunks_exact_mut(4).zip(fields) {
            chunk.copy_from_slice(&field.to_le_bytes());
        }
        bytes
    }

    fn from_bytes(symbol: String, bytes: &[u8; MAP_DEF_SIZE]) -> Self {
        let field = |i: usize| {
            let mut word = [0; 4];
            word.copy_from_slice(&bytes[i * 4..i * 4 + 4]);
            u32::from_le_bytes(word)
        };
        MapSpec {
            symbol,
            map_type: field(0),
            key_size: field(1),
            value_size: field(2),
            max_entries: field(3),
            flags: field(4),
        }
    }
}

/// Everything that goes into one object file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectSpec {
    pub programs: Vec<ProgramSpec>,
    pub maps: Vec<MapSpec>,
    /// Written NUL-terminated; the kernel checks it for GPL compatibility.
    pub license: String,
    /// The data the programs address directly, each block never empty.
    pub data: Vec<DataSection>,
}

/// A program read back from an object file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectProgram {
    pub section: String,
    pub symbol: String,
    pub insns: Vec<Insn>,
    /// Map relocations, with slots relative to the program's first instruction.
    pub relocations: Vec<MapRelocation>,
    /// The functions the program calls, from its `.text` symbols (`<program>.<function>`),
    /// after its entry in `insns`.
    pub functions: Vec<bpf::Function>,
}

/// What [`read_object`] found in an object file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectContents {
    /// In section order.
    pub programs: Vec<ObjectProgram>,
    /// In the order of their definitions in the `maps` section.
    pub maps: Vec<MapSpec>,
    /// Empty when the object has no `license` section.
    pub license: String,
    /// The data sections, in section order.
    pub data: Vec<DataSection>,
}

/// Why an object could not be written or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// A symbol, section or license that is empty or contains a NUL byte.
    InvalidName { what: &'static str, name: String },
    /// A section name the loader reads as something other than a program (`maps`, `.text`,
    /// ...).
    ReservedSection(String),
    /// A program section that is not `lsm/<hook>` or `lsm.s/<hook>`.
    NotAnLsmSection(String),
    /// Two programs or maps with the same symbol.
    DuplicateSymbol(String),
    /// Two programs in the same section.
    DuplicateSection(String),
    /// A program with no instructions.
    EmptyProgram(String),
    /// A program whose code does not decode.
    InvalidCode { program: String, error: DecodeError },
    /// A relocation naming a map the object does not define.
    UnknownMap { program: String, map: String },
    /// A relocation that is not on an `ld_imm64` in the program, or not of a kind krsi writes.
    BadRelocation {
        program: String,
        offset: u64,
        reason: &'static str,
    },
    /// Functions that do not follow the program's entry in order, or a call that begins none:
    /// code `.text` cannot hold.
    BadFunctions {
        program: String,
        reason: &'static str,
    },
    /// The `object` crate refused to write the file.
    Write(String),
    /// The bytes are not an ELF file.
    Read(String),
    /// An ELF file for another machine than BPF.
    NotBpf,
    /// An ELF file for BPF that does not have the layout described in the module docs.
    Malformed(String),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::InvalidName { what, name } => {
                write!(f, "invalid {what} name `{}`", name.escape_debug())
            }
            ElfError::ReservedSection(name) => write!(
                f,
                "section name `{name}` is reserved for data, not programs"
            ),
            ElfError::NotAnLsmSection(name) => write!(
                f,
                "program section `{name}` is not `lsm/<hook>`, `lsm.s/<hook>` or `{TASK_FILE_ITERATOR_SECTION}`"
            ),
            ElfError::DuplicateSymbol(name) => write!(f, "symbol `{name}` is defined twice"),
            ElfError::DuplicateSection(name) => {
                write!(f, "two programs share the section `{name}`")
            }
            ElfError::EmptyProgram(name) => write!(f, "program `{name}` has no instructions"),
            ElfError::InvalidCode { program, error } => {
                write!(f, "program `{program}`: {error}")
            }
            ElfError::UnknownMap { program, map } => {
                write!(f, "program `{program}` refers to undefined map `{map}`")
            }
            ElfError::BadRelocation {
                program,
                offset,
                reason,
            } => write!(
                f,
                "program `{program}`: relocation at byte {offset}: {reason}"
            ),
            ElfError::BadFunctions { program, reason } => {
                write!(f, "program `{program}`: {reason}")
            }
            ElfError::Write(message) => write!(f, "cannot write the object: {message}"),
            ElfError::Read(message) => write!(f, "not an ELF object: {message}"),
            ElfError::NotBpf => write!(f, "the object is not for the BPF machine"),
            ElfError::Malformed(message) => write!(f, "malformed BPF object: {message}"),
        }
    }
}

impl std::error::Error for ElfError {}

/// Section name prefixes that aya (and libbpf) read as something other than a program
/// (`.` covers `.text`, `.maps`, `.data`, `.rodata`, `.bss` and `.BTF`).
const RESERVED_SECTION_PREFIXES: [&str; 4] = [LICENSE_SECTION, "version", MAPS_SECTION, "."];

fn check_name(what: &'static str, name: &str) -> Result<(), ElfError> {
    if name.is_empty() || name.contains('\0') {
        return Err(ElfError::InvalidName {
            what,
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Where the programs' functions are: clang's section for code that is no program.
pub const TEXT_SECTION: &str = ".text";

/// The section of a `file_open` decision compiled as an iterator
/// ([`crate::ir::Attach::TaskFileIterator`]): aya and libbpf load it as an iterator of the
/// kernel's `bpf_iter_task_file`. The runtime never attaches it.
pub const TASK_FILE_ITERATOR_SECTION: &str = "iter/task_file";

/// The LSM hook a program section names: `lsm/<hook>` or `lsm.s/<hook>` (sleepable).
pub fn lsm_hook(section: &str) -> Option<&str> {
    section
        .strip_prefix("lsm/")
        .or_else(|| section.strip_prefix("lsm.s/"))
        .filter(|hook| !hook.is_empty())
}

fn check_spec(spec: &ObjectSpec) -> Result<(), ElfError> {
    // aya refuses an empty license (it reads it as a C string), and the kernel wants a GPL
    // compatible one for the helpers krsi calls.
    if spec.license.is_empty() || spec.license.contains('\0') {
        return Err(ElfError::InvalidName {
            what: "license",
            name: spec.license.clone(),
        });
    }
    let mut symbols = HashSet::new();
    for map in &spec.maps {
        check_name("map symbol", &map.symbol)?;
        if !symbols.insert(map.symbol.as_str()) {
            return Err(ElfError::DuplicateSymbol(map.symbol.clone()));
        }
    }
    let mut maps: HashSet<&str> = spec.maps.iter().map(|m| m.symbol.as_str()).collect();
    for data in &spec.data {
        // aya makes a map of a section by its name, and an empty one of none.
        if !DataSection::is_data_name(&data.name) || data.bytes.is_empty() {
            return Err(ElfError::InvalidName {
                what: "data section",
                name: data.name.clone(),
            });
        }
        if !symbols.insert(data.name.as_str()) {
            return Err(ElfError::DuplicateSymbol(data.name.clone()));
        }
        maps.insert(data.name.as_str());
    }
    let mut sections = HashSet::new();
    for program in &spec.programs {
        check_name("program symbol", &program.symbol)?;
        check_name("section", &program.section)?;
        if RESERVED_SECTION_PREFIXES
            .iter()
            .any(|p| program.section.starts_with(p))
        {
            return Err(ElfError::ReservedSection(program.section.clone()));
        }
        // krsi objects hold LSM programs only; aya reads any other prefix as another program
        // type, or refuses it.
        if lsm_hook(&program.section).is_none() && program.section != TASK_FILE_ITERATOR_SECTION {
            return Err(ElfError::NotAnLsmSection(program.section.clone()));
        }
        if !symbols.insert(program.symbol.as_str()) {
            return Err(ElfError::DuplicateSymbol(program.symbol.clone()));
        }
        if !sections.insert(program.section.as_str()) {
            return Err(ElfError::DuplicateSection(program.section.clone()));
        }
        let insns = &program.code.insns;
        if insns.is_empty() {
            return Err(ElfError::EmptyProgram(program.symbol.clone()));
        }
        bpf::validate(insns).map_err(|error| ElfError::InvalidCode {
            program: program.symbol.clone(),
            error,
        })?;
        check_functions(program)?;
        for relocation in &program.code.relocations {
            if !maps.contains(relocation.symbol.as_str()) {
                return Err(ElfError::UnknownMap {
                    program: program.symbol.clone(),
                    map: relocation.symbol.clone(),
                });
            }
            let on_ld_imm64 = insns
                .get(relocation.slot)
                .is_some_and(|insn| insn.opcode() == Some(Opcode::LdImm64));
            if !on_ld_imm64 {
                return Err(ElfError::BadRelocation {
                    program: program.symbol.clone(),
                    offset: (relocation.slot * Insn::SIZE) as u64,
                    reason: "not on a 64-bit immediate load",
                });
            }
        }
    }
    Ok(())
}

/// The program's functions follow its entry, in order, each with a name of its own, and every
/// bpf-to-bpf call begins one: only such code goes into `.text` as [`write_object`] lays it out.
fn check_functions(program: &ProgramSpec) -> Result<(), ElfError> {
    let bad = |reason| ElfError::BadFunctions {
        program: program.symbol.clone(),
        reason,
    };
    let code = &program.code;
    let functions = &code.functions;
    let mut names = HashSet::new();
    for function in functions {
        check_name("function name", &function.name)?;
        if !names.insert(function.name.as_str()) {
            return Err(bad("two functions of one name"));
        }
    }
    let in_order = functions.windows(2).all(|w| w[0].start < w[1].start)
        && functions.first().is_none_or(|f| f.start > 0)
        && functions.last().is_none_or(|f| f.start < code.insns.len());
    if !in_order {
        return Err(bad("functions out of order, or outside the code"));
    }
    for (slot, insn) in code.insns.iter().enumerate() {
        let call = insn.opcode() == Some(Opcode::Call) && insn.src == bpf::PSEUDO_CALL;
        if call && called_function(code, slot, insn).is_none() {
            return Err(bad("a bpf-to-bpf call that begins no function"));
        }
    }
    Ok(())
}

/// The index of the function that the bpf-to-bpf call at `slot` of `code` calls, if `insn` (the
/// instruction there) is one.
fn called_function(code: &Code, slot: usize, insn: &Insn) -> Option<usize> {
    if insn.opcode() != Some(Opcode::Call) || insn.src != bpf::PSEUDO_CALL {
        return None;
    }
    let target = bpf::call_target(slot, insn.imm);
    code.functions
        .iter()
        .position(|f| i64::try_from(f.start).is_ok_and(|start| start == target))
}

/// The object file for `spec`, laid out as the module documentation describes.
pub fn write_object(spec: &ObjectSpec) -> Result<Vec<u8>, ElfError> {
    check_spec(spec)?;
    let write_error = |e: object::write::Error| ElfError::Write(e.to_string());
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);

    let license = obj.add_section(
        Vec::new(),
        LICENSE_SECTION.as_bytes().to_vec(),
        SectionKind::Data,
    );
    let mut license_bytes = spec.license.as_bytes().to_vec();
    license_bytes.push(0);
    obj.append_section_data(license, &license_bytes, 1);

    let mut map_symbols = std::collections::HashMap::new();
    if !spec.maps.is_empty() {
        let maps = obj.add_section(
            Vec::new(),
            MAPS_SECTION.as_bytes().to_vec(),
            SectionKind::Data,
        );
        for map in &spec.maps {
            let offset = obj.append_section_data(maps, &map.to_bytes(), 4);
            let id = obj.add_symbol(Symbol {
                name: map.symbol.as_bytes().to_vec(),
                value: offset,
                size: MAP_DEF_SIZE as u64,
                kind: SymbolKind::Data,
                scope: SymbolScope::Dynamic,
                weak: false,
                section: SymbolSection::Section(maps),
                flags: SymbolFlags::None,
            });
            map_symbols.insert(map.symbol.as_str(), id);
        }
    }

    for data in &spec.data {
        let kind = if data.writable() {
            SectionKind::Data
        } else {
            SectionKind::ReadOnlyData
        };
        let section = obj.add_section(Vec::new(), data.name.as_bytes().to_vec(), kind);
        obj.append_section_data(section, &data.bytes, 8);
        let id = obj.add_symbol(Symbol {
            name: data.name.as_bytes().to_vec(),
            value: 0,
            size: data.bytes.len() as u64,
            kind: SymbolKind::Data,
            scope: SymbolScope::Compilation,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        });
        map_symbols.insert(data.name.as_str(), id);
    }

    // One `.text` holds every program's functions, each program's together, in its order.
    let text = spec
        .programs
        .iter()
        .any(|p| !p.code.functions.is_empty())
        .then(|| {
            obj.add_section(
                Vec::new(),
                TEXT_SECTION.as_bytes().to_vec(),
                SectionKind::Text,
            )
        });
    for program in &spec.programs {
        let section = obj.add_section(
            Vec::new(),
            program.section.as_bytes().to_vec(),
            SectionKind::Text,
        );
        let entry_len = program.code.entry_len();
        // A call names its function by relocation, with `imm` -1: a loader that takes the
        // symbol's address (aya) and one that adds `imm + 1` to the symbol's slot (libbpf)
        // both land on the function's first instruction.
        let mut insns = program.code.insns.clone();
        let mut calls = Vec::new();
        for (slot, insn) in insns.iter_mut().enumerate() {
            if let Some(function) = called_function(&program.code, slot, insn) {
                insn.imm = -1;
                calls.push((slot, function));
            }
        }
        let offset = obj.append_section_data(section, &bpf::encode(&insns[..entry_len]), 8);
        let slot_offset = |slot: usize| offset + (slot * Insn::SIZE) as u64;
        obj.add_symbol(Symbol {
            name: program.symbol.as_bytes().to_vec(),
            value: offset,
            size: (entry_len * Insn::SIZE) as u64,
            kind: SymbolKind::Text,
            scope: SymbolScope::Dynamic,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        });
        // The functions the program calls go to `.text`, each a local symbol, as clang writes
        // a static function; a loader links each program's callees after its code.
        let functions = &program.code.functions;
        let mut function_symbols = Vec::new();
        let mut text_offset = 0;
        if let (Some(text), false) = (text, functions.is_empty()) {
            text_offset = obj.append_section_data(text, &bpf::encode(&insns[entry_len..]), 8);
            for (i, function) in functions.iter().enumerate() {
                let end = functions.get(i + 1).map_or(insns.len(), |next| next.start);
                function_symbols.push(obj.add_symbol(Symbol {
                    name: format!("{}.{}", program.symbol, function.name).into_bytes(),
                    value: text_offset + ((function.start - entry_len) * Insn::SIZE) as u64,
                    size: ((end - function.start) * Insn::SIZE) as u64,
                    kind: SymbolKind::Text,
                    scope: SymbolScope::Compilation,
                    weak: false,
                    section: SymbolSection::Section(text),
                    flags: SymbolFlags::None,
                }));
            }
        }
        // Where a slot of the program's code was written.
        let place = |slot: usize| match text {
            Some(text) if slot >= entry_len => {
                (text, text_offset + ((slot - entry_len) * Insn::SIZE) as u64)
            }
            _ => (section, slot_offset(slot)),
        };
        for (slot, function) in calls {
            let (section, offset) = place(slot);
            obj.add_relocation(
                section,
                Relocation {
                    offset,
                    symbol: function_symbols[function],
                    addend: 0,
                    flags: RelocationFlags::Elf {
                        r_type: object::elf::R_BPF_64_32,
                    },
                },
            )
            .map_err(write_error)?;
        }
        for relocation in &program.code.relocations {
            let symbol = map_symbols
                .get(relocation.symbol.as_str())
                .copied()
                .ok_or_else(|| ElfError::UnknownMap {
                    program: program.symbol.clone(),
                    map: relocation.symbol.clone(),
                })?;
            let (section, offset) = place(relocation.slot);
            obj.add_relocation(
                section,
                Relocation {
                    offset,
                    symbol,
                    addend: 0,
                    flags: RelocationFlags::Elf {
                        r_type: object::elf::R_BPF_64_64,
                    },
                },
            )
            .map_err(write_error)?;
        }
    }

    obj.write().map_err(write_error)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::bpf::{Assembler, JmpCond, Reg::*};

    fn program(symbol: &str, section: &str, map: Option<&str>) -> ProgramSpec {
        let mut asm = Assembler::new();
        let out = asm.new_label();
        asm.mov64_imm(R0, 0);
        if let Some(map) = map {
            asm.ld_map_fd(R1, map);
        }
        asm.jump_imm(JmpCond::Eq, R0, 0, out)
            .mov64_imm(R0, -1)
            .bind(out)
            .exit();
        ProgramSpec {
            symbol: symbol.into(),
            section: section.into(),
            code: asm.finish().unwrap(),
        }
    }

    fn map(symbol: &str) -> MapSpec {
        MapSpec {
            symbol: symbol.into(),
            map_type: 2,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            flags: 0,
        }
    }

    fn spec() -> ObjectSpec {
        ObjectSpec {
            programs: vec![
                program("krsi_exec", "lsm/bprm_check_security", Some("krsi_scope")),
                program("krsi_open", "lsm.s/file_open", Some("krsi_scope")),
            ],
            maps: vec![map("krsi_scope")],
            license: "GPL".into(),
            data: Vec::new(),
        }
    }

    #[test]
    fn map_records_are_20_little_endian_bytes() {
        let m = MapSpec {
            symbol: "m".into(),
            map_type: 27,
            key_size: 0,
            value_size: 0,
            max_entries: 1 << 16,
            flags: 0x0102_0304,
        };
        let bytes = m.to_bytes();
        assert_eq!(&bytes[..4], &[27, 0, 0, 0]);
        assert_eq!(&bytes[12..16], &[0, 0, 1, 0]);
        assert_eq!(&bytes[16..], &[4, 3, 2, 1]);
        assert_eq!(MapSpec::from_bytes("m".into(), &bytes), m);
    }

    #[test]
    fn rejects_specs_the_loader_would_misread() {
        let cases: Vec<(ObjectSpec, &str)> = vec![
            (
                ObjectSpec {
                    maps: vec![],
                    ..spec()
                },
                "undefined map",
            ),
            (
                ObjectSpec {
                    programs: vec![program("", "lsm/file_open", None)],
                    ..spec()
                },
                "empty symbol",
            ),
            (
                ObjectSpec {
                    programs: vec![program("krsi_scope", "lsm/file_open", None)],
                    ..spec()
                },
                "program symbol clashes with a map",
            ),
            (
                ObjectSpec {
                    programs: vec![
                        program("a", "lsm/file_open", None),
                        program("b", "lsm/file_open", None),
                    ],
                    ..spec()
                },
                "shared section",
            ),
            (
                ObjectSpec {
                    programs: vec![program("a", "maps/x", None)],
                    ..spec()
                },
                "reserved section",
            ),
            (
                ObjectSpec {
                    programs: vec![ProgramSpec {
                        code: Code::default(),
                        ..program("a", "lsm/file_open", None)
                    }],
                    ..spec()
                },
                "empty program",
            ),
            (
                ObjectSpec {
                    license: "GPL\0x".into(),
                    ..spec()
                },
                "NUL in license",
            ),
        ];
        for (spec, name) in cases {
            assert!(write_object(&spec).is_err(), "{name} should be rejected");
        }

        let mut bad_slot = spec();
        bad_slot.programs[0].code.relocations[0].slot = 0;
        assert!(matches!(
            write_object(&bad_slot),
            Err(ElfError::BadRelocation { .. })
        ));
    }

    #[test]
    fn read_object_never_panics_on_damaged_files() {
        let bytes = write_object(&spec()).unwrap();
        assert!(read_object(&bytes).is_ok());
        for len in 0..bytes.len() {
            let _ = read_object(&bytes[..len]);
        }
        // Flip bytes throughout the file, header and tables included.
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[i] ^= flip;
                let _ = read_object(&damaged);
            }
        }
        assert!(matches!(read_object(b"not an elf"), Err(ElfError::Read(_))));
        assert!(read_object(&[]).is_err());
    }

    #[test]
    fn rejects_elf_for_another_machine() {
        let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
        obj.add_section(Vec::new(), b".text".to_vec(), SectionKind::Text);
        let bytes = obj.write().unwrap();
        assert_eq!(read_object(&bytes), Err(ElfError::NotBpf));
    }
}
