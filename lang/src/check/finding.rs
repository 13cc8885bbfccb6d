//! What the checker finds, as data: one variant a kind of finding, with the facts it is about.
//! [`Finding::diagnostic`] (`super::messages`) renders each to a
//! [`Diagnostic`](crate::diagnostic::Diagnostic), in the one place the checker's messages,
//! labels and help lines are written. Their codes (and so their severity: W0001 to W0003 are
//! warnings) are documented in the `codes!` table.

use super::unreadable::Unreadable;
use crate::ast::{Action, CmpOp};
use crate::catalog::{Attribute, EnumType, Event, ValueType};
use crate::span::Span;
use std::net::IpAddr;

#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    // Names and scopes.
    /// A list or macro named like an earlier one.
    DuplicateDefinition {
        name: String,
        span: Span,
        first: Span,
    },
    /// A `test` item gives the same attribute twice.
    TestValueTwice {
        name: String,
        span: Span,
    },
    /// A `test` item describes an event no kernel produces (E0213): why, and what to write
    /// instead, from [`crate::test_event`].
    ImpossibleTestEvent {
        impossible: crate::test_event::Impossible,
        span: Span,
    },
    /// About a value read after the point of no return (`cmdline`): see `late.rs`.
    Late(super::late::LateFinding),
    /// A `test` item gives an attribute a value of another type.
    TestValueMismatch {
        attribute: &'static Attribute,
        span: Span,
        name_span: Span,
    },
    Unused {
        kind: Definition,
        name: String,
        span: Span,
    },
    /// `policy NAME` after something it must come before.
    MisplacedName {
        span: Span,
        conflict: HeaderConflict,
        other: Span,
    },
    /// `mode ...` after something it must come before.
    MisplacedMode {
        span: Span,
        conflict: HeaderConflict,
        other: Span,
    },
    UnknownMode {
        mode: String,
        span: Span,
        suggestion: Option<&'static str>,
    },
    UnknownEvent {
        name: String,
        span: Span,
        suggestion: Option<&'static str>,
    },
    UnknownErrno {
        name: String,
        span: Span,
        /// The name is a known errno once upper-cased.
        upper_case_known: bool,
        suggestion: Option<&'static str>,
    },
    ErrnoOnNonDeny {
        action: Action,
        span: Span,
        action_span: Span,
    },
    RecursiveMacro {
        name: String,
        span: Span,
        definition: Span,
        /// The macros being expanded, outermost first.
        expanding: Vec<String>,
    },
    AttributeNotOnEvent {
        name: String,
        span: Span,
        event: &'static Event,
        /// The events that have it.
        hosts: Vec<&'static str>,
    },
    UnknownName {
        name: String,
        span: Span,
        event: &'static Event,
        suggestion: Option<String>,
    },

    // Conditions and comparisons.
    /// A non-boolean attribute used as a condition.
    AttributeNotCondition {
        attribute: &'static Attribute,
        span: Span,
    },
    ListNotCondition {
        name: String,
        span: Span,
    },
    BitAndNotCondition {
        span: Span,
    },
    LiteralNotCondition {
        span: Span,
    },
    ConditionCompared {
        span: Span,
    },
    MacroAsValue {
        name: String,
        span: Span,
    },
    /// `&` on something other than an integer attribute and an integer literal.
    BadBitAnd {
        span: Span,
    },
    /// About `ancestor.comm`.
    Lineage(super::lineage::LineageFinding),
    /// A comparison without an attribute on either side.
    NoAttribute {
        span: Span,
    },
    /// `a OP b` with two attributes; `compared_with` is the enum when one side is one.
    /// Two attributes compared where krsi cannot: of different types, masked, or of a type
    /// whose values only meet literals (strings, enums, addresses).
    TwoAttributes {
        span: Span,
        enum_attribute: Option<(&'static Attribute, &'static EnumType)>,
        /// The two sides, when neither is an enum.
        sides: Option<(&'static Attribute, &'static Attribute)>,
        /// A side is masked (`uid & 1 == gid`).
        masked: bool,
    },
    CannotCompare {
        attribute: &'static Attribute,
        span: Span,
        attribute_span: Span,
        with: ValueKind,
    },
    /// A list element of another type than the attribute compared with it.
    ListElementMismatch {
        attribute: &'static Attribute,
        span: Span,
        attribute_span: Span,
        element: ValueKind,
    },
    GlobNotString {
        span: Span,
    },
    BadGlob {
        pattern: String,
        message: String,
        offset: usize,
        span: Span,
    },
    /// A deny glob ending in `/*`.
    ShallowDenyGlob {
        pattern: String,
        span: Span,
    },
    /// `==` or `!=` with an address range.
    RangeEquality {
        op: CmpOp,
        attribute: &'static Attribute,
        ip: IpAddr,
        prefix: u8,
        span: Span,
    },
    /// `< <= > >=` on something other than an integer.
    OrderNotInteger {
        op: CmpOp,
        attribute: &'static Attribute,
        span: Span,
    },
    /// `~` or `!~` on something other than a string.
    MatchNotString {
        op: CmpOp,
        attribute: &'static Attribute,
        span: Span,
    },
    /// `in` without a list on the right; `found` when the checker knows what is there.
    InNeedsList {
        attribute: &'static Attribute,
        found: Option<ValueKind>,
        span: Span,
    },
    /// A single-value operator with a list on the right.
    ListForSingleValue {
        op: CmpOp,
        ty: ValueType,
        span: Span,
    },
    BadListElement {
        span: Span,
    },
    MixedList {
        kind: &'static str,
        first_kind: &'static str,
        span: Span,
        first: Span,
    },
    /// A string longer than the fixed-size attribute can hold.
    StringNeverFits {
        attribute: &'static Attribute,
        capacity: usize,
        text: String,
        /// What the kernel keeps, written as a policy string.
        kept: String,
        span: Span,
    },
    /// A string (or every match of a glob) longer than the program reads of its attribute.
    NeverRead {
        attribute: &'static Attribute,
        longest: usize,
        /// The string's bytes, or the glob's shortest match.
        len: usize,
        glob: bool,
        span: Span,
    },
    /// A glob whose every match is longer than the fixed-size attribute can hold.
    GlobNeverFits {
        attribute: &'static Attribute,
        capacity: usize,
        pattern: String,
        shortest: usize,
        span: Span,
    },

    // Enum attributes.
    EnumOperator {
        attribute: &'static Attribute,
        kind: &'static EnumType,
        span: Span,
    },
    UnknownEnumValue {
        attribute: &'static Attribute,
        kind: &'static EnumType,
        name: String,
        span: Span,
        suggestion: Option<String>,
    },
    EnumMismatch {
        attribute: &'static Attribute,
        kind: &'static EnumType,
        found: ValueKind,
        span: Span,
    },

    // The target kernel.
    HookMissing {
        kernel: String,
        hook: &'static str,
        event: &'static str,
        span: Span,
    },
    /// The argument that tells an event's calls of a shared hook apart cannot be read.
    GuardUnreadable {
        event: &'static str,
        hook: &'static str,
        kernel: String,
        reason: Unreadable,
        span: Span,
    },
    AccessPathInvalid {
        attribute: &'static str,
        kernel: String,
        /// What the attribute reads, or where its walk starts.
        reads: AccessStart,
        reason: Unreadable,
        span: Span,
    },
    PathWalkUnavailable {
        attribute: &'static str,
        kernel: String,
        /// The chain the walk starts from.
        start: String,
        reason: Unreadable,
        span: Span,
    },
    /// The rules of one event need more code than one program holds.
    EventTooLarge {
        event: &'static str,
        estimate: u32,
        limit: u32,
        span: Span,
    },
    /// The strings one event's rules read do not fit its program's scratch area.
    StringsTooMany {
        event: &'static str,
        bytes: u32,
        span: Span,
    },
    /// One event's rules read more values than its program has stack slots for.
    ValuesTooMany {
        event: &'static str,
        span: Span,
    },
    /// The globs one event tests on one string do not fit one automaton together.
    GlobsTooComplex {
        event: &'static str,
        attribute: &'static str,
        message: String,
        span: Span,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Definition {
    List,
    Macro,
}

/// Why a header item is out of place; the other span points at the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderConflict {
    AlreadyNamed,
    ModeBeforeName,
    ModeAlreadySet,
    BodyStarted,
}

/// What an attribute reads, for the label of E0302.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessStart {
    /// A member chain, e.g. `bprm->file->f_path`.
    Reads(String),
    /// The chain a path walk starts from.
    WalkFrom(String),
}

/// What stands where a value of some type was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Int,
    Str,
    Bool,
    List,
    Addr,
    Condition,
    Attribute(&'static str),
    /// A name of another enum: the name and that enum.
    EnumName(String, &'static EnumType),
}
