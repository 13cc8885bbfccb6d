//! Reading an object back ([`read_object`]), for `krsic disasm` and `krsic load`: the layout
//! [`super::write_object`] writes, as the module documentation describes it.

use object::read::{Object as _, ObjectSection as _, ObjectSymbol as _};
use object::{
    Architecture, BinaryFormat, RelocationFlags, RelocationTarget, SectionKind, SymbolKind,
};

use super::{
    DataSection, ElfError, MapSpec, ObjectContents, ObjectProgram, LICENSE_SECTION, MAPS_SECTION,
    MAP_DEF_SIZE, TEXT_SECTION,
};
use crate::bpf::{self, Insn, MapRelocation, Opcode};

fn malformed(message: impl Into<String>) -> ElfError {
    ElfError::Malformed(message.into())
}

/// The programs, maps and license of a BPF object file. Accepts what [`super::write_object`] writes
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

    // The programs' functions: `.text`'s symbols, by address.
    let text = file.section_by_name(TEXT_SECTION);
    let text_data = match &text {
        Some(text) => text
            .data()
            .map_err(|e| malformed(format!("section `{TEXT_SECTION}`: {e}")))?,
        None => &[],
    };
    let mut text_symbols: Vec<(u64, u64, String)> = Vec::new();
    if let Some(text) = &text {
        for s in file
            .symbols()
            .filter(|s| s.section_index() == Some(text.index()) && s.kind() == SymbolKind::Text)
        {
            let name = s
                .name()
                .map_err(|e| malformed(format!("symbol name in `{TEXT_SECTION}`: {e}")))?;
            let end = s
                .address()
                .checked_add(s.size())
                .ok_or_else(|| malformed(format!("symbol `{name}` lies outside its section")))?;
            text_symbols.push((s.address(), end, name.to_string()));
        }
    }
    text_symbols.sort();

    let mut programs = Vec::new();
    for section in file.sections() {
        if section.kind() != SectionKind::Text
            || section.size() == 0
            || text.as_ref().is_some_and(|t| t.index() == section.index())
        {
            continue;
        }
        let section_name = section
            .name()
            .map_err(|e| malformed(format!("section name: {e}")))?;
        let data = section
            .data()
            .map_err(|e| malformed(format!("section `{section_name}`: {e}")))?;
        let mut symbols: Vec<_> = file
            .symbols()
            .filter(|s| {
                s.section_index() == Some(section.index())
                    && s.kind() == SymbolKind::Text
                    && s.is_global()
            })
            .collect();
        symbols.sort_by_key(|s| s.address());
        for symbol in symbols {
            let name = symbol
                .name()
                .map_err(|e| malformed(format!("symbol name in `{section_name}`: {e}")))?;
            if name.is_empty() {
                continue;
            }
            let outside = || malformed(format!("symbol `{name}` lies outside its section"));
            let start = symbol.address();
            let end = start.checked_add(symbol.size()).ok_or_else(outside)?;
            let entry = usize::try_from(start)
                .ok()
                .zip(usize::try_from(end).ok())
                .and_then(|(start, end)| data.get(start..end))
                .ok_or_else(outside)?;
            // Its functions: `<program>.<function>` in `.text`, one after another.
            let prefix = format!("{name}.");
            let own: Vec<&(u64, u64, String)> = text_symbols
                .iter()
                .filter(|(_, _, n)| n.starts_with(&prefix))
                .collect();
            let (text_start, text_end) = match (own.first(), own.last()) {
                (Some(first), Some(last)) => (first.0, last.1),
                _ => (0, 0),
            };
            if own.windows(2).any(|w| w[0].1 != w[1].0) {
                return Err(malformed(format!(
                    "the functions of `{name}` are not one after another in `{TEXT_SECTION}`"
                )));
            }
            let called = usize::try_from(text_start)
                .ok()
                .zip(usize::try_from(text_end).ok())
                .and_then(|(start, end)| text_data.get(start..end))
                .ok_or_else(|| {
                    malformed(format!(
                        "the functions of `{name}` lie outside `{TEXT_SECTION}`"
                    ))
                })?;
            let entry_len = entry.len() / Insn::SIZE;
            let mut code = entry.to_vec();
            code.extend_from_slice(called);
            let mut insns = bpf::decode(&code).map_err(|error| ElfError::InvalidCode {
                program: name.to_string(),
                error,
            })?;
            let slot_of = |address: u64, base: u64, first: usize| {
                ((address - base) / Insn::SIZE as u64) as usize + first
            };
            let functions: Vec<bpf::Function> = own
                .iter()
                .map(|(address, _, n)| bpf::Function {
                    name: n[prefix.len()..].to_string(),
                    start: slot_of(*address, text_start, entry_len),
                })
                .collect();
            // The entry's relocations, then its functions'.
            let mut placed = Vec::new();
            for (offset, relocation) in section.relocations() {
                if (start..end).contains(&offset) {
                    placed.push((offset, offset - start, 0, relocation));
                }
            }
            if let Some(text) = &text {
                for (offset, relocation) in text.relocations() {
                    if (text_start..text_end).contains(&offset) {
                        placed.push((offset, offset - text_start, entry_len, relocation));
                    }
                }
            }
            let mut relocations = Vec::new();
            for (offset, relative, first, relocation) in placed {
                let bad = |reason| ElfError::BadRelocation {
                    program: name.to_string(),
                    offset,
                    reason,
                };
                let RelocationTarget::Symbol(index) = relocation.target() else {
                    return Err(bad("not against a symbol"));
                };
                let target = file
                    .symbol_by_index(index)
                    .map_err(|_| bad("against a symbol that does not exist"))?;
                let symbol = target
                    .name()
                    .map_err(|_| bad("against a symbol with an unreadable name"))?;
                if relative % Insn::SIZE as u64 != 0 {
                    return Err(bad("not on an instruction boundary"));
                }
                let slot = usize::try_from(relative / Insn::SIZE as u64)
                    .map_err(|_| bad("beyond the program"))?
                    + first;
                let opcode = insns.get(slot).and_then(Insn::opcode);
                match relocation.flags() {
                    RelocationFlags::Elf {
                        r_type: object::elf::R_BPF_64_64,
                    } => {
                        if opcode != Some(Opcode::LdImm64) {
                            return Err(bad("not on a 64-bit immediate load"));
                        }
                        relocations.push(MapRelocation {
                            slot,
                            symbol: symbol.to_string(),
                        });
                    }
                    RelocationFlags::Elf {
                        r_type: object::elf::R_BPF_64_32,
                    } => {
                        let callee = symbol
                            .strip_prefix(&prefix)
                            .and_then(|f| functions.iter().find(|g| g.name == f))
                            .ok_or(bad("a call to no function of the program"))?;
                        let call = insns.get_mut(slot).filter(|insn| {
                            insn.opcode() == Some(Opcode::Call) && insn.src == bpf::PSEUDO_CALL
                        });
                        let call = call.ok_or(bad("not on a bpf-to-bpf call"))?;
                        call.imm = i32::try_from(callee.start as i64 - slot as i64 - 1)
                            .map_err(|_| bad("a call beyond reach"))?;
                    }
                    _ => return Err(bad("not an R_BPF_64_64 or R_BPF_64_32 relocation")),
                }
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
