//! Why the target kernel's types cannot give what an attribute reads, as data: the note of
//! E0302 and E0303. Its `Display` is the one place those notes are written.

use crate::kernel::TypeShape;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// The kernel's BTF has no struct of this name.
    NoStruct(String),
    /// The hook has no parameter `name`; it has `params`.
    NoParameter {
        name: String,
        params: Vec<String>,
    },
    NoMember {
        owner: Owner,
        member: String,
    },
    /// The member (`walked->member`, `owner.member`) is a bitfield.
    Bitfield(String),
    /// What should be a pointer is not; `shape` is what it is, when the note says.
    NotPointer {
        what: Pointer,
        shape: Option<TypeShape>,
    },
    /// A member is looked up in `walked`, which is no struct.
    NotStruct {
        walked: String,
        shape: TypeShape,
    },
    /// `what` does not have the type the walk reads, described by `expected`.
    WrongType {
        what: &'static str,
        expected: &'static str,
    },
    /// `owner.member` is not `bytes` long.
    WrongSize {
        member: String,
        bytes: u32,
    },
    /// A pointer at the end of `walked` points to `shape`, not to `expected`.
    PointsTo {
        walked: String,
        shape: TypeShape,
        expected: &'static str,
    },
    /// An array of `shape` where characters are read.
    NotCharacters {
        walked: String,
        shape: TypeShape,
    },
    /// The chain ends in a type the attribute cannot read.
    CannotRead {
        walked: String,
        shape: TypeShape,
    },
}

/// The type a member is looked up in, as the note names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A struct by its name: "`struct dentry`".
    Struct(&'static str),
    /// A type by its shape, for a member chain.
    Shape(TypeShape),
    /// A struct by its bare name: "`sockaddr_in`".
    Named(&'static str),
}

/// Something that should be a pointer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pointer {
    Parameter(String),
    /// A member, as `struct.member`.
    Member(&'static str),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::NoStruct(name) => write!(f, "the kernel's BTF has no `struct {name}`"),
            Unreadable::NoParameter { name, params } => write!(
                f,
                "the hook has no parameter `{name}` (it has: {})",
                params.join(", ")
            ),
            Unreadable::NoMember { owner, member } => {
                match owner {
                    Owner::Struct(name) => write!(f, "`struct {name}`")?,
                    Owner::Shape(shape) => f.write_str(&describe_shape(shape))?,
                    Owner::Named(name) => write!(f, "`{name}`")?,
                }
                write!(f, " has no member `{member}`")
            }
            Unreadable::Bitfield(member) => write!(f, "`{member}` is a bitfield"),
            Unreadable::NotPointer { what, shape } => {
                match what {
                    Pointer::Parameter(name) => write!(f, "parameter `{name}`")?,
                    Pointer::Member(name) => write!(f, "`{name}`")?,
                }
                match shape {
                    Some(shape) => write!(f, " is {}, not a pointer", describe_shape(shape)),
                    None => f.write_str(" is not a pointer"),
                }
            }
            Unreadable::NotStruct { walked, shape } => {
                write!(f, "`{walked}` is {}, not a struct", describe_shape(shape))
            }
            Unreadable::WrongType { what, expected } => write!(f, "`{what}` is not {expected}"),
            Unreadable::WrongSize { member, bytes } => {
                write!(f, "`{member}` is not {bytes} bytes long")
            }
            Unreadable::PointsTo {
                walked,
                shape,
                expected,
            } => write!(
                f,
                "`{walked}` points to {}, not to {expected}",
                describe_shape(shape)
            ),
            Unreadable::NotCharacters { walked, shape } => write!(
                f,
                "`{walked}` is an array of {}, not of characters",
                describe_shape(shape)
            ),
            Unreadable::CannotRead { walked, shape } => write!(
                f,
                "`{walked}` is {}, which this attribute cannot read",
                describe_shape(shape)
            ),
        }
    }
}

/// A type as a note names it: "a 32-bit integer", "`struct file`".
fn describe_shape(shape: &TypeShape) -> String {
    match shape {
        TypeShape::Int { bytes, signed } => format!(
            "a {}-bit {}integer",
            bytes * 8,
            if *signed { "signed " } else { "" }
        ),
        TypeShape::Enum { .. } => "an enum".into(),
        TypeShape::Pointer { .. } => "a pointer".into(),
        TypeShape::Struct { name, .. } if name.is_empty() => "an anonymous struct".into(),
        TypeShape::Struct { name, .. } => format!("`struct {name}`"),
        TypeShape::Union { name, .. } => format!("`union {name}`"),
        TypeShape::Array { .. } => "an array".into(),
        TypeShape::Opaque { name } => {
            format!("`{name}` (declared, not defined, in the kernel's BTF)")
        }
        TypeShape::Void => "void".into(),
        TypeShape::Other => "a type krsi cannot read".into(),
    }
}
