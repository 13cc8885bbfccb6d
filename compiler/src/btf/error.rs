//! Why a BTF blob was refused.

use std::fmt;

/// Malformed or unusable BTF. Every variant says where the problem is (a byte offset or a
/// type id) so a user can check the file with `bpftool btf dump file FILE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BtfError {
    /// Fewer bytes than the fixed 24-byte header.
    TooShort {
        len: usize,
    },
    /// The first two bytes are not the BTF magic in either byte order.
    BadMagic {
        found: [u8; 2],
        elf: bool,
    },
    UnsupportedVersion {
        version: u8,
    },
    /// `hdr_len` is smaller than the fixed header or runs past the end of the input.
    BadHeaderLength {
        hdr_len: u32,
        len: usize,
    },
    /// The type or string section does not fit in the input.
    SectionOutOfBounds {
        section: &'static str,
        start: u64,
        len: u32,
        available: usize,
    },
    /// The string section is not a sequence of NUL-terminated UTF-8 strings starting with "".
    BadStrings {
        reason: &'static str,
    },
    /// A type record or its trailing data runs past the end of the type section.
    TruncatedType {
        id: u32,
        offset: usize,
    },
    UnknownKind {
        id: u32,
        kind: u32,
        offset: usize,
    },
    /// A name offset points outside the string section or into the middle of a character.
    BadName {
        id: u32,
        name_off: u32,
        str_len: usize,
    },
    /// A type refers to a type id that the blob does not define.
    DanglingType {
        id: u32,
        refers_to: u32,
        count: u32,
    },
    /// An ELF file without a `.BTF` section, or one the ELF reader refused.
    Elf {
        reason: String,
    },
    /// Writing a blob would overflow BTF's 32-bit lengths.
    TooLarge {
        what: &'static str,
    },
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfError::TooShort { len } => write!(
                f,
                "not BTF: {len} bytes is shorter than the 24-byte BTF header \
                 (pass /sys/kernel/btf/vmlinux or an object's `.BTF` section)"
            ),
            BtfError::BadMagic { found, elf: true } => write!(
                f,
                "not raw BTF: found an ELF file (magic {:02x} {:02x}); pass its `.BTF` section \
                 or /sys/kernel/btf/vmlinux, or read it with `Btf::parse_elf`",
                found[0], found[1]
            ),
            BtfError::BadMagic { found, elf: false } => write!(
                f,
                "not BTF: the file starts with {:02x} {:02x}, expected the BTF magic 0xeb9f \
                 (pass /sys/kernel/btf/vmlinux or an object's `.BTF` section)",
                found[0], found[1]
            ),
            BtfError::UnsupportedVersion { version } => write!(
                f,
                "unsupported BTF version {version}: only version 1 exists; the file may be corrupt"
            ),
            BtfError::BadHeaderLength { hdr_len, len } => write!(
                f,
                "corrupt BTF header: header length {hdr_len} is not between 24 and the file \
                 length {len}"
            ),
            BtfError::SectionOutOfBounds {
                section,
                start,
                len,
                available,
            } => write!(
                f,
                "corrupt BTF header: the {section} section ({len} bytes at byte {start}) runs \
                 past the end of the {available}-byte input; the file may be truncated"
            ),
            BtfError::BadStrings { reason } => write!(f, "corrupt BTF string section: {reason}"),
            BtfError::TruncatedType { id, offset } => write!(
                f,
                "corrupt BTF: type {id} at byte {offset} of the type section runs past its end; \
                 the file may be truncated"
            ),
            BtfError::UnknownKind { id, kind, offset } => write!(
                f,
                "unsupported BTF: type {id} at byte {offset} of the type section has kind \
                 {kind}, which this reader does not know (known kinds are 1 to 19); the kernel \
                 may be newer than krsi"
            ),
            BtfError::BadName {
                id,
                name_off,
                str_len,
            } => write!(
                f,
                "corrupt BTF: type {id} names string offset {name_off}, which is not the start \
                 of a string in the {str_len}-byte string section"
            ),
            BtfError::DanglingType {
                id,
                refers_to,
                count,
            } => write!(
                f,
                "corrupt BTF: type {id} refers to type {refers_to}, but the blob defines only \
                 types 0 to {}",
                count.saturating_sub(1)
            ),
            BtfError::Elf { reason } => write!(f, "cannot read BTF from ELF: {reason}"),
            BtfError::TooLarge { what } => {
                write!(f, "cannot write BTF: the {what} would exceed 4 GiB")
            }
        }
    }
}

impl std::error::Error for BtfError {}
