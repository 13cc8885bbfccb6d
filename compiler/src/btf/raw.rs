//! Decoding the raw BTF format (include/uapi/linux/btf.h) into flat tables.
//!
//! One pass over the type section decodes every record; a second pass checks that every type
//! id a record mentions exists, so the queries in `mod.rs` can follow ids without re-checking
//! the file. Every allocation is bounded by the input's length: a record is at least 12 bytes
//! and its trailing data is checked against the bytes left before anything is reserved.

use super::error::BtfError;

/// Fixed part of the header: magic, version, flags, hdr_len and four section offsets/lengths.
pub(crate) const HEADER_LEN: usize = 24;
pub(crate) const MAGIC: u16 = 0xeb9f;

// Kind numbers, as the kernel defines them.
pub(crate) const KIND_INT: u32 = 1;
pub(crate) const KIND_PTR: u32 = 2;
pub(crate) const KIND_ARRAY: u32 = 3;
pub(crate) const KIND_STRUCT: u32 = 4;
pub(crate) const KIND_UNION: u32 = 5;
pub(crate) const KIND_ENUM: u32 = 6;
pub(crate) const KIND_FWD: u32 = 7;
pub(crate) const KIND_TYPEDEF: u32 = 8;
pub(crate) const KIND_VOLATILE: u32 = 9;
pub(crate) const KIND_CONST: u32 = 10;
pub(crate) const KIND_RESTRICT: u32 = 11;
pub(crate) const KIND_FUNC: u32 = 12;
pub(crate) const KIND_FUNC_PROTO: u32 = 13;
pub(crate) const KIND_VAR: u32 = 14;
pub(crate) const KIND_DATASEC: u32 = 15;
pub(crate) const KIND_FLOAT: u32 = 16;
pub(crate) const KIND_DECL_TAG: u32 = 17;
pub(crate) const KIND_TYPE_TAG: u32 = 18;
pub(crate) const KIND_ENUM64: u32 = 19;

/// `BTF_INT_SIGNED` in an INT's encoding nibble.
pub(crate) const INT_SIGNED: u8 = 1;

/// A run of entries in one of the side tables (members, params, enumerators, section vars).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u32,
    pub len: u16,
}

impl Span {
    pub fn range(self) -> std::ops::Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Composite {
    pub size: u32,
    pub members: Span,
    /// The record's kind_flag: member offsets carry the bitfield size in their top 8 bits.
    pub bitfield_offsets: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Type id 0, which no record describes.
    Void,
    Int {
        size: u32,
        encoding: u8,
        bit_offset: u8,
        bits: u8,
    },
    Ptr(u32),
    Array {
        elem: u32,
        index: u32,
        len: u32,
    },
    Struct(Composite),
    Union(Composite),
    Enum {
        size: u32,
        signed: bool,
        values: Span,
    },
    Enum64 {
        size: u32,
        signed: bool,
        values: Span,
    },
    Fwd {
        union: bool,
    },
    Typedef(u32),
    Volatile(u32),
    Const(u32),
    Restrict(u32),
    TypeTag(u32),
    Func {
        proto: u32,
        linkage: u16,
    },
    FuncProto {
        ret: u32,
        params: Span,
    },
    Var {
        ty: u32,
        linkage: u32,
    },
    Datasec {
        size: u32,
        vars: Span,
    },
    Float {
        size: u32,
    },
    DeclTag {
        ty: u32,
        component: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Type {
    pub name_off: u32,
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawMember {
    pub name_off: u32,
    pub ty: u32,
    pub offset_bits: u32,
    /// From the offset's top byte when the struct's kind_flag is set; otherwise 0.
    pub bitfield_bits: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawParam {
    pub name_off: u32,
    pub ty: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Enumerator {
    pub name_off: u32,
    /// The raw bits; a 32-bit enum keeps its value in the low half.
    pub value: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SecVar {
    pub ty: u32,
    pub offset: u32,
    pub size: u32,
}

/// Everything a BTF blob says, decoded. Index `types` by type id (0 is void).
#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub types: Vec<Type>,
    pub members: Vec<RawMember>,
    pub params: Vec<RawParam>,
    pub enumerators: Vec<Enumerator>,
    pub vars: Vec<SecVar>,
    /// The string section, NUL-separated; starts with the empty string.
    pub strings: String,
    pub big_endian: bool,
}

/// Reads fixed-size fields in the blob's byte order; `None` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl Reader<'_> {
    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Tables, BtfError> {
    if bytes.len() < HEADER_LEN {
        return Err(BtfError::TooShort { len: bytes.len() });
    }
    let big_endian = match [bytes[0], bytes[1]] {
        m if m == MAGIC.to_le_bytes() => false,
        m if m == MAGIC.to_be_bytes() => true,
        found => {
            let elf = bytes.starts_with(b"\x7fELF");
            return Err(BtfError::BadMagic { found, elf });
        }
    };
    if bytes[2] != 1 {
        return Err(BtfError::UnsupportedVersion { version: bytes[2] });
    }
    let r = Reader { bytes, big_endian };
    let field = |at| r.u32(at).ok_or(BtfError::TooShort { len: bytes.len() });
    let hdr_len = field(4)?;
    let (type_off, type_len) = (field(8)?, field(12)?);
    let (str_off, str_len) = (field(16)?, field(20)?);
    if (hdr_len as usize) < HEADER_LEN || hdr_len as usize > bytes.len() {
        return Err(BtfError::BadHeaderLength {
            hdr_len,
            len: bytes.len(),
        });
    }
    let types = section(bytes, "type", hdr_len, type_off, type_len)?;
    let strings = section(bytes, "string", hdr_len, str_off, str_len)?;
    let strings = decode_strings(strings)?;

    let mut tables = Tables {
        strings,
        big_endian,
        ..Tables::default()
    };
    tables.types.push(Type {
        name_off: 0,
        kind: Kind::Void,
    });
    decode_types(
        &mut tables,
        Reader {
            bytes: types,
            big_endian,
        },
    )?;
    check_names(&tables)?;
    check_references(&tables)?;
    Ok(tables)
}

fn section<'a>(
    bytes: &'a [u8],
    name: &'static str,
    hdr_len: u32,
    off: u32,
    len: u32,
) -> Result<&'a [u8], BtfError> {
    let start = u64::from(hdr_len) + u64::from(off);
    let out_of_bounds = || BtfError::SectionOutOfBounds {
        section: name,
        start,
        len,
        available: bytes.len(),
    };
    let end = start
        .checked_add(u64::from(len))
        .ok_or_else(out_of_bounds)?;
    let range = usize::try_from(start).ok().zip(usize::try_from(end).ok());
    range
        .and_then(|(s, e)| bytes.get(s..e))
        .ok_or_else(out_of_bounds)
}

fn decode_strings(bytes: &[u8]) -> Result<String, BtfError> {
    if bytes.is_empty() {
        // No names at all: only offset 0, the empty name, is valid.
        return Ok("\0".to_string());
    }
    if bytes[0] != 0 {
        return Err(BtfError::BadStrings {
            reason: "it does not start with the empty string",
        });
    }
    if bytes.last() != Some(&0) {
        return Err(BtfError::BadStrings {
            reason: "its last string is not NUL-terminated",
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => Err(BtfError::BadStrings {
            reason: "it is not valid UTF-8",
        }),
    }
}

fn span(start: usize, len: u32) -> Span {
    // Side tables hold at most one entry per 8 input bytes, and inputs are far below 32 GiB.
    Span {
        start: start as u32,
        len: len as u16,
    }
}

fn decode_types(t: &mut Tables, r: Reader<'_>) -> Result<(), BtfError> {
    let mut pos = 0usize;
    while pos < r.bytes.len() {
        let id =
            u32::try_from(t.types.len()).map_err(|_| BtfError::TooLarge { what: "type table" })?;
        let truncated = BtfError::TruncatedType { id, offset: pos };
        let (Some(name_off), Some(info), Some(size_or_type)) =
            (r.u32(pos), r.u32(pos + 4), r.u32(pos + 8))
        else {
            return Err(truncated);
        };
        let kind = (info >> 24) & 0x1f;
        let vlen = info & 0xffff;
        let kind_flag = info >> 31 == 1;
        let trailing = match kind {
            KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
            KIND_ARRAY => 12,
            KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen as usize,
            KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen as usize,
            KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
            | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
            _ => {
                return Err(BtfError::UnknownKind {
                    id,
                    kind,
                    offset: pos,
                })
            }
        };
        let body = pos + 12;
        if r.bytes.len() - body < trailing {
            return Err(truncated);
        }
        // In bounds from here on: `trailing` bytes after `body` were just checked.
        let at = |i: usize| r.u32(body + i).unwrap_or(0);
        let kind = match kind {
            KIND_INT => {
                let v = at(0);
                Kind::Int {
                    size: size_or_type,
                    encoding: ((v >> 24) & 0x0f) as u8,
                    bit_offset: ((v >> 16) & 0xff) as u8,
                    bits: (v & 0xff) as u8,
                }
            }
            KIND_PTR => Kind::Ptr(size_or_type),
            KIND_ARRAY => Kind::Array {
                elem: at(0),
                index: at(4),
                len: at(8),
            },
            KIND_STRUCT | KIND_UNION => {
                let members = span(t.members.len(), vlen);
                t.members.extend((0..vlen as usize).map(|i| {
                    let raw = at(12 * i + 8);
                    let (offset_bits, bitfield_bits) = if kind_flag {
                        (raw & 0x00ff_ffff, raw >> 24)
                    } else {
                        (raw, 0)
                    };
                    RawMember {
                        name_off: at(12 * i),
                        ty: at(12 * i + 4),
                        offset_bits,
                        bitfield_bits,
                    }
                }));
                let c = Composite {
                    size: size_or_type,
                    members,
                    bitfield_offsets: kind_flag,
                };
                if kind == KIND_STRUCT {
                    Kind::Struct(c)
                } else {
                    Kind::Union(c)
                }
            }
            KIND_ENUM => {
                let values = span(t.enumerators.len(), vlen);
                t.enumerators.extend((0..vlen as usize).map(|i| Enumerator {
                    name_off: at(8 * i),
                    value: u64::from(at(8 * i + 4)),
                }));
                Kind::Enum {
                    size: size_or_type,
                    signed: kind_flag,
                    values,
                }
            }
            KIND_ENUM64 => {
                let values = span(t.enumerators.len(), vlen);
                t.enumerators.extend((0..vlen as usize).map(|i| Enumerator {
                    name_off: at(12 * i),
                    value: u64::from(at(12 * i + 4)) | u64::from(at(12 * i + 8)) << 32,
                }));
                Kind::Enum64 {
                    size: size_or_type,
                    signed: kind_flag,
                    values,
                }
            }
            KIND_FWD => Kind::Fwd { union: kind_flag },
            KIND_TYPEDEF => Kind::Typedef(size_or_type),
            KIND_VOLATILE => Kind::Volatile(size_or_type),
            KIND_CONST => Kind::Const(size_or_type),
            KIND_RESTRICT => Kind::Restrict(size_or_type),
            KIND_TYPE_TAG => Kind::TypeTag(size_or_type),
            KIND_FUNC => Kind::Func {
                proto: size_or_type,
                linkage: vlen as u16,
            },
            KIND_FUNC_PROTO => {
                let params = span(t.params.len(), vlen);
                t.params.extend((0..vlen as usize).map(|i| RawParam {
                    name_off: at(8 * i),
                    ty: at(8 * i + 4),
                }));
                Kind::FuncProto {
                    ret: size_or_type,
                    params,
                }
            }
            KIND_VAR => Kind::Var {
                ty: size_or_type,
                linkage: at(0),
            },
            KIND_DATASEC => {
                let vars = span(t.vars.len(), vlen);
                t.vars.extend((0..vlen as usize).map(|i| SecVar {
                    ty: at(12 * i),
                    offset: at(12 * i + 4),
                    size: at(12 * i + 8),
                }));
                Kind::Datasec {
                    size: size_or_type,
                    vars,
                }
            }
            KIND_FLOAT => Kind::Float { size: size_or_type },
            // Only KIND_DECL_TAG is left: the match on `kind` above refused the rest.
            _ => Kind::DeclTag {
                ty: size_or_type,
                component: at(0),
            },
        };
        t.types.push(Type { name_off, kind });
        pos = body + trailing;
    }
    Ok(())
}

/// True when `off` starts a string: inside the section and not in the middle of a character.
pub(crate) fn is_name(strings: &str, off: u32) -> bool {
    (off as usize) < strings.len() && strings.is_char_boundary(off as usize)
}

fn check_names(t: &Tables) -> Result<(), BtfError> {
    let str_len = t.strings.len();
    for (id, ty) in t.types.iter().enumerate() {
        let bad = |name_off| BtfError::BadName {
            id: id as u32,
            name_off,
            str_len,
        };
        let ok = |name_off: &u32| is_name(&t.strings, *name_off);
        let first_bad = match ty.kind {
            Kind::Struct(c) | Kind::Union(c) => t.members[c.members.range()]
                .iter()
                .map(|m| m.name_off)
                .find(|o| !ok(o)),
            Kind::Enum { values, .. } | Kind::Enum64 { values, .. } => t.enumerators
                [values.range()]
            .iter()
            .map(|e| e.name_off)
            .find(|o| !ok(o)),
            Kind::FuncProto { params, .. } => t.params[params.range()]
                .iter()
                .map(|p| p.name_off)
                .find(|o| !ok(o)),
            _ => None,
        };
        if let Some(name_off) = Some(ty.name_off).filter(|o| !ok(o)).or(first_bad) {
            return Err(bad(name_off));
        }
    }
    Ok(())
}

fn check_references(t: &Tables) -> Result<(), BtfError> {
    let count = t.types.len() as u32;
    for (id, ty) in t.types.iter().enumerate() {
        let id = id as u32;
        let check = |refers_to: u32| {
            if refers_to < count {
                Ok(())
            } else {
                Err(BtfError::DanglingType {
                    id,
                    refers_to,
                    count,
                })
            }
        };
        match ty.kind {
            Kind::Void
            | Kind::Int { .. }
            | Kind::Enum { .. }
            | Kind::Enum64 { .. }
            | Kind::Fwd { .. }
            | Kind::Float { .. } => {}
            Kind::Ptr(to)
            | Kind::Typedef(to)
            | Kind::Volatile(to)
            | Kind::Const(to)
            | Kind::Restrict(to)
            | Kind::TypeTag(to)
            | Kind::Func { proto: to, .. }
            | Kind::Var { ty: to, .. }
            | Kind::DeclTag { ty: to, .. } => check(to)?,
            Kind::Array { elem, index, .. } => {
                check(elem)?;
                check(index)?;
            }
            Kind::Struct(c) | Kind::Union(c) => {
                t.members[c.members.range()]
                    .iter()
                    .try_for_each(|m| check(m.ty))?;
            }
            Kind::FuncProto { ret, params } => {
                check(ret)?;
                t.params[params.range()]
                    .iter()
                    .try_for_each(|p| check(p.ty))?;
            }
            Kind::Datasec { vars, .. } => {
                t.vars[vars.range()].iter().try_for_each(|v| check(v.ty))?;
            }
        }
    }
    Ok(())
}
