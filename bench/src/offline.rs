//! Clang's programs in krsi's offline machine, so that the instructions they execute per event
//! stand beside krsi's.
//!
//! The C reads the kernel's fields through CO-RE relocations, which a loader resolves against
//! the kernel's BTF: aya-obj resolves them here as aya does at load time. The offline machine
//! builds the kernel objects a program's IR reads (`vm::MockKernel`), and the C reads none
//! that krsi's program for the same rules does not: the hook's file, its `struct path` (handed
//! to `bpf_d_path`), the process's uid, and for a report its parent. Its maps are the report's,
//! named and shaped as krsi's (`generate::REPORT`), so they are the machine's maps of krsi's
//! program. So the C runs on the objects laid out for krsi's program, on the events of krsi's
//! `test` items. A helper call counts as one instruction, as it does for krsi: `bpf_d_path`'s
//! walk of the path is not counted, where krsi's own walks of a path's names are.

use crate::generate::{c_symbol, krsi_policy};
use crate::workload::{Case, Event, Kind};
use compiler::bpf::MapRelocation;
use compiler::ir::{Scope, Target};
use compiler::vm::kernel::MockKernel;
use compiler::vm::Machine;
use lang::checked::AttrValue;
use lang::eval::{Decision, EventInput};
use std::collections::BTreeMap;
use std::path::Path;

/// The mean instructions `object`'s program (the C of `kind` × `rules` for `event`) executes
/// per event of each case, for the kernel of `btf` (raw BTF). An event the C decides otherwise
/// than the case expects is an error: the count of a wrong program means nothing.
pub fn clang_counts(
    btf: &Path,
    object: &Path,
    event: Event,
    kind: Kind,
    rules: usize,
) -> Result<Vec<(Case, f64)>, String> {
    let btf_bytes = std::fs::read(btf).map_err(|e| format!("{}: {e}", btf.display()))?;
    let (insns, relocations) = relocated(object, &btf_bytes, &c_symbol(event))?;
    let kernel = compiler::btf::Btf::parse(&btf_bytes).map_err(|e| format!("BTF: {e}"))?;
    let (checked, diagnostics) = lang::front_end(&krsi_policy(event, kind, rules), &kernel);
    let checked = checked.ok_or_else(|| {
        let first = diagnostics.first().map(|d| d.message.clone());
        format!(
            "the krsi policy laying out the events: {}",
            first.unwrap_or_default()
        )
    })?;
    let compiled = compiler::compile(&checked, Target::new(Scope::Global))
        .map_err(|e| format!("the krsi policy laying out the events: {e}"))?;
    let program = compiled
        .ir
        .programs
        .iter()
        .find(|p| p.event == event.name())
        .ok_or("the krsi policy has no program for the event")?;
    let mut counts = Vec::new();
    for case in Case::ALL {
        let paths = case.paths(rules);
        let mut executed = 0u64;
        for path in &paths {
            let input = EventInput {
                event: event.name(),
                values: BTreeMap::from([
                    ("path", AttrValue::Str(path.clone().into_bytes())),
                    ("uid", AttrValue::Int(u64::from(case.uid()))),
                ]),
                in_scope: false,
            };
            let mut kernel = MockKernel::for_report(
                program,
                compiled.ir.parent.as_ref(),
                &compiled.spec.maps,
                &input,
            )
            .map_err(|e| format!("{path}: {e}"))?;
            let run = Machine::from_parts(&insns, &relocations)
                .run(&mut kernel)
                .map_err(|e| format!("{path}: {e}"))?;
            let denied = matches!(run.decision(&[]), Decision::Deny { .. });
            if denied != case.denied_with_rules() {
                return Err(format!(
                    "{path} as uid {}: {} in the offline machine",
                    case.uid(),
                    if denied { "denied" } else { "allowed" }
                ));
            }
            executed += run.executed;
        }
        counts.push((case, executed as f64 / paths.len().max(1) as f64));
    }
    Ok(counts)
}

/// The instructions of `symbol` in the ELF object at `path`, CO-RE relocated for `btf`, and
/// the maps its map loads name.
fn relocated(
    path: &Path,
    btf: &[u8],
    symbol: &str,
) -> Result<(Vec<compiler::bpf::Insn>, Vec<MapRelocation>), String> {
    let (raw, relocations) = relocated_bytes(path, btf, symbol)?;
    let insns = compiler::bpf::decode(&raw).map_err(|e| format!("decoding `{symbol}`: {e}"))?;
    Ok((insns, relocations))
}

/// `BPF_LD | BPF_IMM | BPF_DW`, and its source registers for a map and a map's value.
const LD_IMM64: u8 = 0x18;
const PSEUDO_MAP_FD: u8 = 1;
const PSEUDO_MAP_VALUE: u8 = 2;

/// The bytes of [`relocated`]'s instructions, and its map loads' maps: the function `symbol`
/// names with the BPF functions it calls linked after it, as aya links them at load time.
fn relocated_bytes(
    path: &Path,
    btf: &[u8],
    symbol: &str,
) -> Result<(Vec<u8>, Vec<MapRelocation>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut object = aya_obj::Object::parse(&bytes).map_err(|e| format!("aya-obj: {e}"))?;
    // The host's byte order: the BTF was extracted from a kernel for this machine.
    let target = aya_obj::btf::Btf::parse(btf, Default::default())
        .map_err(|e| format!("aya-obj reading the kernel's BTF: {e}"))?;
    object
        .relocate_btf(&target)
        .map_err(|e| format!("CO-RE relocation: {e}"))?;
    // Each map's position in `maps` stands for its file descriptor.
    let maps: Vec<(String, aya_obj::Map)> = object
        .maps
        .iter()
        .map(|(name, map)| (name.clone(), map.clone()))
        .collect();
    let text_sections = object
        .functions
        .keys()
        .map(|(section, _)| *section)
        .collect();
    object
        .relocate_maps(
            (0..)
                .zip(&maps)
                .map(|(fd, (name, map))| (name.as_str(), fd, map)),
            &text_sections,
        )
        .map_err(|e| format!("map relocation: {e}"))?;
    object
        .relocate_calls(&text_sections)
        .map_err(|e| format!("linking calls: {e}"))?;
    let program = object
        .programs
        .get(symbol)
        .ok_or_else(|| format!("no program `{symbol}`"))?;
    let function = object
        .functions
        .get(&program.function_key())
        .ok_or_else(|| format!("no code for `{symbol}`"))?;
    let mut raw = Vec::with_capacity(function.instructions.len() * 8);
    let mut relocations = Vec::new();
    let mut insns = function.instructions.iter().enumerate().peekable();
    while let Some((slot, insn)) = insns.next() {
        let mut imm = insn.imm;
        if insn.code == LD_IMM64 && matches!(insn.src_reg(), PSEUDO_MAP_FD | PSEUDO_MAP_VALUE) {
            let (name, _) = maps
                .get(imm as usize)
                .ok_or_else(|| format!("`{symbol}` loads an unknown map at slot {slot}"))?;
            relocations.push(MapRelocation {
                slot,
                symbol: name.clone(),
            });
            // aya-obj moved a data section's offset into the load's second half; the offline
            // machine reads it from the first, as krsi's encoder writes it.
            imm = match insns.peek() {
                Some((_, high)) if insn.src_reg() == PSEUDO_MAP_VALUE => high.imm,
                _ => 0,
            };
        }
        raw.push(insn.code);
        raw.push((insn.src_reg() << 4) | (insn.dst_reg() & 0x0f));
        raw.extend_from_slice(&insn.off.to_le_bytes());
        raw.extend_from_slice(&imm.to_le_bytes());
        if insn.code == LD_IMM64 {
            if let Some((_, high)) = insns.next() {
                let high_imm = if insn.src_reg() == PSEUDO_MAP_VALUE {
                    0
                } else {
                    high.imm
                };
                raw.push(high.code);
                raw.push((high.src_reg() << 4) | (high.dst_reg() & 0x0f));
                raw.extend_from_slice(&high.off.to_le_bytes());
                raw.extend_from_slice(&high_imm.to_le_bytes());
            }
        }
    }
    Ok((raw, relocations))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// aya-obj's instructions turn back into the code the compiler wrote: krsi's own object,
    /// read the way a clang object is, gives its program's instructions as the encoder wrote
    /// them (register nibbles in their places, wide loads whole, its functions linked after
    /// it) and its map loads' maps.
    #[test]
    fn an_object_read_through_aya_obj_gives_back_its_bytes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let btf_bytes = std::fs::read(root.join("tests/fixtures/btf/host-6.18.btf")).unwrap();
        let kernel = compiler::btf::Btf::parse(&btf_bytes).unwrap();
        let source = "deny open where path ~ \"/srv/app*/**\" and uid != 0\n\
                      deny exec where path == \"/tmp/x\" errno EACCES\n";
        let checked = lang::front_end(source, &kernel).0.unwrap();
        let compiled = compiler::compile(&checked, Target::new(Scope::Global)).unwrap();
        let object = std::env::temp_dir().join(format!("krsi-bench-{}.o", std::process::id()));
        std::fs::write(&object, &compiled.elf).unwrap();
        for program in &compiled.spec.programs {
            let (read, relocations) =
                relocated_bytes(&object, &btf_bytes, &program.symbol).unwrap();
            let written = compiler::bpf::encode(&program.code.insns);
            assert!(!program.code.functions.is_empty(), "{}", program.symbol);
            assert_eq!(read, written, "{}", program.symbol);
            assert_eq!(relocations, program.code.relocations, "{}", program.symbol);
        }
        std::fs::remove_file(&object).unwrap();
    }
}
