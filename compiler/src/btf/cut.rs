//! Cutting a small BTF out of a kernel's: the hooks' prototypes, the structs policies read and
//! the functions the checker asks about by name (`lang::kernel::FEATURE_FUNCTIONS`).

use std::collections::HashSet;

use super::error::BtfError;
use super::raw::Kind;
use super::write::{str_at, Writer};
use super::{Btf, LSM_PREFIX};

/// How a type is reached from the roots. A struct reached only through pointers may become a
/// forward declaration; one reached by value (a member, an array element, a parameter) must
/// stay complete, as in C.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reach {
    Unreached,
    ThroughPointer,
    ByValue,
}

pub(super) fn cut(btf: &Btf, hooks: &[&str], keep_structs: &[&str]) -> Result<Vec<u8>, BtfError> {
    let t = &btf.tables;
    let keep: HashSet<&str> = keep_structs.iter().copied().collect();
    let mut stack: Vec<(u32, Reach)> = Vec::new();
    for hook in hooks {
        if let Some(id) = btf.find_func(&format!("{LSM_PREFIX}{hook}")) {
            stack.push((id, Reach::ByValue));
        }
    }
    // The functions whose presence tells one verifier from another, so that a cut answers
    // as its kernel does.
    for name in lang::kernel::FEATURE_FUNCTIONS {
        if let Some(id) = btf.find_func(name) {
            stack.push((id, Reach::ByValue));
        }
    }
    for name in keep_structs {
        let mut named = btf.ids_named(name);
        let root = btf
            .find_struct(name)
            .filter(|&id| btf.name(id) == Some(name))
            .or_else(|| {
                named.find(|&id| {
                    matches!(
                        btf.kind(id),
                        Some(Kind::Typedef(_) | Kind::Struct(_) | Kind::Union(_))
                    )
                })
            });
        stack.extend(root.map(|id| (id, Reach::ByValue)));
    }

    // Every type is walked at most twice (once per stronger reach), so this ends on cyclic BTF.
    let mut reach = vec![Reach::Unreached; t.types.len()];
    while let Some((id, how)) = stack.pop() {
        let Some(slot) = reach.get_mut(id as usize) else {
            continue;
        };
        if id == 0 || *slot >= how {
            continue;
        }
        *slot = how;
        match t.types[id as usize].kind {
            Kind::Ptr(to) => stack.push((to, Reach::ThroughPointer)),
            Kind::Typedef(to)
            | Kind::Const(to)
            | Kind::Volatile(to)
            | Kind::Restrict(to)
            | Kind::TypeTag(to) => stack.push((to, how)),
            Kind::DeclTag { ty, .. } => stack.push((ty, how)),
            Kind::Array { elem, index, .. } => stack.extend([(elem, how), (index, Reach::ByValue)]),
            Kind::Struct(c) | Kind::Union(c) => {
                if complete(btf, id, how, &keep) {
                    stack.extend(
                        t.members[c.members.range()]
                            .iter()
                            .map(|m| (m.ty, Reach::ByValue)),
                    );
                }
            }
            Kind::Func { proto, .. } => stack.push((proto, Reach::ByValue)),
            Kind::FuncProto { ret, params } => {
                stack.push((ret, Reach::ByValue));
                stack.extend(
                    t.params[params.range()]
                        .iter()
                        .map(|p| (p.ty, Reach::ByValue)),
                );
            }
            Kind::Var { ty, .. } => stack.push((ty, Reach::ByValue)),
            Kind::Datasec { vars, .. } => {
                stack.extend(t.vars[vars.range()].iter().map(|v| (v.ty, Reach::ByValue)))
            }
            Kind::Void
            | Kind::Int { .. }
            | Kind::Enum { .. }
            | Kind::Enum64 { .. }
            | Kind::Fwd { .. }
            | Kind::Float { .. } => {}
        }
    }

    // New ids follow the old order, so a cut of the same kernel is byte-for-byte repeatable.
    let mut new_id = vec![0u32; t.types.len()];
    let mut next = 1u32;
    for (old, r) in reach.iter().enumerate().skip(1) {
        if *r != Reach::Unreached {
            new_id[old] = next;
            next = next
                .checked_add(1)
                .ok_or(BtfError::TooLarge { what: "type table" })?;
        }
    }
    let count = btf.type_count();
    let mut map = |old: u32| match new_id.get(old as usize) {
        Some(&new) if new != 0 || old == 0 => Ok(new),
        _ => Err(BtfError::DanglingType {
            id: old,
            refers_to: old,
            count,
        }),
    };
    let mut w = Writer::new(t.big_endian);
    for (old, ty) in t.types.iter().enumerate().skip(1) {
        let how = reach[old];
        if how == Reach::Unreached {
            continue;
        }
        match ty.kind {
            Kind::Struct(_) | Kind::Union(_) if !complete(btf, old as u32, how, &keep) => {
                let union = matches!(ty.kind, Kind::Union(_));
                w.header(str_at(t, ty.name_off), super::raw::KIND_FWD, union, 0, 0)?;
            }
            _ => w.copy_type(t, ty, &mut map)?,
        }
    }
    w.finish()
}

/// Whether the cut keeps the members of struct/union `id`: anonymous ones always (they cannot
/// be forward-declared), named ones when kept by name or embedded by value.
fn complete(btf: &Btf, id: u32, how: Reach, keep: &HashSet<&str>) -> bool {
    how == Reach::ByValue || btf.name(id).is_none_or(|name| keep.contains(name))
}
