//! BPF ELF objects: written for aya's loader, and read back for `krsic disasm` and `krsic load`.
//!
//! The layout is the one KERNEL.md measured aya 0.14 to accept:
//!
//! - one section per program, named after its attach point (`lsm/<hook>`, `lsm.s/<hook>`),
//!   executable, 8-byte aligned, holding one global `STT_FUNC` symbol at offset 0 whose size is
//!   the program's own code (aya finds programs by this symbol's name; size 0 makes the kernel
//!   say E2BIG), then a local `STT_FUNC` symbol `<program>.<function>` for each function it
//!   calls (bpf-to-bpf, `call` with `src_reg` 1 and a relative `imm`), as clang writes a static
//!   function: aya links the functions a program calls after its code;
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

use object::read::{Object as _, ObjectSection as _, ObjectSymbol as _};
use object::write::{Object, Relocation, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, RelocationTarget, SectionKind,
    SymbolFlags, SymbolKind, SymbolScope,
};

use crate::bpf::{self, Code, DecodeError, Insn, MapRelocation, Opcode};

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
    /// The functions the program calls, from the section's local symbols after it.
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

    for program in &spec.programs {
        let section = obj.add_section(
            Vec::new(),
            program.section.as_bytes().to_vec(),
            SectionKind::Text,
        );
        let code = program.code.to_bytes();
        let offset = obj.append_section_data(section, &code, 8);
        let slot_offset = |slot: usize| offset + (slot * Insn::SIZE) as u64;
        obj.add_symbol(Symbol {
            name: program.symbol.as_bytes().to_vec(),
            value: offset,
            size: (program.code.entry_len() * Insn::SIZE) as u64,
            kind: SymbolKind::Text,
            scope: SymbolScope::Dynamic,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        });
        // Each function the program calls: a local symbol, as clang writes a static function.
        // Loaders link the functions a program calls after its code (aya looks a pc-relative
        // call's target up among the section's symbols).
        let functions = &program.code.functions;
        for (i, function) in functions.iter().enumerate() {
            let end = functions
                .get(i + 1)
                .map_or(program.code.insns.len(), |next| next.start);
            obj.add_symbol(Symbol {
                name: format!("{}.{}", program.symbol, function.name).into_bytes(),
                value: slot_offset(function.start),
                size: (end.saturating_sub(function.start) * Insn::SIZE) as u64,
                kind: SymbolKind::Text,
                scope: SymbolScope::Compilation,
                weak: false,
                section: SymbolSection::Section(section),
                flags: SymbolFlags::None,
            });
        }
        for relocation in &program.code.relocations {
            let symbol = map_symbols
                .get(relocation.symbol.as_str())
                .copied()
                .ok_or_else(|| ElfError::UnknownMap {
                    program: program.symbol.clone(),
                    map: relocation.symbol.clone(),
                })?;
            obj.add_relocation(
                section,
                Relocation {
                    offset: offset + (relocation.slot * Insn::SIZE) as u64,
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

fn malformed(message: impl Into<String>) -> ElfError {
    ElfError::Malformed(message.into())
}

/// The programs, maps and license of a BPF object file. Accepts what [`write_object`] writes
/// (and objects of the same layout from other tools); anything else is an error, never a panic.
pub fn read_object(bytes: &[u8]) -> Result<ObjectContents, ElfError> {
    let file = object::File::parse(bytes).map_err(|e| ElfError::Read(e.to_string()))?;
    if file.format() != BinaryFormat::Elf {
        return Err(ElfError::Read(format!("{:?} file", file.format())));
    }
    if file.architecture() != Architecture::Bpf {
        return Err(ElfError::NotBpf);
    }

    let license = match file.section_by_name(LICENSE_SECTION) {
        None => String::new(),
        Some(section) => {
            let data = section
                .data()
                .map_err(|e| malformed(format!("license section: {e}")))?;
            let text = data.split(|&b| b == 0).next().unwrap_or_default();
            String::from_utf8(text.to_vec()).map_err(|_| malformed("license is not valid UTF-8"))?
        }
    };

    let maps = read_maps(&file)?;
    let mut data = Vec::new();
    for section in file.sections() {
        let Ok(name) = section.name() else {
            continue;
        };
        if DataSection::is_data_name(name) {
            let bytes = section
                .data()
                .map_err(|e| malformed(format!("{name} section: {e}")))?;
            data.push(DataSection {
                name: name.to_string(),
                bytes: bytes.to_vec(),
            });
        }
    }

    let mut programs = Vec::new();
    for section in file.sections() {
        if section.kind() != SectionKind::Text || section.size() == 0 {
            continue;
        }
        let section_name = section
            .name()
            .map_err(|e| malformed(format!("section name: {e}")))?;
        let data = section
            .data()
            .map_err(|e| malformed(format!("section `{section_name}`: {e}")))?;
        // Global symbols are programs; local ones are the functions they call, which belong
        // to the program before them.
        let mut symbols: Vec<_> = file
            .symbols()
            .filter(|s| {
                s.section_index() == Some(section.index())
                    && s.kind() == SymbolKind::Text
                    && s.is_global()
            })
            .collect();
        symbols.sort_by_key(|s| s.address());
        let mut locals: Vec<(u64, u64, String)> = Vec::new();
        for s in file.symbols().filter(|s| {
            s.section_index() == Some(section.index())
                && s.kind() == SymbolKind::Text
                && !s.is_global()
        }) {
            let name = s
                .name()
                .map_err(|e| malformed(format!("symbol name in `{section_name}`: {e}")))?;
            if let Some(end) = s.address().checked_add(s.size()) {
                locals.push((s.address(), end, name.to_string()));
            }
        }
        locals.sort();
        let starts: Vec<u64> = symbols.iter().map(|s| s.address()).collect();
        for (i, symbol) in symbols.into_iter().enumerate() {
            let name = symbol
                .name()
                .map_err(|e| malformed(format!("symbol name in `{section_name}`: {e}")))?;
            if name.is_empty() {
                continue;
            }
            let start = symbol.address();
            let next = starts.get(i + 1).copied().unwrap_or(u64::MAX);
            let own_end = start.checked_add(symbol.size());
            let end = own_end.map(|own| {
                locals
                    .iter()
                    .filter(|(_, e, _)| *e > own && *e <= next)
                    .map(|(_, e, _)| *e)
                    .fold(own, u64::max)
            });
            let prefix = format!("{name}.");
            let functions: Vec<bpf::Function> = locals
                .iter()
                .filter(|(a, _, _)| own_end.is_some_and(|own| *a >= own) && *a < next)
                .filter(|(_, e, _)| end.is_some_and(|end| *e <= end))
                .map(|(a, _, n)| bpf::Function {
                    name: n.strip_prefix(&prefix).unwrap_or(n).to_string(),
                    start: ((a - start) / Insn::SIZE as u64) as usize,
                })
                .collect();
            let code = end
                .and_then(|end| data.get(usize::try_from(start).ok()?..usize::try_from(end).ok()?))
                .ok_or_else(|| malformed(format!("symbol `{name}` lies outside its section")))?;
            let insns = bpf::decode(code).map_err(|error| ElfError::InvalidCode {
                program: name.to_string(),
                error,
            })?;
            let mut relocations = Vec::new();
            for (offset, relocation) in section.relocations() {
                if offset < start || end.is_none_or(|end| offset >= end) {
                    continue;
                }
                let bad = |reason| ElfError::BadRelocation {
                    program: name.to_string(),
                    offset,
                    reason,
                };
                if relocation.flags()
                    != (RelocationFlags::Elf {
                        r_type: object::elf::R_BPF_64_64,
                    })
                {
                    return Err(bad("not an R_BPF_64_64 relocation"));
                }
                let RelocationTarget::Symbol(index) = relocation.target() else {
                    return Err(bad("not against a symbol"));
                };
                let target = file
                    .symbol_by_index(index)
                    .map_err(|_| bad("against a symbol that does not exist"))?;
                let symbol = target
                    .name()
                    .map_err(|_| bad("against a symbol with an unreadable name"))?;
                let relative = offset - start;
                if relative % Insn::SIZE as u64 != 0 {
                    return Err(bad("not on an instruction boundary"));
                }
                let slot = usize::try_from(relative / Insn::SIZE as u64)
                    .map_err(|_| bad("beyond the program"))?;
                if insns.get(slot).and_then(Insn::opcode) != Some(Opcode::LdImm64) {
                    return Err(bad("not on a 64-bit immediate load"));
                }
                relocations.push(MapRelocation {
                    slot,
                    symbol: symbol.to_string(),
                });
            }
            relocations.sort_by_key(|r| r.slot);
            programs.push(ObjectProgram {
                section: section_name.to_string(),
                symbol: name.to_string(),
                insns,
                relocations,
                functions,
            });
        }
    }

    Ok(ObjectContents {
        programs,
        maps,
        license,
        data,
    })
}

fn read_maps(file: &object::File<'_>) -> Result<Vec<MapSpec>, ElfError> {
    let Some(section) = file.section_by_name(MAPS_SECTION) else {
        return Ok(Vec::new());
    };
    let data = section
        .data()
        .map_err(|e| malformed(format!("maps section: {e}")))?;
    let mut symbols: Vec<_> = file
        .symbols()
        .filter(|s| s.section_index() == Some(section.index()) && s.kind() != SymbolKind::Section)
        .collect();
    symbols.sort_by_key(|s| s.address());
    let mut maps = Vec::new();
    for symbol in symbols {
        let name = symbol
            .name()
            .map_err(|e| malformed(format!("map symbol name: {e}")))?;
        let record = usize::try_from(symbol.address())
            .ok()
            .and_then(|start| data.get(start..start.checked_add(MAP_DEF_SIZE)?))
            .and_then(|bytes| <&[u8; MAP_DEF_SIZE]>::try_from(bytes).ok())
            .ok_or_else(|| malformed(format!("map `{name}` lies outside the maps section")))?;
        if symbol.size() < MAP_DEF_SIZE as u64 {
            return Err(malformed(format!(
                "map `{name}` is {} bytes, a definition needs {MAP_DEF_SIZE}",
                symbol.size()
            )));
        }
        maps.push(MapSpec::from_bytes(name.to_string(), record));
    }
    Ok(maps)
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
