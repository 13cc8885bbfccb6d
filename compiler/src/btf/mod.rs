//! The kernel's BTF: a reader for raw BTF blobs (/sys/kernel/btf/vmlinux, an ELF's `.BTF`
//! section), the type questions the checker asks ([`lang::kernel::KernelTypes`]), and a cutter
//! that writes a small BTF holding only what a set of LSM hooks and structs need (the test
//! fixtures under tests/fixtures/btf/).
//!
//! Written here rather than taken from btf-rs (LGPL) or aya-obj (lookups are private). The
//! format is the kernel's include/uapi/linux/btf.h, both byte orders.

mod cut;
mod error;
mod raw;
#[cfg(test)]
mod tests;
mod write;

use std::fmt;
use std::sync::OnceLock;

use lang::kernel::{KernelTypes, Member, Param, TypeId, TypeShape};

pub use error::BtfError;
use raw::{Composite, Kind, Tables};
use write::str_at;

/// How many typedefs/qualifiers, or nested anonymous members, a walk follows before deciding
/// the BTF is cyclic. The kernel's own limit (MAX_RESOLVE_DEPTH) is 32.
const MAX_DEPTH: usize = 32;

/// Prefix of the BTF functions that name the LSM hooks (`bpf_lsm_file_open`).
const LSM_PREFIX: &str = "bpf_lsm_";

/// BPF LSM runs only on 64-bit kernels, and BTF does not record the pointer size.
const POINTER_BYTES: u32 = 8;

/// A parsed BTF blob. Owns its data; type ids are the blob's own (0 is `void`).
pub struct Btf {
    tables: Tables,
    description: String,
    /// (hash of name, id) for every named type, sorted; built on the first lookup by name.
    names: OnceLock<Vec<(u64, TypeId)>>,
}

impl fmt::Debug for Btf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Btf")
            .field("description", &self.description)
            .field("types", &self.tables.types.len())
            .field("string_bytes", &self.tables.strings.len())
            .field("big_endian", &self.tables.big_endian)
            .finish()
    }
}

impl Btf {
    /// Parses raw BTF in either byte order. Malformed input is an error, never a panic; memory
    /// use is proportional to the input.
    pub fn parse(bytes: &[u8]) -> Result<Btf, BtfError> {
        Ok(Btf {
            tables: raw::decode(bytes)?,
            description: "the target kernel".to_string(),
            names: OnceLock::new(),
        })
    }

    /// Parses the `.BTF` section of an ELF file (a vmlinux image or a BPF object).
    pub fn parse_elf(bytes: &[u8]) -> Result<Btf, BtfError> {
        use object::{Object, ObjectSection};
        let elf = |reason: String| BtfError::Elf { reason };
        let file = object::File::parse(bytes).map_err(|e| elf(format!("{e}")))?;
        let section = file.section_by_name(".BTF").ok_or_else(|| {
            elf(
                "the file has no `.BTF` section (was the kernel built with CONFIG_DEBUG_INFO_BTF?)"
                    .to_string(),
            )
        })?;
        let data = section
            .data()
            .map_err(|e| elf(format!("cannot read its `.BTF` section: {e}")))?;
        Btf::parse(data)
    }

    /// Sets what diagnostics call this kernel (`the running kernel`, `vmlinux-6.1.btf`).
    pub fn with_description(self, s: impl Into<String>) -> Btf {
        Btf {
            description: s.into(),
            ..self
        }
    }

    /// Number of type ids, counting id 0 (`void`).
    pub fn type_count(&self) -> u32 {
        self.tables.types.len() as u32
    }

    /// The type's own name; `None` for anonymous types, `void` and unknown ids.
    pub fn name(&self, id: TypeId) -> Option<&str> {
        let ty = self.tables.types.get(id as usize)?;
        Some(str_at(&self.tables, ty.name_off)).filter(|n| !n.is_empty())
    }

    /// The type as C would spell it, for diagnostics: `struct file *`, `const char *`,
    /// `char[16]`, `kuid_t`. Type tags (`__rcu`, `__user`) are left out.
    pub fn type_name(&self, id: TypeId) -> String {
        let mut out = String::new();
        self.render(id, &mut out, 0);
        out
    }

    /// The struct or union called `name`, or the struct/union a typedef called `name` stands
    /// for (`kuid_t` is a typedef of an anonymous struct). Complete definitions win over
    /// forward declarations.
    pub fn find_struct(&self, name: &str) -> Option<TypeId> {
        let composite =
            |id: &TypeId| matches!(self.kind(*id), Some(Kind::Struct(_) | Kind::Union(_)));
        if let Some(id) = self.ids_named(name).find(composite) {
            return Some(id);
        }
        self.ids_named(name)
            .filter(|&id| matches!(self.kind(id), Some(Kind::Typedef(_))))
            .filter_map(|id| self.strip(id))
            .find(composite)
    }

    /// The first type called `name`, of any kind.
    pub fn find_type(&self, name: &str) -> Option<TypeId> {
        self.ids_named(name).next()
    }

    /// The BTF function (FUNC) called `name`.
    pub fn find_func(&self, name: &str) -> Option<TypeId> {
        self.ids_named(name)
            .find(|&id| matches!(self.kind(id), Some(Kind::Func { .. })))
    }

    /// The LSM hooks this kernel has (its `bpf_lsm_*` functions), without the prefix.
    pub fn lsm_hooks(&self) -> impl Iterator<Item = &str> + '_ {
        self.tables
            .types
            .iter()
            .filter(|t| matches!(t.kind, Kind::Func { .. }))
            .filter_map(|t| str_at(&self.tables, t.name_off).strip_prefix(LSM_PREFIX))
    }

    /// Every member of struct/union `ty` a C expression could name, in declaration order, with
    /// the members of anonymous struct/union members brought up to this level (offsets added),
    /// as [`KernelTypes::member`] finds them. For "did you mean" help; empty for other types.
    pub fn members(&self, ty: TypeId) -> Vec<(&str, Member)> {
        let mut out = Vec::new();
        self.collect_members(ty, 0, 0, &mut out);
        out
    }

    /// Size in bytes of a value of type `id`; `None` for `void`, functions, forward
    /// declarations and cyclic or overflowing types.
    pub fn size_of(&self, id: TypeId) -> Option<u32> {
        let mut id = id;
        let mut count: u32 = 1;
        for _ in 0..MAX_DEPTH {
            let size = match *self.kind(self.strip(id)?)? {
                Kind::Int { size, .. }
                | Kind::Enum { size, .. }
                | Kind::Enum64 { size, .. }
                | Kind::Float { size }
                | Kind::Datasec { size, .. } => size,
                Kind::Struct(c) | Kind::Union(c) => c.size,
                Kind::Ptr(_) => POINTER_BYTES,
                Kind::Array { elem, len, .. } => {
                    count = count.checked_mul(len)?;
                    id = elem;
                    continue;
                }
                Kind::Var { ty, .. } => {
                    id = ty;
                    continue;
                }
                _ => return None,
            };
            return count.checked_mul(size);
        }
        None
    }

    /// `id` with typedefs, qualifiers and type tags stripped; `None` for an unknown id or a
    /// chain longer than the kernel would accept (a cycle).
    pub fn strip(&self, id: TypeId) -> Option<TypeId> {
        let mut id = id;
        for _ in 0..MAX_DEPTH {
            match *self.kind(id)? {
                Kind::Typedef(to)
                | Kind::Const(to)
                | Kind::Volatile(to)
                | Kind::Restrict(to)
                | Kind::TypeTag(to) => id = to,
                _ => return Some(id),
            }
        }
        None
    }

    /// Writes a small BTF blob with the `bpf_lsm_<hook>` functions this kernel has among
    /// `hooks` and the structs, unions and typedefs named in `keep_structs`, each with
    /// everything it reaches. A named struct or union reached only through a pointer and not
    /// in `keep_structs` becomes a forward declaration; one embedded by value stays complete,
    /// because the kernel refuses BTF whose members have incomplete types. Names this kernel
    /// does not have are skipped. Type ids are renumbered; the byte order is the input's.
    pub fn cut(&self, hooks: &[&str], keep_structs: &[&str]) -> Result<Vec<u8>, BtfError> {
        cut::cut(self, hooks, keep_structs)
    }

    fn kind(&self, id: TypeId) -> Option<&Kind> {
        self.tables.types.get(id as usize).map(|t| &t.kind)
    }

    fn composite(&self, id: TypeId) -> Option<Composite> {
        match *self.kind(self.strip(id)?)? {
            Kind::Struct(c) | Kind::Union(c) => Some(c),
            _ => None,
        }
    }

    fn names(&self) -> &[(u64, TypeId)] {
        self.names.get_or_init(|| {
            let mut names: Vec<(u64, TypeId)> = (0..self.tables.types.len())
                .filter(|&id| self.tables.types[id].name_off != 0)
                .map(|id| {
                    (
                        name_hash(str_at(&self.tables, self.tables.types[id].name_off)),
                        id as TypeId,
                    )
                })
                .collect();
            names.sort_unstable();
            names
        })
    }

    /// Ids of the types called `name`, in id order.
    fn ids_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = TypeId> + 'a {
        let names = self.names();
        let hash = name_hash(name);
        let start = names.partition_point(|&(h, _)| h < hash);
        names[start..]
            .iter()
            .take_while(move |&&(h, _)| h == hash)
            .map(|&(_, id)| id)
            .filter(move |&id| self.name(id) == Some(name))
    }

    fn collect_members<'a>(
        &'a self,
        ty: TypeId,
        base_bits: u32,
        depth: usize,
        out: &mut Vec<(&'a str, Member)>,
    ) {
        let Some(c) = self.composite(ty).filter(|_| depth < MAX_DEPTH) else {
            return;
        };
        for m in &self.tables.members[c.members.range()] {
            let name = str_at(&self.tables, m.name_off);
            let Some(offset) = base_bits.checked_add(m.offset_bits) else {
                continue;
            };
            if name.is_empty() {
                self.collect_members(m.ty, offset, depth + 1, out);
            } else if let Some(found) = self.find_member(ty, name, depth) {
                out.push((
                    name,
                    Member {
                        offset_bits: base_bits.saturating_add(found.offset_bits),
                        ..found
                    },
                ));
            }
        }
    }

    fn find_member(&self, ty: TypeId, name: &str, depth: usize) -> Option<Member> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let c = self.composite(ty)?;
        for m in &self.tables.members[c.members.range()] {
            let member_name = str_at(&self.tables, m.name_off);
            let found = if member_name == name {
                let mut found = Member {
                    offset_bits: m.offset_bits,
                    bitfield_bits: m.bitfield_bits,
                    ty: m.ty,
                };
                // Without kind_flag, a bitfield is an INT whose own offset/width say so.
                if !c.bitfield_offsets {
                    if let Some(&Kind::Int {
                        size,
                        bit_offset,
                        bits,
                        ..
                    }) = self.strip(m.ty).and_then(|t| self.kind(t))
                    {
                        if bit_offset != 0 || u32::from(bits) != size.saturating_mul(8) {
                            found.offset_bits =
                                found.offset_bits.checked_add(u32::from(bit_offset))?;
                            found.bitfield_bits = u32::from(bits);
                        }
                    }
                }
                Some(found)
            } else if member_name.is_empty() {
                self.find_member(m.ty, name, depth + 1).and_then(|inner| {
                    Some(Member {
                        offset_bits: m.offset_bits.checked_add(inner.offset_bits)?,
                        ..inner
                    })
                })
            } else {
                None
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    fn render(&self, id: TypeId, out: &mut String, depth: usize) {
        if depth >= MAX_DEPTH {
            out.push('…');
            return;
        }
        let Some(ty) = self.tables.types.get(id as usize) else {
            out.push_str(&format!("<unknown type {id}>"));
            return;
        };
        let name = str_at(&self.tables, ty.name_off);
        let named = |out: &mut String, tag: &str| {
            out.push_str(tag);
            out.push_str(if name.is_empty() { "<anonymous>" } else { name });
        };
        match ty.kind {
            Kind::Void => out.push_str("void"),
            Kind::Struct(_) | Kind::Fwd { union: false } => named(out, "struct "),
            Kind::Union(_) | Kind::Fwd { union: true } => named(out, "union "),
            Kind::Enum { .. } | Kind::Enum64 { .. } => named(out, "enum "),
            Kind::Int { .. }
            | Kind::Float { .. }
            | Kind::Typedef(_)
            | Kind::Func { .. }
            | Kind::Var { .. }
            | Kind::Datasec { .. } => named(out, ""),
            Kind::Ptr(to) => match self.kind(self.strip(to).unwrap_or(to)) {
                Some(&Kind::FuncProto { ret, params }) => {
                    self.render_proto(ret, params, "(*)", out, depth)
                }
                _ => {
                    self.render(to, out, depth + 1);
                    out.push_str(if out.ends_with('*') { "*" } else { " *" });
                }
            },
            Kind::Const(to) | Kind::Volatile(to) => {
                let qualifier = if matches!(ty.kind, Kind::Const(_)) {
                    "const"
                } else {
                    "volatile"
                };
                if matches!(self.kind(to), Some(Kind::Ptr(_))) {
                    self.render(to, out, depth + 1);
                    out.push(' ');
                    out.push_str(qualifier);
                } else {
                    out.push_str(qualifier);
                    out.push(' ');
                    self.render(to, out, depth + 1);
                }
            }
            Kind::Restrict(to) | Kind::TypeTag(to) | Kind::DeclTag { ty: to, .. } => {
                self.render(to, out, depth + 1)
            }
            Kind::Array { elem, len, .. } => {
                self.render(elem, out, depth + 1);
                out.push_str(&format!("[{len}]"));
            }
            Kind::FuncProto { ret, params } => self.render_proto(ret, params, "", out, depth),
        }
    }

    fn render_proto(
        &self,
        ret: TypeId,
        params: raw::Span,
        declarator: &str,
        out: &mut String,
        depth: usize,
    ) {
        self.render(ret, out, depth + 1);
        out.push(' ');
        out.push_str(declarator);
        out.push('(');
        for (i, p) in self.tables.params[params.range()].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if p.ty == 0 {
                out.push_str("...");
            } else {
                self.render(p.ty, out, depth + 1);
            }
        }
        out.push(')');
    }
}

impl KernelTypes for Btf {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn named_struct(&self, name: &str) -> Option<TypeId> {
        self.find_struct(name)
    }

    fn has_function(&self, name: &str) -> bool {
        self.find_func(name).is_some()
    }

    fn hook_params(&self, hook: &str) -> Option<Vec<Param>> {
        let func = self.find_func(&format!("{LSM_PREFIX}{hook}"))?;
        let &Kind::Func { proto, .. } = self.kind(func)? else {
            return None;
        };
        let &Kind::FuncProto { params, .. } = self.kind(proto)? else {
            return None;
        };
        let params = &self.tables.params[params.range()];
        Some(
            params
                .iter()
                // A last parameter of type 0 marks a variadic function; it is not a parameter.
                .filter(|p| p.ty != 0)
                .map(|p| Param {
                    name: str_at(&self.tables, p.name_off).to_string(),
                    ty: p.ty,
                })
                .collect(),
        )
    }

    fn member(&self, ty: TypeId, name: &str) -> Option<Member> {
        if name.is_empty() {
            return None;
        }
        self.find_member(ty, name, 0)
    }

    fn shape(&self, ty: TypeId) -> TypeShape {
        let Some(id) = self.strip(ty) else {
            return TypeShape::Other;
        };
        let Some(kind) = self.kind(id) else {
            return TypeShape::Other;
        };
        let name = || self.name(id).unwrap_or("").to_string();
        match *kind {
            Kind::Void => TypeShape::Void,
            Kind::Int { size, encoding, .. } => TypeShape::Int {
                bytes: size,
                signed: encoding & raw::INT_SIGNED != 0,
            },
            Kind::Enum { size, .. } | Kind::Enum64 { size, .. } => TypeShape::Enum { bytes: size },
            Kind::Ptr(to) => TypeShape::Pointer { to },
            Kind::Struct(c) => TypeShape::Struct {
                name: name(),
                bytes: c.size,
            },
            Kind::Union(c) => TypeShape::Union {
                name: name(),
                bytes: c.size,
            },
            Kind::Array { elem, len, .. } => TypeShape::Array { element: elem, len },
            Kind::Fwd { .. } => TypeShape::Opaque { name: name() },
            _ => TypeShape::Other,
        }
    }
}

/// FNV-1a: deterministic and allocation-free, good enough to bucket ~100k identifiers.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
