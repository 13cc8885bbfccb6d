//! The checker's messages: [`Finding::diagnostic`] renders each finding (`super::finding`) to
//! a [`Diagnostic`], and is the one place the checker's messages, labels and help lines are
//! written.

use super::finding::{AccessStart, Definition, Finding, HeaderConflict, ValueKind};
use crate::ast::CmpOp;
use crate::catalog::{EnumType, Event, ValueType};
use crate::diagnostic::{Code, Diagnostic};
use crate::eval::StringKind;

impl ValueKind {
    fn describe(&self) -> String {
        match self {
            ValueKind::Int => "an integer".into(),
            ValueKind::Str => "a string".into(),
            ValueKind::Bool => "a boolean".into(),
            ValueKind::List => "a list".into(),
            ValueKind::Addr => "an address".into(),
            ValueKind::Condition => "a condition".into(),
            ValueKind::Attribute(name) => format!("attribute `{name}`"),
            ValueKind::EnumName(name, kind) => {
                let ty = ValueType::Enum(kind);
                format!("`{name}`, {} {}", ty.article(), kind.name)
            }
        }
    }
}

/// "`exec` has: path, filename, uid, ...", for help lines.
fn attribute_list(event: &Event) -> String {
    let names: Vec<&str> = event.attributes().map(|a| a.name).collect();
    format!("`{}` has: {}", event.name, names.join(", "))
}

/// The first few names of an enum, for help lines: "`SIGHUP`, `SIGINT`, `SIGQUIT`, ...".
fn example_names(kind: &EnumType) -> String {
    let mut names: Vec<String> = kind
        .values
        .iter()
        .take(3)
        .map(|(n, _)| format!("`{n}`"))
        .collect();
    if kind.values.len() > 3 {
        names.push("...".into());
    }
    names.join(", ")
}

impl Finding {
    /// The finding as users read it.
    pub fn diagnostic(&self) -> Diagnostic {
        match self {
            Finding::DuplicateDefinition { name, span, first } => Diagnostic::new(
                Code::DuplicateDefinition,
                format!("`{name}` is defined twice"),
                *span,
            )
            .with_label("defined again here")
            .with_secondary(*first, "first defined here")
            .with_help("rename one of them"),
            Finding::Late(finding) => super::late::diagnostic(finding),
            Finding::TestValueTwice { name, span } => Diagnostic::new(
                Code::DuplicateDefinition,
                format!("`{name}` is given twice"),
                *span,
            )
            .with_help("give each attribute once"),
            Finding::ImpossibleTestEvent { impossible, span } => {
                Diagnostic::new(Code::ImpossibleTestEvent, impossible.message.clone(), *span)
                    .with_help(impossible.help.clone())
            }
            Finding::Lineage(finding) => super::lineage::diagnostic(finding),
            Finding::TestValueMismatch {
                attribute,
                span,
                name_span,
            } => Diagnostic::new(
                Code::TypeMismatch,
                format!(
                    "`{}` is {} {}; give a literal of that type",
                    attribute.name,
                    attribute.ty.article(),
                    attribute.ty.describe()
                ),
                *span,
            )
            .with_secondary(*name_span, attribute.ty.describe())
            .with_help_if(
                attribute.ty == ValueType::CapabilitySet,
                "give the set as a list of capabilities, e.g. `[CAP_SYS_ADMIN]` (`[]` for none)",
            ),
            Finding::Unused { kind, name, span } => {
                let (kind, how) = match kind {
                    Definition::List => ("list", " (a list is used with `in`, `~` or `!~`)"),
                    Definition::Macro => ("macro", ""),
                };
                Diagnostic::new(Code::Unused, format!("{kind} `{name}` is never used"), *span)
                    .with_label("defined here")
                    .with_help(format!("use it in a rule, or remove it{how}"))
            }
            Finding::MisplacedName {
                span,
                conflict,
                other,
            } => Diagnostic::new(
                Code::MisplacedHeader,
                "`policy NAME` must be the first item, once",
                *span,
            )
            .with_secondary(*other, conflict.describe())
            .with_help("start the file with `policy NAME`, then `mode ...`"),
            Finding::MisplacedMode {
                span,
                conflict,
                other,
            } => Diagnostic::new(
                Code::MisplacedHeader,
                "`mode` belongs in the header, once",
                *span,
            )
            .with_secondary(*other, conflict.describe())
            .with_help(
                "put `mode ...` right after `policy NAME`, before any list, macro, rule or test",
            ),
            Finding::UnknownMode {
                mode,
                span,
                suggestion,
            } => Diagnostic::new(Code::UnknownMode, format!("unknown mode `{mode}`"), *span)
                .with_label("not a mode")
                .with_suggestion_or(*suggestion, || {
                    "write `mode audit` or `mode enforce`".into()
                }),
            Finding::UnknownEvent {
                name,
                span,
                suggestion,
            } => Diagnostic::new(Code::UnknownEvent, format!("unknown event `{name}`"), *span)
                .with_label("not an event")
                .with_suggestion_or(*suggestion, || {
                    "`krsic events` lists every event".into()
                }),
            Finding::UnknownErrno {
                name,
                span,
                upper_case_known,
                suggestion,
            } => {
                let d =
                    Diagnostic::new(Code::UnknownErrno, format!("unknown errno `{name}`"), *span);
                if *upper_case_known {
                    d.with_help(format!(
                        "errno names are upper case: `{}`",
                        name.to_ascii_uppercase()
                    ))
                } else {
                    d.with_suggestion_or(*suggestion, || {
                        "use a name from errno(3), such as `EPERM` or `EACCES`".into()
                    })
                }
            }
            Finding::ErrnoOnNonDeny {
                action,
                span,
                action_span,
            } => Diagnostic::new(
                Code::ErrnoOnNonDeny,
                format!("an `{}` rule cannot return an errno", action.keyword()),
                *span,
            )
            .with_secondary(*action_span, "this rule never denies")
            .with_help("remove the `errno` clause, or make the rule `deny` or `kill`"),
            Finding::RecursiveMacro {
                name,
                span,
                definition,
                expanding,
            } => Diagnostic::new(
                Code::RecursiveMacro,
                format!("macro `{name}` uses itself"),
                *span,
            )
            .with_secondary(*definition, "defined here")
            .with_note(format!(
                "expansion: `{}` → `{name}`",
                expanding.join("` → `")
            )),
            Finding::AttributeNotOnEvent {
                name,
                span,
                event,
                hosts,
            } => {
                let hosts: Vec<String> = hosts.iter().map(|h| format!("`{h}`")).collect();
                Diagnostic::new(
                    Code::AttributeNotOnEvent,
                    format!("`{name}` is not an attribute of `{}`", event.name),
                    *span,
                )
                .with_label(format!("`{name}` exists on {}", hosts.join(", ")))
                .with_help(attribute_list(event))
            }
            Finding::UnknownName {
                name,
                span,
                event,
                suggestion,
            } => Diagnostic::new(Code::UnknownName, format!("unknown name `{name}`"), *span)
                .with_label(format!(
                    "not an attribute of `{}`, a list or a macro",
                    event.name
                ))
                .with_suggestion_or(suggestion.as_deref(), || attribute_list(event)),
            Finding::AttributeNotCondition { attribute, span } => Diagnostic::new(
                Code::NotBoolean,
                format!(
                    "`{}` is {} {}, not a condition",
                    attribute.name,
                    attribute.ty.article(),
                    attribute.ty.describe()
                ),
                *span,
            )
            .with_help(match attribute.ty {
                ValueType::Int => format!("compare it, e.g. `{} == 0`", attribute.name),
                _ => format!("compare it, e.g. `{} == \"...\"`", attribute.name),
            }),
            Finding::ListNotCondition { name, span } => Diagnostic::new(
                Code::NotBoolean,
                format!("list `{name}` is not a condition"),
                *span,
            )
            .with_help(format!(
                "test membership, e.g. `path ~ {name}` or `comm in {name}`"
            )),
            Finding::BitAndNotCondition { span } => Diagnostic::new(
                Code::NotBoolean,
                "a bitwise `&` is an integer, not a condition",
                *span,
            )
            .with_help("compare it, e.g. `mode & 0o4000 != 0`"),
            Finding::LiteralNotCondition { span } => {
                Diagnostic::new(Code::NotBoolean, "a literal is not a condition", *span)
                    .with_help("compare an attribute with it, e.g. `uid == 0`")
            }
            Finding::ConditionCompared { span } => {
                Diagnostic::new(Code::TypeMismatch, "a condition cannot be compared", *span)
                    .with_help("combine conditions with `and`, `or`, `not`")
            }
            Finding::MacroAsValue { name, span } => Diagnostic::new(
                Code::TypeMismatch,
                format!("macro `{name}` is a condition, not a value"),
                *span,
            )
            .with_help(format!("use it on its own: `{name}` or `not {name}`")),
            Finding::BadBitAnd { span } => Diagnostic::new(
                Code::BadOperator,
                "`&` takes an integer attribute and an integer literal",
                *span,
            )
            .with_help("test flags as `ATTRIBUTE & MASK != 0`, e.g. `mode & 0o6000 != 0`"),
            Finding::NoAttribute { span } => Diagnostic::new(
                Code::TypeMismatch,
                "a comparison needs an attribute on one side",
                *span,
            )
            .with_label("neither side is an attribute")
            .with_help("compare an attribute of the event with a literal, e.g. `uid == 0`"),
            Finding::TwoAttributes {
                span,
                enum_attribute,
                sides,
                masked,
            } => super::pair::two_attributes(*span, *enum_attribute, *sides, *masked),
            Finding::CannotCompare {
                attribute,
                span,
                attribute_span,
                with,
            } => Diagnostic::new(
                Code::TypeMismatch,
                format!(
                    "cannot compare {} `{}` with {}",
                    attribute.ty.describe(),
                    attribute.name,
                    with.describe()
                ),
                *span,
            )
            .with_secondary(
                *attribute_span,
                format!(
                    "this is {} {}",
                    attribute.ty.article(),
                    attribute.ty.describe()
                ),
            ),
            Finding::ListElementMismatch {
                attribute,
                span,
                attribute_span,
                element,
            } => {
                let ty = attribute.ty;
                let d = Diagnostic::new(
                    Code::TypeMismatch,
                    format!(
                        "`{}` is {} {}; this list element is {}",
                        attribute.name,
                        ty.article(),
                        ty.describe(),
                        element.describe()
                    ),
                    *span,
                )
                .with_secondary(*attribute_span, ty.describe());
                if ty == ValueType::Addr {
                    d.with_help("write addresses as `10.0.0.1`, `::1`, or ranges as `10.0.0.0/8`")
                } else {
                    d
                }
            }
            Finding::GlobNotString { span } => {
                Diagnostic::new(Code::TypeMismatch, "a glob must be a string", *span)
            }
            Finding::BadGlob {
                pattern,
                message,
                offset,
                span,
            } => Diagnostic::new(Code::BadGlob, format!("malformed glob: {message}"), *span)
                .with_note(format!("in `{pattern}` at byte {offset}"))
                .with_help(
                    "globs use `*`, `**`, `?`, `[a-z]`, `[!a-z]` and `{a,b}`; a backslash makes the next character literal",
                ),
            Finding::ShallowDenyGlob { pattern, span } => Diagnostic::new(
                Code::ShallowDenyGlob,
                format!("`{pattern}` matches only direct children"),
                *span,
            )
            .with_label("`*` does not cross `/`")
            .with_help(format!("to deny the whole tree, write `\"{pattern}*\"`")),
            Finding::RangeEquality {
                op,
                attribute,
                ip,
                prefix,
                span,
            } => Diagnostic::new(
                Code::BadOperator,
                format!(
                    "`{}` compares single addresses, and this is a range",
                    op.symbol()
                ),
                *span,
            )
            .with_help(format!(
                "test membership with `{} in {ip}/{prefix}`{}",
                attribute.name,
                if *op == CmpOp::Ne {
                    ", negated with `not`"
                } else {
                    ""
                }
            )),
            Finding::OrderNotInteger {
                op,
                attribute,
                span,
            } => Diagnostic::new(
                Code::BadOperator,
                format!(
                    "`{}` applies to integers, and `{}` is {} {}",
                    op.symbol(),
                    attribute.name,
                    attribute.ty.article(),
                    attribute.ty.describe()
                ),
                *span,
            )
            .with_help(if attribute.ty.is_string() {
                "compare strings with `==`, `!=`, `in`, `~` or `!~`"
            } else if attribute.ty == ValueType::Addr {
                ADDRESS_OPERATORS
            } else {
                "use `==` or `!=`"
            }),
            Finding::MatchNotString {
                op,
                attribute,
                span,
            } => Diagnostic::new(
                Code::BadOperator,
                format!(
                    "`{}` matches strings and paths, and `{}` is {} {}",
                    op.symbol(),
                    attribute.name,
                    attribute.ty.article(),
                    attribute.ty.describe()
                ),
                *span,
            )
            .with_help(if attribute.ty == ValueType::Addr {
                ADDRESS_OPERATORS
            } else {
                "compare integers with `==`, `!=`, `<`, `<=`, `>`, `>=` or `in`"
            }),
            Finding::InNeedsList {
                attribute,
                found,
                span,
            } => Diagnostic::new(
                Code::ListMisuse,
                match found {
                    Some(found) => {
                        format!("`in` needs a list on the right, found {}", found.describe())
                    }
                    None => "`in` needs a list on the right".into(),
                },
                *span,
            )
            .with_help(format!(
                "write `{} in [...]`, or compare with `==`",
                attribute.name
            )),
            Finding::ListForSingleValue { op, ty, span } => Diagnostic::new(
                Code::ListMisuse,
                format!(
                    "`{}` compares single values, and the right side is a list",
                    op.symbol()
                ),
                *span,
            )
            .with_help(if ty.is_string() {
                "use `in` for membership or `~` to match any glob of the list"
            } else {
                "use `in` for membership"
            }),
            Finding::BadListElement { span } => Diagnostic::new(
                Code::BadListElement,
                "list elements must be string or integer literals",
                *span,
            )
            .with_help("lists cannot hold names, conditions or other lists"),
            Finding::MixedList {
                kind,
                first_kind,
                span,
                first,
            } => Diagnostic::new(
                Code::BadListElement,
                format!("this list mixes types: {kind} after {first_kind}"),
                *span,
            )
            .with_secondary(
                *first,
                format!(
                    "the first element is {} {first_kind}",
                    if matches!(*first_kind, "integer" | "address") {
                        "an"
                    } else {
                        "a"
                    }
                ),
            ),
            Finding::StringNeverFits {
                attribute,
                capacity,
                text,
                kept,
                span,
            } => Diagnostic::new(
                Code::StringNeverFits,
                format!(
                    "`{}` holds at most {capacity} bytes; `{text}` has {}",
                    attribute.name,
                    text.len()
                ),
                *span,
            )
            .with_label("this can never be equal")
            .with_help(format!(
                "the kernel keeps the first {capacity} bytes: `{kept}`"
            )),
            Finding::GlobNeverFits {
                attribute,
                capacity,
                pattern,
                shortest,
                span,
            } => Diagnostic::new(
                Code::StringNeverFits,
                format!(
                    "`{}` holds at most {capacity} bytes; `{pattern}` matches only strings of {shortest} bytes or more",
                    attribute.name
                ),
                *span,
            )
            .with_label("this can never match")
            .with_help(format!(
                "match what the kernel keeps: the first {capacity} bytes, then `*` if the name may be cut"
            )),
            Finding::NeverRead {
                attribute,
                longest,
                len,
                glob,
                span,
            } => {
                let name = attribute.name;
                let (what, label) = if *glob {
                    (
                        format!("this pattern matches only strings of {len} bytes or more"),
                        "this can never match a string the program reads",
                    )
                } else {
                    (
                        format!("this string has {len}"),
                        "this can never be equal",
                    )
                };
                // A resolved path too long for its buffer equals no literal (the program
                // skips resolving it: `eval::StringKind::decides_equality`); any other
                // string too long to read is unknown, and the rule fails closed on it.
                let help = if !*glob && StringKind::of(&attribute.source).decides_equality() {
                    format!("no `{name}` longer than {longest} bytes is read, so this comparison is false for every event")
                } else {
                    format!("a longer `{name}` cannot be read: the rule then acts as on any value it cannot read (a deny rule refuses, an allow rule does not match), whatever this compares")
                };
                Diagnostic::new(
                    Code::StringNeverFits,
                    format!("the program reads `{name}` up to {longest} bytes; {what}"),
                    *span,
                )
                .with_label(label)
                .with_help(help)
            }
            Finding::EnumOperator {
                attribute,
                kind,
                span,
            } => Diagnostic::new(
                Code::BadOperator,
                format!(
                    "`{}` is {} {}, compared only with `==`, `!=` and `in`",
                    attribute.name,
                    attribute.ty.article(),
                    kind.name
                ),
                *span,
            )
            .with_help(format!(
                "name the values, e.g. `{} in [{}]`",
                attribute.name,
                example_names(kind).replace('`', "")
            )),
            Finding::UnknownEnumValue {
                attribute,
                kind,
                name,
                span,
                suggestion,
            } => Diagnostic::new(
                Code::UnknownEnumValue,
                format!("unknown {} `{name}`", kind.name),
                *span,
            )
            .with_label(format!(
                "`{}` is {} {}",
                attribute.name,
                attribute.ty.article(),
                kind.name
            ))
            .with_suggestion_or(suggestion.as_deref(), || {
                format!(
                    "`{}` takes the kernel's names, e.g. {}",
                    attribute.name,
                    example_names(kind)
                )
            }),
            Finding::EnumMismatch {
                attribute,
                kind,
                found,
                span,
            } => Diagnostic::new(
                Code::EnumMismatch,
                format!(
                    "`{}` is {} {}; it cannot be compared with {}",
                    attribute.name,
                    attribute.ty.article(),
                    kind.name,
                    found.describe()
                ),
                *span,
            )
            .with_help(format!(
                "write {} {} name, e.g. {}",
                attribute.ty.article(),
                kind.name,
                example_names(kind)
            )),
            Finding::HookMissing {
                kernel,
                hook,
                event,
                span,
            } => Diagnostic::new(
                Code::HookMissing,
                format!("{kernel} has no LSM hook `{hook}`"),
                *span,
            )
            .with_label(format!("`{event}` needs `bpf_lsm_{hook}`"))
            .with_help("check against a kernel that has this hook with `--btf FILE`, or drop the rule"),
            Finding::GuardUnreadable {
                event,
                hook,
                kernel,
                reason,
                span,
            } => Diagnostic::new(
                Code::AccessPathInvalid,
                format!("`{event}` cannot tell its calls of `{hook}` apart on {kernel}"),
                *span,
            )
            .with_note(reason.to_string()),
            Finding::AccessPathInvalid {
                attribute,
                kernel,
                reads,
                reason,
                span,
            } => Diagnostic::new(
                Code::AccessPathInvalid,
                format!("`{attribute}` cannot be read on {kernel}"),
                *span,
            )
            .with_label(match reads {
                AccessStart::Reads(chain) => format!("`{attribute}` reads `{chain}`"),
                AccessStart::WalkFrom(chain) => format!("`{attribute}` starts from `{chain}`"),
            })
            .with_note(reason.to_string()),
            Finding::PathWalkUnavailable {
                attribute,
                kernel,
                start,
                reason,
                span,
            } => Diagnostic::new(
                Code::PathWalkUnavailable,
                format!("`{attribute}` cannot be computed on {kernel}"),
                *span,
            )
            .with_label(format!(
                "`{attribute}` is a path krsi walks from `{start}`"
            ))
            .with_note(reason.to_string())
            .with_help(format!(
                "check against a kernel whose BTF has `struct mount` (`--btf FILE`), or test another attribute than `{attribute}`"
            )),
            Finding::EventTooLarge {
                event,
                estimate,
                limit,
                span,
            } => Diagnostic::new(
                Code::EventTooLarge,
                format!("the rules of `{event}` are too large for one BPF program"),
                *span,
            )
            .with_label(format!(
                "with this rule they need about {estimate} instructions, more than {limit}"
            ))
            .with_help("merge rules with lists, or split the policy"),
            Finding::StringsTooMany { event, bytes, span } => Diagnostic::new(
                Code::EventTooLarge,
                format!("the strings the rules of `{event}` read do not fit one BPF program"),
                *span,
            )
            .with_label(format!(
                "with this rule's, they need {bytes} bytes of scratch memory, more than {}",
                super::scratch::SCRATCH_REACH
            ))
            .with_help("each path, file name, command line or workload id an event's rules read takes 4 KiB of a program's 32 KiB: move the rules that read the rarer ones into a policy of their own"),
            Finding::ValuesTooMany { event, span } => Diagnostic::new(
                Code::EventTooLarge,
                format!("the rules of `{event}` read more values than one BPF program keeps"),
                *span,
            )
            .with_label(format!(
                "with this rule's, they need more than the {} stack slots a program has",
                super::scratch::VALUE_SLOTS
            ))
            .with_help("move the rules that read the rarer attributes into a policy of their own"),
            Finding::GlobsTooComplex {
                event,
                attribute,
                message,
                span,
            } => Diagnostic::new(
                Code::EventTooLarge,
                format!("the globs `{event}` tests on `{attribute}` are too complex for one program"),
                *span,
            )
            .with_label(format!("with this rule's globs, {message}"))
            .with_help("begin each glob with a literal of its own (`/srv/app1/*`, `/srv/app2/*`: such globs are found by that prefix and only their rest is scanned), write directory rules (`/dir/**`) or exact paths where a glob is not needed, or split the policy"),
        }
    }
}

const ADDRESS_OPERATORS: &str =
    "compare addresses with `==`, `!=` or `in`, e.g. `addr in 10.0.0.0/8`";

impl HeaderConflict {
    fn describe(self) -> &'static str {
        match self {
            HeaderConflict::AlreadyNamed => "the policy is already named here",
            HeaderConflict::ModeBeforeName => "`mode` comes after `policy`",
            HeaderConflict::ModeAlreadySet => "the mode is already set here",
            HeaderConflict::BodyStarted => "the header must come before this",
        }
    }
}
