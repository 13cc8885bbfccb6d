//! The machine's memory: typed regions addressed by fake 64-bit pointers.
//!
//! Region `i` starts at `(i + 1) << REGION_SHIFT`, so a pointer names its region in its high
//! bits and its offset in the low ones, and pointer arithmetic is plain integer arithmetic.
//! Every access is checked against the bounds of the region its first byte falls in; an
//! access that strays (before the start wraps into another region's far end, past the end is
//! past the end) is an error, never a read of a neighbour. The stack additionally remembers
//! which bytes were written, because the kernel's verifier rejects reads of uninitialized
//! stack.

use std::fmt;

/// Bits of offset within a region.
pub const REGION_SHIFT: u32 = 36;

/// What a region holds, for error messages and for helpers that accept only some regions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// The 512-byte BPF stack; r10 points one past its end.
    Stack,
    /// The LSM program's context: the hook's arguments as an array of u64.
    Context,
    /// A fake kernel object (`what` says which, e.g. `arg0->[64]`).
    Kernel(String),
    /// The value of entry `key` of map `map`.
    MapValue { map: String, key: u32 },
    /// What `ld_imm64` of a map loads: a handle with no bytes of its own.
    MapHandle(String),
    /// The current task's user memory: an exec's arguments, as the new program's stack holds
    /// them (`bpf_probe_read_user_str` reads it; a program load or a kernel read does not).
    User,
}

impl fmt::Display for RegionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionKind::Stack => write!(f, "the stack"),
            RegionKind::Context => write!(f, "the context"),
            RegionKind::Kernel(what) => write!(f, "kernel object `{what}`"),
            RegionKind::MapValue { map, key } => write!(f, "value {key} of map `{map}`"),
            RegionKind::MapHandle(map) => write!(f, "map `{map}`"),
            RegionKind::User => write!(f, "user memory"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Region {
    pub kind: RegionKind,
    pub bytes: Vec<u8>,
    pub writable: bool,
    /// For the stack: which bytes have been written.
    written: Option<Vec<bool>>,
}

/// Why an access failed; the interpreter adds the instruction slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemError {
    /// The address is in no region, or the access runs past its region's end.
    OutOfBounds {
        addr: u64,
        len: usize,
        region: Option<String>,
    },
    ReadOnly {
        addr: u64,
        region: String,
    },
    Uninitialized {
        addr: u64,
        len: usize,
    },
    /// A load from the context at an offset that is not a multiple of 8, which the kernel's
    /// context check refuses (`btf_ctx_access`: "offset %d is not multiple of 8"): a hook's
    /// arguments are 8-byte slots, read from their first byte.
    ContextOffset {
        addr: u64,
        offset: usize,
    },
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemError::OutOfBounds {
                addr,
                len,
                region: Some(region),
            } => write!(f, "{len}-byte access at {addr:#x} is outside {region}"),
            MemError::OutOfBounds {
                addr,
                len,
                region: None,
            } => write!(f, "{len}-byte access at {addr:#x} is in no region"),
            MemError::ReadOnly { addr, region } => {
                write!(f, "write at {addr:#x} to read-only {region}")
            }
            MemError::Uninitialized { addr, len } => {
                write!(f, "{len}-byte read at {addr:#x} of uninitialized stack")
            }
            MemError::ContextOffset { addr, offset } => write!(
                f,
                "read at {addr:#x}, offset {offset} of the context, which is not a multiple of 8"
            ),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Memory {
    regions: Vec<Region>,
}

impl Memory {
    pub fn new() -> Self {
        Self::default()
    }

    /// The address of byte 0 of region `id`.
    pub fn base(id: usize) -> u64 {
        (id as u64 + 1) << REGION_SHIFT
    }

    /// Adds a region and returns its id.
    pub fn add(&mut self, kind: RegionKind, bytes: Vec<u8>, writable: bool) -> usize {
        let written = (kind == RegionKind::Stack).then(|| vec![false; bytes.len()]);
        self.regions.push(Region {
            kind,
            bytes,
            writable,
            written,
        });
        self.regions.len() - 1
    }

    pub fn region(&self, id: usize) -> Option<&Region> {
        self.regions.get(id)
    }

    pub fn region_mut(&mut self, id: usize) -> Option<&mut Region> {
        self.regions.get_mut(id)
    }

    /// The region an address points into (its first byte), and the offset in it.
    pub fn locate(&self, addr: u64) -> Option<(usize, usize)> {
        let id = (addr >> REGION_SHIFT).checked_sub(1)?;
        let id = usize::try_from(id).ok()?;
        self.regions.get(id)?;
        let offset = usize::try_from(addr & ((1 << REGION_SHIFT) - 1)).ok()?;
        Some((id, offset))
    }

    fn range(&self, addr: u64, len: usize) -> Result<(usize, usize), MemError> {
        let out = |region: Option<String>| MemError::OutOfBounds { addr, len, region };
        let (id, offset) = self.locate(addr).ok_or_else(|| out(None))?;
        let region = &self.regions[id];
        match offset.checked_add(len) {
            Some(end) if end <= region.bytes.len() => Ok((id, offset)),
            _ => Err(out(Some(region.kind.to_string()))),
        }
    }

    /// `len` bytes at `addr`, as a program load sees them.
    pub fn read(&self, addr: u64, len: usize) -> Result<&[u8], MemError> {
        let (id, offset) = self.range(addr, len)?;
        let region = &self.regions[id];
        if region.kind == RegionKind::Context && offset % 8 != 0 {
            return Err(MemError::ContextOffset { addr, offset });
        }
        if let Some(written) = &region.written {
            if written[offset..offset + len].iter().any(|w| !w) {
                return Err(MemError::Uninitialized { addr, len });
            }
        }
        Ok(&region.bytes[offset..offset + len])
    }

    /// Reads an unsigned little-endian integer of `len` (1, 2, 4 or 8) bytes.
    pub fn read_uint(&self, addr: u64, len: usize) -> Result<u64, MemError> {
        let bytes = self.read(addr, len)?;
        let mut word = [0u8; 8];
        word[..len.min(8)].copy_from_slice(&bytes[..len.min(8)]);
        Ok(u64::from_le_bytes(word))
    }

    /// Writes `bytes` at `addr`, as a program store (or a helper writing for it) does.
    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), MemError> {
        let (id, offset) = self.range(addr, bytes.len())?;
        let region = &mut self.regions[id];
        if !region.writable {
            return Err(MemError::ReadOnly {
                addr,
                region: region.kind.to_string(),
            });
        }
        region.bytes[offset..offset + bytes.len()].copy_from_slice(bytes);
        if let Some(written) = &mut region.written {
            written[offset..offset + bytes.len()].fill(true);
        }
        Ok(())
    }

    /// Writes the low `len` bytes of `value`, little endian.
    pub fn write_uint(&mut self, addr: u64, len: usize, value: u64) -> Result<(), MemError> {
        let bytes = value.to_le_bytes();
        self.write(addr, &bytes[..len.min(8)])
    }

    /// Reads bytes from `addr` up to and excluding the first NUL, at most `max` of them;
    /// `None` when the region ends (or the address is in none) before a NUL or `max` bytes.
    /// This is the kernel reading a string: no initialization check applies.
    pub fn read_str(&self, addr: u64, max: usize) -> Option<Vec<u8>> {
        let (id, offset) = self.locate(addr)?;
        let bytes = self.regions[id].bytes.get(offset..)?;
        let mut out = Vec::new();
        for &b in bytes.iter().take(max) {
            if b == 0 {
                return Some(out);
            }
            out.push(b);
        }
        (out.len() == max).then_some(out)
    }

    /// Bytes of a kernel object for a helper that reads kernel memory (`probe_read_kernel`):
    /// `None` when the range is not wholly inside one region.
    pub fn kernel_read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let (id, offset) = self.range(addr, len).ok()?;
        Some(self.regions[id].bytes[offset..offset + len].to_vec())
    }
}
