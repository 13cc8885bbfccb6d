//! Encoding raw BTF: a type section, a deduplicated string table and the header.

use std::collections::HashMap;

use super::error::BtfError;
use super::raw::{self, Kind, Tables, Type};

/// Builds a blob type by type. Type ids are implicit: the n-th record written is type n.
#[derive(Debug)]
pub(crate) struct Writer {
    types: Vec<u8>,
    strings: Vec<u8>,
    offsets: HashMap<String, u32>,
    big_endian: bool,
}

impl Writer {
    pub fn new(big_endian: bool) -> Writer {
        Writer {
            types: Vec::new(),
            strings: vec![0],
            offsets: HashMap::new(),
            big_endian,
        }
    }

    /// The offset of `s` in the string table, adding it the first time.
    pub fn string(&mut self, s: &str) -> Result<u32, BtfError> {
        if s.is_empty() {
            return Ok(0);
        }
        if let Some(&off) = self.offsets.get(s) {
            return Ok(off);
        }
        let off = len_u32(self.strings.len(), "string section")?;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        self.offsets.insert(s.to_string(), off);
        Ok(off)
    }

    pub fn u32(&mut self, v: u32) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.types.extend_from_slice(&b);
    }

    /// The 12-byte record header shared by every kind.
    pub fn header(
        &mut self,
        name: &str,
        kind: u32,
        kind_flag: bool,
        vlen: u16,
        size_or_type: u32,
    ) -> Result<(), BtfError> {
        let name_off = self.string(name)?;
        self.u32(name_off);
        self.u32(u32::from(kind_flag) << 31 | kind << 24 | u32::from(vlen));
        self.u32(size_or_type);
        Ok(())
    }

    /// Header (24 bytes, no extension), then the type section, then the string section.
    pub fn finish(self) -> Result<Vec<u8>, BtfError> {
        let type_len = len_u32(self.types.len(), "type section")?;
        let str_len = len_u32(self.strings.len(), "string section")?;
        let mut out = Vec::with_capacity(raw::HEADER_LEN + self.types.len() + self.strings.len());
        let magic = if self.big_endian {
            raw::MAGIC.to_be_bytes()
        } else {
            raw::MAGIC.to_le_bytes()
        };
        out.extend_from_slice(&magic);
        out.extend_from_slice(&[1, 0]); // version 1, no flags
        let fields = [raw::HEADER_LEN as u32, 0, type_len, type_len, str_len];
        for v in fields {
            out.extend_from_slice(&if self.big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        Ok(out)
    }

    /// Writes `ty` (decoded from `from`) with every type id it mentions passed through `id`.
    pub fn copy_type(
        &mut self,
        from: &Tables,
        ty: &Type,
        id: &mut impl FnMut(u32) -> Result<u32, BtfError>,
    ) -> Result<(), BtfError> {
        let name = str_at(from, ty.name_off);
        match ty.kind {
            // Never written: id 0 is implicit.
            Kind::Void => {}
            Kind::Int {
                size,
                encoding,
                bit_offset,
                bits,
            } => {
                self.header(name, raw::KIND_INT, false, 0, size)?;
                self.u32(u32::from(encoding) << 24 | u32::from(bit_offset) << 16 | u32::from(bits));
            }
            Kind::Ptr(to) => self.header(name, raw::KIND_PTR, false, 0, id(to)?)?,
            Kind::Array { elem, index, len } => {
                self.header(name, raw::KIND_ARRAY, false, 0, 0)?;
                let (elem, index) = (id(elem)?, id(index)?);
                self.u32(elem);
                self.u32(index);
                self.u32(len);
            }
            Kind::Struct(c) | Kind::Union(c) => {
                let kind = if matches!(ty.kind, Kind::Struct(_)) {
                    raw::KIND_STRUCT
                } else {
                    raw::KIND_UNION
                };
                self.header(name, kind, c.bitfield_offsets, c.members.len, c.size)?;
                for m in &from.members[c.members.range()] {
                    let name_off = self.string(str_at(from, m.name_off))?;
                    let ty = id(m.ty)?;
                    self.u32(name_off);
                    self.u32(ty);
                    self.u32(if c.bitfield_offsets {
                        m.bitfield_bits << 24 | m.offset_bits
                    } else {
                        m.offset_bits
                    });
                }
            }
            Kind::Enum {
                size,
                signed,
                values,
            } => {
                self.header(name, raw::KIND_ENUM, signed, values.len, size)?;
                for e in &from.enumerators[values.range()] {
                    let name_off = self.string(str_at(from, e.name_off))?;
                    self.u32(name_off);
                    self.u32(e.value as u32);
                }
            }
            Kind::Enum64 {
                size,
                signed,
                values,
            } => {
                self.header(name, raw::KIND_ENUM64, signed, values.len, size)?;
                for e in &from.enumerators[values.range()] {
                    let name_off = self.string(str_at(from, e.name_off))?;
                    self.u32(name_off);
                    self.u32(e.value as u32);
                    self.u32((e.value >> 32) as u32);
                }
            }
            Kind::Fwd { union } => self.header(name, raw::KIND_FWD, union, 0, 0)?,
            Kind::Typedef(to) => self.header(name, raw::KIND_TYPEDEF, false, 0, id(to)?)?,
            Kind::Volatile(to) => self.header(name, raw::KIND_VOLATILE, false, 0, id(to)?)?,
            Kind::Const(to) => self.header(name, raw::KIND_CONST, false, 0, id(to)?)?,
            Kind::Restrict(to) => self.header(name, raw::KIND_RESTRICT, false, 0, id(to)?)?,
            Kind::TypeTag(to) => self.header(name, raw::KIND_TYPE_TAG, false, 0, id(to)?)?,
            Kind::Func { proto, linkage } => {
                self.header(name, raw::KIND_FUNC, false, linkage, id(proto)?)?
            }
            Kind::FuncProto { ret, params } => {
                self.header(name, raw::KIND_FUNC_PROTO, false, params.len, id(ret)?)?;
                for p in &from.params[params.range()] {
                    let name_off = self.string(str_at(from, p.name_off))?;
                    let ty = id(p.ty)?;
                    self.u32(name_off);
                    self.u32(ty);
                }
            }
            Kind::Var { ty, linkage } => {
                self.header(name, raw::KIND_VAR, false, 0, id(ty)?)?;
                self.u32(linkage);
            }
            Kind::Datasec { size, vars } => {
                self.header(name, raw::KIND_DATASEC, false, vars.len, size)?;
                for v in &from.vars[vars.range()] {
                    let ty = id(v.ty)?;
                    self.u32(ty);
                    self.u32(v.offset);
                    self.u32(v.size);
                }
            }
            Kind::Float { size } => self.header(name, raw::KIND_FLOAT, false, 0, size)?,
            Kind::DeclTag { ty, component } => {
                self.header(name, raw::KIND_DECL_TAG, false, 0, id(ty)?)?;
                self.u32(component);
            }
        }
        Ok(())
    }
}

/// The NUL-terminated string at `off`; "" for an offset the parser would have refused.
pub(crate) fn str_at(t: &Tables, off: u32) -> &str {
    let rest = t.strings.get(off as usize..).unwrap_or("");
    rest.split('\0').next().unwrap_or("")
}

fn len_u32(len: usize, what: &'static str) -> Result<u32, BtfError> {
    u32::try_from(len).map_err(|_| BtfError::TooLarge { what })
}
