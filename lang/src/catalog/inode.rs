//! Who owns a file and how its mode is set, on the file events: the inode's `i_uid`, `i_gid`
//! and `i_mode`, reached from each hook's own parameters (`file->f_inode`, `dentry->d_inode`,
//! `path->dentry->d_inode`). Each event lists these with its full member chain; the functions
//! here keep the names, types and documentation the same on every event.
//!
//! An inode the program cannot reach (a NULL pointer on the way, which the events listed do
//! not have: their file or dentry always has an inode) reads as 0, root's uid and a mode with
//! no bits set.

use super::{Attribute, Source, ValueType};

/// The setuid and setgid bits of `i_mode` (include/uapi/linux/stat.h, `S_ISUID`, `S_ISGID`).
const S_ISUID: u64 = 0o4000;
const S_ISGID: u64 = 0o2000;

/// `owner.uid`: `members` ends in `i_uid`, `val`.
pub(super) const fn owner_uid(param: &'static str, members: &'static [&'static str]) -> Attribute {
    Attribute {
        name: "owner.uid",
        ty: ValueType::Int,
        source: Source::Int { param, members },
        doc: "the user id that owns the file (its inode's i_uid)",
    }
}

/// `owner.gid`: `members` ends in `i_gid`, `val`.
pub(super) const fn owner_gid(param: &'static str, members: &'static [&'static str]) -> Attribute {
    Attribute {
        name: "owner.gid",
        ty: ValueType::Int,
        source: Source::Int { param, members },
        doc: "the group id that owns the file (its inode's i_gid)",
    }
}

/// `mode`: `members` ends in `i_mode`.
pub(super) const fn mode(param: &'static str, members: &'static [&'static str]) -> Attribute {
    Attribute {
        name: "mode",
        ty: ValueType::Int,
        source: Source::Int { param, members },
        doc: "the file's mode (its inode's i_mode): type bits (0o170000) and permission, setuid (0o4000), setgid (0o2000) and sticky (0o1000) bits",
    }
}

/// `setuid`: `members` ends in `i_mode`.
pub(super) const fn setuid(param: &'static str, members: &'static [&'static str]) -> Attribute {
    Attribute {
        name: "setuid",
        ty: ValueType::Bool,
        source: Source::Flag {
            param,
            members,
            mask: S_ISUID,
        },
        doc: "the file has its setuid bit set (mode & 0o4000)",
    }
}

/// `setgid`: `members` ends in `i_mode`.
pub(super) const fn setgid(param: &'static str, members: &'static [&'static str]) -> Attribute {
    Attribute {
        name: "setgid",
        ty: ValueType::Bool,
        source: Source::Flag {
            param,
            members,
            mask: S_ISGID,
        },
        doc: "the file has its setgid bit set (mode & 0o2000)",
    }
}
