//! The checker: resolves names, types every condition, resolves every attribute's access path
//! against the target kernel, and produces the checked policy the compiler lowers.
//!
//! It keeps going after an error so that one run reports every error of a file (Cedar's
//! validator does the same). Macros and lists are resolved where they are used, in the
//! context of the rule's event, so one macro can serve rules on different events.

use crate::ast::{self, Action, CmpOp, ExprKind};
use crate::catalog::{self, Attribute, Event, Source, ValueType};
use crate::diagnostic::{suggest, Code, Diagnostic, Severity};
use crate::eval::AttrValue;
use crate::glob::Glob;
use crate::kernel::{KernelTypes, Param, TypeShape};
use crate::span::Span;
use std::collections::{HashMap, HashSet};

/// The result of checking: rules in source order, with every name resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedPolicy {
    pub rules: Vec<CheckedRule>,
    /// Every attribute some rule reads, resolved against the target kernel.
    pub attributes: Vec<ResolvedAttribute>,
    /// The policy's `test` items, in source order.
    pub tests: Vec<CheckedTest>,
    /// Where the parent process's id and name live, for reports; `None` when the target
    /// kernel's types do not say.
    pub parent: Option<ParentAccess>,
    /// `policy NAME` from the header.
    pub name: Option<String>,
    /// `mode ...` from the header.
    pub mode: Option<PolicyMode>,
    /// For each extra hook of an event some rule uses ([`catalog::HookVariant`]): the
    /// hook argument that says whether a call is the event, and the value that means it is.
    pub guards: Vec<HookGuard>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HookGuard {
    pub event: &'static str,
    pub hook: &'static str,
    /// The argument, passed by value ([`AccessBase::Context`]).
    pub access: Access,
    pub value: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyMode {
    Enforce,
    Audit,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParentAccess {
    /// `current->real_parent->tgid`
    pub tgid: Access,
    /// `current->real_parent->comm`
    pub comm: Access,
}

/// A `test` item: an event described by its attributes and the decision it must get.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedTest {
    pub event: &'static Event,
    /// The attributes the test gives; the others take their defaults (0, "", false).
    pub values: Vec<(&'static Attribute, AttrValue)>,
    pub expect: ExpectedDecision,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedDecision {
    Allow,
    /// Denied; with the errno when the test names one.
    Deny(Option<i32>),
    /// Allowed, and reported by an audit rule.
    Audit,
}

/// An index into [`CheckedPolicy::attributes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrId(pub u32);

#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedAttribute {
    pub event: &'static Event,
    pub attribute: &'static Attribute,
    /// Where the value lives, for attributes read through struct members.
    pub access: Option<Access>,
    /// For a walked path: where the walk starts and the layouts it follows.
    pub walk: Option<PathWalk>,
    /// Where the endpoint lives, for a port or an address ([`Source::Endpoint`]).
    pub endpoint: Option<Endpoint>,
}

/// A path the program computes by walking dentries ([`Source::WalkedPath`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PathWalk {
    /// The `struct dentry *` to start from (`size` 8).
    pub dentry: Access,
    /// The `struct vfsmount *` it is seen through (`size` 8).
    pub mnt: Access,
    pub layout: WalkLayout,
}

/// Byte offsets and sizes the dentry walk reads, from the target kernel's BTF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WalkLayout {
    /// `dentry.d_parent` (`struct dentry *`).
    pub d_parent: u32,
    /// `dentry.d_name.len` (a `u32`).
    pub d_name_len: u32,
    /// `dentry.d_name.name` (`const unsigned char *`).
    pub d_name_name: u32,
    /// `mount.mnt`: the `struct vfsmount` embedded in `struct mount` (container_of).
    pub mount_mnt: u32,
    /// `mount.mnt_parent` (`struct mount *`).
    pub mnt_parent: u32,
    /// `mount.mnt_mountpoint` (`struct dentry *`).
    pub mnt_mountpoint: u32,
    /// `vfsmount.mnt_root` (`struct dentry *`).
    pub mnt_root: u32,
}

impl WalkLayout {
    /// Resolves the walk's members against `kernel`; the error names what is missing.
    pub fn resolve(kernel: &dyn KernelTypes) -> Result<WalkLayout, String> {
        let find = |name: &str| {
            kernel
                .named_struct(name)
                .filter(|&id| matches!(kernel.shape(id), TypeShape::Struct { .. }))
                .ok_or_else(|| format!("the kernel's BTF has no `struct {name}`"))
        };
        let member = |ty, outer: &str, name: &str| {
            kernel
                .member(ty, name)
                .filter(|m| m.bitfield_bits == 0 && m.offset_bits % 8 == 0)
                .ok_or_else(|| format!("`struct {outer}` has no member `{name}`"))
        };
        let pointer = |m: crate::kernel::Member, what: &str| match kernel.shape(m.ty) {
            TypeShape::Pointer { .. } => Ok(m.offset_bits / 8),
            other => Err(format!(
                "`{what}` is {}, not a pointer",
                describe_shape(&other)
            )),
        };
        let dentry = find("dentry")?;
        let mount = find("mount")?;
        let vfsmount = find("vfsmount")?;
        let d_name = member(dentry, "dentry", "d_name")?;
        let len = member(d_name.ty, "qstr", "len")?;
        if !matches!(kernel.shape(len.ty), TypeShape::Int { bytes: 4, .. }) {
            return Err("`dentry.d_name.len` is not a 32-bit integer".into());
        }
        let name = member(d_name.ty, "qstr", "name")?;
        let mnt = member(mount, "mount", "mnt")?;
        if kernel.shape(mnt.ty) != kernel.shape(vfsmount) {
            return Err("`mount.mnt` is not a `struct vfsmount`".into());
        }
        Ok(WalkLayout {
            d_parent: pointer(member(dentry, "dentry", "d_parent")?, "dentry.d_parent")?,
            d_name_len: d_name.offset_bits / 8 + len.offset_bits / 8,
            d_name_name: d_name.offset_bits / 8 + pointer(name, "dentry.d_name.name")?,
            mount_mnt: mnt.offset_bits / 8,
            mnt_parent: pointer(member(mount, "mount", "mnt_parent")?, "mount.mnt_parent")?,
            mnt_mountpoint: pointer(
                member(mount, "mount", "mnt_mountpoint")?,
                "mount.mnt_mountpoint",
            )?,
            mnt_root: pointer(
                member(vfsmount, "vfsmount", "mnt_root")?,
                "vfsmount.mnt_root",
            )?,
        })
    }
}

/// Where an IPv4/IPv6 endpoint's parts live in the object that holds it (a `struct
/// sockaddr` or a `struct sock_common`), as byte offsets from the object's start.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The holding object: it starts at this access's final offset (`size` is 0).
    pub object: Access,
    /// A 2-byte address family.
    pub family: u32,
    /// 2-byte ports for an IPv4 and an IPv6 endpoint.
    pub v4_port: u32,
    pub v6_port: u32,
    /// The 4-byte IPv4 and 16-byte IPv6 address, network byte order.
    pub v4_addr: u32,
    pub v6_addr: u32,
    /// Ports in network byte order (`sin_port`) rather than host order (`skc_num`).
    pub port_network_order: bool,
}

/// A resolved member chain: start at `base`, load a pointer at each offset of `derefs` in
/// turn, then the value is `size` bytes at `offset` from the last pointer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Access {
    pub base: AccessBase,
    pub derefs: Vec<u32>,
    pub offset: u32,
    pub size: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessBase {
    /// Hook argument `n`: `ctx[n]` in an LSM program.
    Param(u32),
    /// `bpf_get_current_task_btf()`.
    CurrentTask,
    /// The context itself: the offset is `8 * n` (plus a member offset) for an argument passed
    /// by value. The kernel saves each argument in a full 64-bit slot whose bytes above the
    /// argument's size are not defined, so a reader masks them off.
    Context,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CheckedRule {
    /// Position among the policy's rules, from 0.
    pub index: u32,
    pub action: Action,
    pub event: &'static Event,
    pub condition: Cond,
    /// Positive errno a deny rule returns (negated by the program).
    pub errno: i32,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Const(bool),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Test(Test),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Test {
    pub attr: AttrId,
    pub predicate: Predicate,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl IntOp {
    /// Whether `value OP literal` holds, unsigned.
    pub fn holds(self, value: u64, literal: u64) -> bool {
        match self {
            IntOp::Eq => value == literal,
            IntOp::Ne => value != literal,
            IntOp::Lt => value < literal,
            IntOp::Le => value <= literal,
            IntOp::Gt => value > literal,
            IntOp::Ge => value >= literal,
        }
    }

    /// The operator that holds exactly when this one does not.
    pub fn negated(self) -> IntOp {
        match self {
            IntOp::Eq => IntOp::Ne,
            IntOp::Ne => IntOp::Eq,
            IntOp::Lt => IntOp::Ge,
            IntOp::Ge => IntOp::Lt,
            IntOp::Le => IntOp::Gt,
            IntOp::Gt => IntOp::Le,
        }
    }

    /// How a policy writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            IntOp::Eq => "==",
            IntOp::Ne => "!=",
            IntOp::Lt => "<",
            IntOp::Le => "<=",
            IntOp::Gt => ">",
            IntOp::Ge => ">=",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Predicate {
    /// Unsigned comparison `attr OP value`.
    Int { op: IntOp, value: u64 },
    /// Unsigned comparison `(attr & mask) OP value`.
    Masked { mask: u64, op: IntOp, value: u64 },
    /// The string equals these bytes exactly.
    StrEq(Vec<u8>),
    /// The glob matches the whole string.
    Glob(Glob),
    /// The address is in the range: same family, equal in the first `prefix` bits. An
    /// IPv4-mapped IPv6 value (`::ffff:a.b.c.d`) is its IPv4 address.
    Cidr { addr: std::net::IpAddr, prefix: u8 },
    /// A boolean attribute is true.
    IsTrue,
}

/// Checks a parsed policy against the target kernel. Returns the checked policy when there
/// are no errors; the diagnostics (warnings, and errors if any) either way.
pub fn check(
    policy: &ast::Policy,
    kernel: &dyn KernelTypes,
) -> (Option<CheckedPolicy>, Vec<Diagnostic>) {
    check_with_lints(policy, kernel, true)
}

/// [`check`], with the lints of [`crate::lint`] or without them. A policy the parser had to
/// patch up (a placeholder where an expression failed to parse) gets none: its rules are not
/// what the author wrote.
pub fn check_with_lints(
    policy: &ast::Policy,
    kernel: &dyn KernelTypes,
    lints: bool,
) -> (Option<CheckedPolicy>, Vec<Diagnostic>) {
    let mut checker = Checker {
        kernel,
        diagnostics: Vec::new(),
        lists: HashMap::new(),
        macros: HashMap::new(),
        used: HashSet::new(),
        hooks: HashMap::new(),
        attributes: Vec::new(),
        attribute_ids: HashMap::new(),
        macro_stack: Vec::new(),
        guards: Vec::new(),
    };
    checker.collect_definitions(policy);
    let (name, mode) = checker.header(policy);
    let mut rules = Vec::new();
    let mut conditions = Vec::new();
    let mut incomplete_events = HashSet::new();
    for rule in policy.items.iter().filter_map(|item| match item {
        ast::Item::Rule(rule) => Some(rule),
        _ => None,
    }) {
        let index = rules.len() as u32;
        match checker.rule(index, rule) {
            Some(checked) => {
                rules.push(checked);
                conditions.push(rule.condition.as_ref().map(|c| c.span));
            }
            None => {
                incomplete_events.extend(catalog::event(&rule.event.text).map(|e| e.name));
            }
        }
    }
    checker.check_sizes(&rules);
    if lints {
        checker
            .diagnostics
            .extend(crate::lint::lint(&crate::lint::LintInput {
                rules: &rules,
                conditions: &conditions,
                attributes: &checker.attributes,
                incomplete_events: &incomplete_events,
                mode,
            }));
    }
    let tests = policy
        .items
        .iter()
        .filter_map(|item| match item {
            ast::Item::Test(test) => checker.test(test),
            _ => None,
        })
        .collect();
    checker.report_unused(policy);
    let mut diagnostics = dedup(checker.diagnostics);
    diagnostics.sort_by_key(|d| (d.primary.span.start, d.code));
    let has_errors = diagnostics.iter().any(|d| d.severity() == Severity::Error);
    let parent = parent_access(kernel);
    let guards = checker.guards;
    let checked = (!has_errors).then_some(CheckedPolicy {
        guards,
        rules,
        attributes: checker.attributes,
        tests,
        parent,
        name,
        mode,
    });
    (checked, diagnostics)
}

/// Code estimates, in about-one-instruction units; see [`Code::EventTooLarge`]. The limit
/// leaves room under the 32,767 a branch reaches for what the estimate does not count.
const MAX_EVENT_COST: u32 = 24_000;
const PROGRAM_BASE_COST: u32 = 400;
/// A deny or audit rule's report (ring buffer, rate limit, process, values).
const REPORT_COST: u32 = 120;

fn estimated_cost(cond: &Cond) -> u32 {
    match cond {
        Cond::Const(_) => 1,
        Cond::And(a, b) | Cond::Or(a, b) => estimated_cost(a) + estimated_cost(b) + 1,
        Cond::Not(c) => estimated_cost(c),
        Cond::Test(test) => match &test.predicate {
            Predicate::Int { .. } | Predicate::IsTrue => 4,
            Predicate::Cidr { .. } => 12,
            Predicate::Masked { .. } => 7,
            Predicate::StrEq(bytes) => 6 + 5 * (bytes.len() as u32).div_ceil(8),
            Predicate::Glob(glob) => glob.cost(),
        },
    }
}

fn parent_access(kernel: &dyn KernelTypes) -> Option<ParentAccess> {
    let tgid = catalog::PROCESS_ATTRIBUTES
        .iter()
        .find(|a| a.name == "parent.pid")?;
    let comm = catalog::PROCESS_ATTRIBUTES
        .iter()
        .find(|a| a.name == "parent.comm")?;
    let resolve = |attribute: &Attribute| {
        let (_, members) = attribute.source.chain()?;
        resolve_access(kernel, &[], None, members, &attribute.source).ok()
    };
    Some(ParentAccess {
        tgid: resolve(tgid)?,
        comm: resolve(comm)?,
    })
}

/// A macro used by several rules reports an error in its body once.
fn dedup(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = HashSet::new();
    diagnostics
        .into_iter()
        .filter(|d| seen.insert((d.code, d.primary.span, d.message.clone())))
        .collect()
}

struct Checker<'a> {
    kernel: &'a dyn KernelTypes,
    diagnostics: Vec<Diagnostic>,
    lists: HashMap<&'a str, &'a ast::ListDef>,
    macros: HashMap<&'a str, &'a ast::MacroDef>,
    used: HashSet<String>,
    /// Hook parameters per hook, `None` when the kernel lacks the hook.
    hooks: HashMap<&'static str, Option<Vec<Param>>>,
    attributes: Vec<ResolvedAttribute>,
    /// Resolution results, so a failing access path is reported once.
    attribute_ids: HashMap<(&'static str, &'static str), Option<AttrId>>,
    macro_stack: Vec<&'a str>,
    guards: Vec<HookGuard>,
}

/// One side of a comparison, before the comparison is typed.
enum Operand {
    /// An attribute, with the mask of `attr & MASK` when there is one.
    Attr(AttrId, &'static Attribute, Option<u64>),
    Int(u64),
    Str(String),
    Bool(bool),
    List(Vec<(Literal, Span)>),
    Addr(std::net::IpAddr, u8),
}

#[derive(Clone)]
enum Literal {
    Int(u64),
    Str(String),
    Addr(std::net::IpAddr, u8),
}

impl<'a> Checker<'a> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn collect_definitions(&mut self, policy: &'a ast::Policy) {
        let mut first: HashMap<&str, Span> = HashMap::new();
        for item in &policy.items {
            let name = match item {
                ast::Item::List(list) => &list.name,
                ast::Item::Macro(m) => &m.name,
                _ => continue,
            };
            if let Some(previous) = first.get(name.text.as_str()) {
                self.error(
                    Diagnostic::new(
                        Code::DuplicateDefinition,
                        format!("`{}` is defined twice", name.text),
                        name.span,
                    )
                    .with_label("defined again here")
                    .with_secondary(*previous, "first defined here")
                    .with_help("rename one of them"),
                );
                continue;
            }
            first.insert(&name.text, name.span);
            match item {
                ast::Item::List(list) => {
                    self.lists.insert(&list.name.text, list);
                }
                ast::Item::Macro(m) => {
                    self.macros.insert(&m.name.text, m);
                }
                _ => {}
            }
        }
    }

    fn report_unused(&mut self, policy: &ast::Policy) {
        for item in &policy.items {
            let (kind, name) = match item {
                ast::Item::List(list) => ("list", &list.name),
                ast::Item::Macro(m) => ("macro", &m.name),
                _ => continue,
            };
            if !self.used.contains(&name.text) {
                self.error(
                    Diagnostic::new(
                        Code::Unused,
                        format!("{kind} `{}` is never used", name.text),
                        name.span,
                    )
                    .with_label("defined here")
                    .with_help(format!(
                        "use it in a rule, or remove it{}",
                        if kind == "macro" {
                            ""
                        } else {
                            " (a list is used with `in`, `~` or `!~`)"
                        }
                    )),
                );
            }
        }
    }

    fn rule(&mut self, index: u32, rule: &'a ast::Rule) -> Option<CheckedRule> {
        let Some(event) = catalog::event(&rule.event.text) else {
            // Without an event no attribute can resolve, so the condition is not checked; the
            // lists and macros it names still count as used.
            self.unknown_event(&rule.event);
            if let Some(condition) = &rule.condition {
                self.mark_used(condition);
            }
            return None;
        };
        let errno = self.errno(rule);
        let hook_ok = self.hook(event, rule.event.span);
        let condition = match &rule.condition {
            Some(expr) => self.condition(expr, event, rule.action),
            None => Some(Cond::Const(true)),
        };
        let (condition, errno) = (condition?, errno?);
        hook_ok.then_some(CheckedRule {
            index,
            action: rule.action,
            event,
            condition,
            errno,
            span: rule.span,
        })
    }

    /// Marks every list and macro `expr` names (and those their macros name) as used.
    fn mark_used(&mut self, expr: &'a ast::Expr) {
        let mut stack = vec![expr];
        while let Some(e) = stack.pop() {
            match &e.kind {
                ExprKind::And(a, b) | ExprKind::Or(a, b) | ExprKind::BitAnd(a, b) => {
                    stack.extend([a.as_ref(), b.as_ref()])
                }
                ExprKind::Compare { lhs, rhs, .. } => stack.extend([lhs.as_ref(), rhs.as_ref()]),
                ExprKind::Not(inner) => stack.push(inner),
                ExprKind::List(elements) => stack.extend(elements),
                ExprKind::Name(name) => {
                    if self.lists.contains_key(name.text.as_str()) {
                        self.used.insert(name.text.clone());
                    }
                    if let Some(m) = self.macros.get(name.text.as_str()).copied() {
                        // A name seen before is not walked again, so cycles end.
                        if self.used.insert(name.text.clone()) {
                            stack.push(&m.body);
                        }
                    }
                }
                ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Bool(_) | ExprKind::Addr(..) => {}
            }
        }
    }

    /// Refuses an event whose rules would compile past what BPF branches can reach.
    fn check_sizes(&mut self, rules: &[CheckedRule]) {
        let mut totals: HashMap<&'static str, u32> = HashMap::new();
        for rule in rules {
            let total = totals.entry(rule.event.name).or_insert(PROGRAM_BASE_COST);
            let before = *total;
            *total += estimated_cost(&rule.condition)
                + if rule.action == Action::Allow {
                    2
                } else {
                    REPORT_COST
                };
            if before <= MAX_EVENT_COST && *total > MAX_EVENT_COST {
                self.error(
                    Diagnostic::new(
                        Code::EventTooLarge,
                        format!("the rules of `{}` are too large for one BPF program", rule.event.name),
                        rule.span,
                    )
                    .with_label(format!("with this rule they need about {} instructions, more than {MAX_EVENT_COST}", *total))
                    .with_help("merge rules with lists, or split the policy"),
                );
            }
        }
    }

    /// `policy NAME` and `mode ...`: first, in that order, once each.
    fn header(&mut self, policy: &ast::Policy) -> (Option<String>, Option<PolicyMode>) {
        let mut name: Option<(String, Span)> = None;
        let mut mode: Option<(PolicyMode, Span)> = None;
        let mut body_started: Option<Span> = None;
        for item in &policy.items {
            match item {
                ast::Item::PolicyName { name: n, span } => {
                    let misplaced = match (&name, &mode, body_started) {
                        (Some((_, first)), _, _) => {
                            Some((*first, "the policy is already named here"))
                        }
                        (_, Some((_, at)), _) => Some((*at, "`mode` comes after `policy`")),
                        (_, _, Some(at)) => Some((at, "the header must come before this")),
                        _ => None,
                    };
                    match misplaced {
                        Some((other, why)) => self.error(
                            Diagnostic::new(
                                Code::MisplacedHeader,
                                "`policy NAME` must be the first item, once",
                                *span,
                            )
                            .with_secondary(other, why)
                            .with_help("start the file with `policy NAME`, then `mode ...`"),
                        ),
                        None => name = Some((n.text.clone(), *span)),
                    }
                }
                ast::Item::Mode { mode: m, span } => {
                    let value = match m.text.as_str() {
                        "audit" => PolicyMode::Audit,
                        "enforce" => PolicyMode::Enforce,
                        other => {
                            let mut d = Diagnostic::new(
                                Code::UnknownMode,
                                format!("unknown mode `{other}`"),
                                m.span,
                            )
                            .with_label("not a mode");
                            d = match suggest(other, ["audit", "enforce"]) {
                                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                                None => d.with_help("write `mode audit` or `mode enforce`"),
                            };
                            self.error(d);
                            continue;
                        }
                    };
                    let misplaced = match (&mode, body_started) {
                        (Some((_, first)), _) => Some((*first, "the mode is already set here")),
                        (_, Some(at)) => Some((at, "the header must come before this")),
                        _ => None,
                    };
                    match misplaced {
                        Some((other, why)) => self.error(
                            Diagnostic::new(Code::MisplacedHeader, "`mode` belongs in the header, once", *span)
                                .with_secondary(other, why)
                                .with_help("put `mode ...` right after `policy NAME`, before any list, macro, rule or test"),
                        ),
                        None => mode = Some((value, *span)),
                    }
                }
                ast::Item::List(l) => {
                    body_started.get_or_insert(l.span);
                }
                ast::Item::Macro(m) => {
                    body_started.get_or_insert(m.span);
                }
                ast::Item::Rule(r) => {
                    body_started.get_or_insert(r.span);
                }
                ast::Item::Test(t) => {
                    body_started.get_or_insert(t.span);
                }
            }
        }
        (name.map(|(n, _)| n), mode.map(|(m, _)| m))
    }

    fn test(&mut self, test: &ast::TestCase) -> Option<CheckedTest> {
        let Some(event) = catalog::event(&test.event.text) else {
            self.unknown_event(&test.event);
            return None;
        };
        let mut values: Vec<(&'static Attribute, AttrValue)> = Vec::new();
        let mut value_spans = Vec::new();
        let mut ok = true;
        for (name, value) in &test.fields {
            let value_span = value.span;
            let Some(attribute) = event.attribute(&name.text) else {
                self.unknown_name(name, event);
                ok = false;
                continue;
            };
            if values.iter().any(|(a, _)| a.name == attribute.name) {
                self.error(
                    Diagnostic::new(
                        Code::DuplicateDefinition,
                        format!("`{}` is given twice", name.text),
                        name.span,
                    )
                    .with_help("give each attribute once"),
                );
                ok = false;
                continue;
            }
            let value = match (&value.kind, attribute.ty) {
                (ExprKind::Int(v), ValueType::Int) => AttrValue::Int(*v),
                (ExprKind::Str(s), ty) if ty.is_string() => AttrValue::Str(s.clone().into_bytes()),
                (ExprKind::Bool(b), ValueType::Bool) => AttrValue::Bool(*b),
                (ExprKind::Addr(ip, prefix), ValueType::Addr) if *prefix == full_prefix(*ip) => {
                    AttrValue::Addr(ip.to_canonical())
                }
                (_, ValueType::Enum(kind)) => {
                    match self.enum_value(value, attribute, kind, event) {
                        Some(v) => AttrValue::Int(v),
                        None => {
                            ok = false;
                            continue;
                        }
                    }
                }
                _ => {
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            format!(
                                "`{}` is {} {}; give a literal of that type",
                                attribute.name,
                                article(attribute.ty),
                                attribute.ty.describe()
                            ),
                            value.span,
                        )
                        .with_secondary(name.span, attribute.ty.describe()),
                    );
                    ok = false;
                    continue;
                }
            };
            values.push((attribute, value));
            value_spans.push(value_span);
        }
        for impossible in crate::test_event::impossible_values(&values) {
            self.error(
                Diagnostic::new(
                    Code::ImpossibleTestEvent,
                    impossible.message,
                    value_spans[impossible.value],
                )
                .with_help(impossible.help),
            );
            ok = false;
        }
        let expect = match &test.expect {
            ast::Expectation::Allow => ExpectedDecision::Allow,
            ast::Expectation::Audit => ExpectedDecision::Audit,
            ast::Expectation::Deny(None) => ExpectedDecision::Deny(None),
            ast::Expectation::Deny(Some(name)) => match catalog::errno(&name.text) {
                Some(errno) => ExpectedDecision::Deny(Some(errno)),
                None => {
                    self.unknown_errno(name);
                    return None;
                }
            },
        };
        ok.then_some(CheckedTest {
            event,
            values,
            expect,
            span: test.span,
        })
    }

    fn unknown_event(&mut self, name: &ast::Name) {
        let mut d = Diagnostic::new(
            Code::UnknownEvent,
            format!("unknown event `{}`", name.text),
            name.span,
        )
        .with_label("not an event");
        d = match suggest(&name.text, catalog::all_events().map(|e| e.name)) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help("`krsic events` lists every event"),
        };
        self.error(d);
    }

    fn unknown_errno(&mut self, name: &ast::Name) {
        let upper = name.text.to_ascii_uppercase();
        let help = match catalog::errno(&upper) {
            Some(_) => format!("errno names are upper case: `{upper}`"),
            None => match suggest(&upper, catalog::ERRNOS.iter().map(|(n, _)| *n)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "use a name from errno(3), such as `EPERM` or `EACCES`".to_string(),
            },
        };
        self.error(
            Diagnostic::new(
                Code::UnknownErrno,
                format!("unknown errno `{}`", name.text),
                name.span,
            )
            .with_help(help),
        );
    }

    fn errno(&mut self, rule: &ast::Rule) -> Option<i32> {
        let Some(name) = &rule.errno else {
            return Some(1); // EPERM
        };
        if rule.action != Action::Deny {
            self.error(
                Diagnostic::new(
                    Code::ErrnoOnNonDeny,
                    format!("an `{}` rule cannot return an errno", rule.action.keyword()),
                    name.span,
                )
                .with_secondary(rule.action_span, "this rule never denies")
                .with_help("remove the `errno` clause, or make the rule `deny`"),
            );
            return None;
        }
        let errno = catalog::errno(&name.text);
        if errno.is_none() {
            self.unknown_errno(name);
        }
        errno
    }

    /// Whether the target kernel has the event's hook; reports it when not.
    fn hook(&mut self, event: &'static Event, span: Span) -> bool {
        let kernel = self.kernel;
        let hooks = std::iter::once(event.hook).chain(event.variants().map(|v| v.hook));
        for hook in hooks {
            let params = self
                .hooks
                .entry(hook)
                .or_insert_with(|| kernel.hook_params(hook));
            if params.is_some() {
                continue;
            }
            self.error(
                Diagnostic::new(
                    Code::HookMissing,
                    format!("{} has no LSM hook `{hook}`", kernel.describe()),
                    span,
                )
                .with_label(format!("`{}` needs `bpf_lsm_{hook}`", event.name))
                .with_help(
                    "check against a kernel that has this hook with `--btf FILE`, or drop the rule",
                ),
            );
            return false;
        }
        for variant in event.variants() {
            let Some((param, value)) = variant.only_when else {
                continue;
            };
            if self
                .guards
                .iter()
                .any(|g| g.event == event.name && g.hook == variant.hook)
            {
                continue;
            }
            let params = self
                .hooks
                .get(variant.hook)
                .cloned()
                .flatten()
                .unwrap_or_default();
            let source = Source::Int {
                param,
                members: &[],
            };
            match resolve_access(kernel, &params, Some(param), &[], &source) {
                Ok(access) => self.guards.push(HookGuard {
                    event: event.name,
                    hook: variant.hook,
                    access,
                    value,
                }),
                Err(reason) => {
                    self.error(
                        Diagnostic::new(
                            Code::AccessPathInvalid,
                            format!(
                                "`{}` cannot tell its calls of `{}` apart on {}",
                                event.name,
                                variant.hook,
                                kernel.describe()
                            ),
                            span,
                        )
                        .with_note(reason),
                    );
                    return false;
                }
            }
        }
        true
    }

    fn condition(
        &mut self,
        expr: &'a ast::Expr,
        event: &'static Event,
        action: Action,
    ) -> Option<Cond> {
        match &expr.kind {
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                let (a, b) = (
                    self.condition(a, event, action),
                    self.condition(b, event, action),
                );
                let (a, b) = (Box::new(a?), Box::new(b?));
                Some(if matches!(expr.kind, ExprKind::And(..)) {
                    Cond::And(a, b)
                } else {
                    Cond::Or(a, b)
                })
            }
            ExprKind::Not(inner) => {
                Some(Cond::Not(Box::new(self.condition(inner, event, action)?)))
            }
            ExprKind::Bool(value) => Some(Cond::Const(*value)),
            ExprKind::Compare {
                op,
                op_span,
                lhs,
                rhs,
            } => self.comparison(*op, *op_span, lhs, rhs, expr.span, event, action),
            ExprKind::Name(name) => {
                if let Some(m) = self.macros.get(name.text.as_str()).copied() {
                    return self.expand_macro(m, name.span, event, action);
                }
                match self.operand(expr, event)? {
                    Operand::Attr(attr, a, None) if a.ty == ValueType::Bool => {
                        Some(Cond::Test(Test {
                            attr,
                            predicate: Predicate::IsTrue,
                            span: expr.span,
                        }))
                    }
                    Operand::Attr(_, a, _) => {
                        self.error(
                            Diagnostic::new(
                                Code::NotBoolean,
                                format!(
                                    "`{}` is {} {}, not a condition",
                                    a.name,
                                    article(a.ty),
                                    a.ty.describe()
                                ),
                                expr.span,
                            )
                            .with_help(match a.ty {
                                ValueType::Int => format!("compare it, e.g. `{} == 0`", a.name),
                                _ => format!("compare it, e.g. `{} == \"...\"`", a.name),
                            }),
                        );
                        None
                    }
                    _ => {
                        self.error(
                            Diagnostic::new(
                                Code::NotBoolean,
                                format!("list `{}` is not a condition", name.text),
                                expr.span,
                            )
                            .with_help(format!(
                                "test membership, e.g. `path ~ {}` or `comm in {}`",
                                name.text, name.text
                            )),
                        );
                        None
                    }
                }
            }
            ExprKind::BitAnd(..) => {
                self.error(
                    Diagnostic::new(
                        Code::NotBoolean,
                        "a bitwise `&` is an integer, not a condition",
                        expr.span,
                    )
                    .with_help("compare it, e.g. `mode & 0o4000 != 0`"),
                );
                None
            }
            ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::List(_) | ExprKind::Addr(..) => {
                self.error(
                    Diagnostic::new(Code::NotBoolean, "a literal is not a condition", expr.span)
                        .with_help("compare an attribute with it, e.g. `uid == 0`"),
                );
                None
            }
        }
    }

    fn expand_macro(
        &mut self,
        m: &'a ast::MacroDef,
        use_span: Span,
        event: &'static Event,
        action: Action,
    ) -> Option<Cond> {
        self.used.insert(m.name.text.clone());
        if self.macro_stack.contains(&m.name.text.as_str()) {
            let chain = self.macro_stack.join("` → `");
            self.error(
                Diagnostic::new(
                    Code::RecursiveMacro,
                    format!("macro `{}` uses itself", m.name.text),
                    use_span,
                )
                .with_secondary(m.name.span, "defined here")
                .with_note(format!("expansion: `{chain}` → `{}`", m.name.text)),
            );
            return None;
        }
        self.macro_stack.push(&m.name.text);
        let body = self.condition(&m.body, event, action);
        self.macro_stack.pop();
        body
    }

    #[allow(clippy::too_many_arguments)]
    fn comparison(
        &mut self,
        op: CmpOp,
        op_span: Span,
        lhs: &'a ast::Expr,
        rhs: &'a ast::Expr,
        span: Span,
        event: &'static Event,
        action: Action,
    ) -> Option<Cond> {
        // An enum attribute takes the kernel's names on the other side, which are not names
        // of this policy: resolve them against the enum before anything else.
        let enum_attr = |e: &ast::Expr| match &e.kind {
            ExprKind::Name(n) => event
                .attribute(&n.text)
                .filter(|a| matches!(a.ty, ValueType::Enum(_))),
            _ => None,
        };
        if let Some(attribute) = enum_attr(lhs) {
            return self.enum_comparison(op, op_span, lhs, attribute, rhs, span, event);
        }
        if let (Some(attribute), Some(flipped)) = (enum_attr(rhs), flip(op)) {
            if !matches!(&lhs.kind, ExprKind::Name(n) if event.attribute(&n.text).is_some()) {
                return self.enum_comparison(flipped, op_span, rhs, attribute, lhs, span, event);
            }
        }
        let left = self.operand(lhs, event);
        let right = self.operand(rhs, event);
        let (mut left, mut right) = (left?, right?);
        let (mut lhs, mut rhs, mut op) = (lhs, rhs, op);
        // `0 == uid` reads as `uid == 0`.
        if !matches!(left, Operand::Attr(..)) && matches!(right, Operand::Attr(..)) {
            if let Some(flipped) = flip(op) {
                std::mem::swap(&mut left, &mut right);
                std::mem::swap(&mut lhs, &mut rhs);
                op = flipped;
            }
        }
        if let (Operand::Attr(attr, a, mask), Operand::Attr(other, _, other_mask)) = (&left, &right)
        {
            if attr == other && mask == other_mask {
                if let Some(value) = crate::lint::self_comparison_value(a.ty, op) {
                    self.error(crate::lint::self_comparison(a.name, value, span));
                    return Some(Cond::Const(value));
                }
            }
        }
        let Operand::Attr(attr, a, mask) = left else {
            self.error(
                Diagnostic::new(
                    Code::TypeMismatch,
                    "a comparison needs an attribute on one side",
                    span,
                )
                .with_label("neither side is an attribute")
                .with_help("compare an attribute of the event with a literal, e.g. `uid == 0`"),
            );
            return None;
        };
        let test = |predicate| {
            Cond::Test(Test {
                attr,
                predicate,
                span,
            })
        };
        let mismatch = |this: &mut Self, what: &str| {
            this.error(
                Diagnostic::new(
                    Code::TypeMismatch,
                    format!(
                        "cannot compare {} `{}` with {what}",
                        a.ty.describe(),
                        a.name
                    ),
                    rhs.span,
                )
                .with_secondary(
                    lhs.span,
                    format!("this is {} {}", article(a.ty), a.ty.describe()),
                ),
            );
            None
        };
        match (a.ty, op, right) {
            (
                ValueType::Int,
                CmpOp::Eq | CmpOp::Ne | CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge,
                Operand::Int(value),
            ) => {
                let op = match op {
                    CmpOp::Eq => IntOp::Eq,
                    CmpOp::Ne => IntOp::Ne,
                    CmpOp::Lt => IntOp::Lt,
                    CmpOp::Le => IntOp::Le,
                    CmpOp::Gt => IntOp::Gt,
                    _ => IntOp::Ge,
                };
                Some(test(int_predicate(mask, op, value)))
            }
            (ValueType::Int, CmpOp::In, Operand::List(elements)) => {
                let mut values = Vec::new();
                for (element, element_span) in elements {
                    match element {
                        Literal::Int(v) => values.push(test(int_predicate(mask, IntOp::Eq, v))),
                        other @ (Literal::Str(_) | Literal::Addr(..)) => {
                            self.error(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    format!(
                                        "`{}` is an integer; this list element is {}",
                                        a.name,
                                        if matches!(other, Literal::Str(_)) {
                                            "a string"
                                        } else {
                                            "an address"
                                        }
                                    ),
                                    element_span,
                                )
                                .with_secondary(lhs.span, "integer"),
                            );
                            return None;
                        }
                    }
                }
                Some(any(values))
            }
            (ty, CmpOp::Eq | CmpOp::Ne, Operand::Str(text)) if ty.is_string() => {
                self.check_fits(a, &text, rhs.span);
                let eq = test(Predicate::StrEq(text.into_bytes()));
                Some(if op == CmpOp::Ne {
                    Cond::Not(Box::new(eq))
                } else {
                    eq
                })
            }
            (ty, CmpOp::In, Operand::List(elements)) if ty.is_string() => {
                let mut values = Vec::new();
                for (element, element_span) in elements {
                    match element {
                        Literal::Str(text) => {
                            self.check_fits(a, &text, element_span);
                            values.push(test(Predicate::StrEq(text.into_bytes())));
                        }
                        other @ (Literal::Int(_) | Literal::Addr(..)) => {
                            self.error(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    format!(
                                        "`{}` is a {}; this list element is {}",
                                        a.name,
                                        ty.describe(),
                                        if matches!(other, Literal::Int(_)) {
                                            "an integer"
                                        } else {
                                            "an address"
                                        }
                                    ),
                                    element_span,
                                )
                                .with_secondary(lhs.span, ty.describe()),
                            );
                            return None;
                        }
                    }
                }
                Some(any(values))
            }
            (ty, CmpOp::Match | CmpOp::NotMatch, right @ (Operand::Str(_) | Operand::List(_)))
                if ty.is_string() =>
            {
                let patterns = match right {
                    Operand::Str(text) => vec![(Literal::Str(text), rhs.span)],
                    Operand::List(elements) => elements,
                    _ => Vec::new(),
                };
                let mut globs = Vec::new();
                let mut ok = true;
                for (pattern, pattern_span) in patterns {
                    let Literal::Str(pattern) = pattern else {
                        self.error(Diagnostic::new(
                            Code::TypeMismatch,
                            "a glob must be a string",
                            pattern_span,
                        ));
                        ok = false;
                        continue;
                    };
                    match Glob::parse(&pattern) {
                        Ok(glob) => {
                            self.check_glob_fits(a, &glob, pattern_span);
                            if action == Action::Deny
                                && op == CmpOp::Match
                                && pattern.ends_with("/*")
                                && !pattern.ends_with("\\/*")
                            {
                                let deep = format!("{}*", pattern);
                                self.error(
                                    Diagnostic::new(
                                        Code::ShallowDenyGlob,
                                        format!("`{pattern}` matches only direct children"),
                                        pattern_span,
                                    )
                                    .with_label("`*` does not cross `/`")
                                    .with_help(format!(
                                        "to deny the whole tree, write `\"{deep}\"`"
                                    )),
                                );
                            }
                            globs.push(test(Predicate::Glob(glob)));
                        }
                        Err(e) => {
                            self.error(
                                Diagnostic::new(Code::BadGlob, format!("malformed glob: {}", e.message), pattern_span)
                                    .with_note(format!("in `{pattern}` at byte {}", e.offset))
                                    .with_help("globs use `*`, `**`, `?`, `[a-z]`, `[!a-z]` and `{a,b}`; a backslash makes the next character literal"),
                            );
                            ok = false;
                        }
                    }
                }
                if !ok {
                    return None;
                }
                let matched = any(globs);
                Some(if op == CmpOp::NotMatch {
                    Cond::Not(Box::new(matched))
                } else {
                    matched
                })
            }
            (ValueType::Addr, CmpOp::Eq | CmpOp::Ne, Operand::Addr(ip, prefix)) => {
                if prefix < full_prefix(ip) {
                    self.error(
                        Diagnostic::new(
                            Code::BadOperator,
                            format!(
                                "`{}` compares single addresses, and this is a range",
                                op.symbol()
                            ),
                            rhs.span,
                        )
                        .with_help(format!(
                            "test membership with `{} in {}/{prefix}`{}",
                            a.name,
                            ip,
                            if op == CmpOp::Ne {
                                ", negated with `not`"
                            } else {
                                ""
                            }
                        )),
                    );
                    return None;
                }
                let eq = test(cidr(ip, prefix));
                Some(if op == CmpOp::Ne {
                    Cond::Not(Box::new(eq))
                } else {
                    eq
                })
            }
            (ValueType::Addr, CmpOp::In, Operand::Addr(ip, prefix)) => Some(test(cidr(ip, prefix))),
            (ValueType::Addr, CmpOp::In, Operand::List(elements)) => {
                let mut ranges = Vec::new();
                for (element, element_span) in elements {
                    match element {
                        Literal::Addr(ip, prefix) => ranges.push(test(cidr(ip, prefix))),
                        other => {
                            self.error(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    format!(
                                        "`{}` is an address; this list element is {}",
                                        a.name,
                                        if matches!(other, Literal::Int(_)) { "an integer" } else { "a string" }
                                    ),
                                    element_span,
                                )
                                .with_secondary(lhs.span, "address")
                                .with_help("write addresses as `10.0.0.1`, `::1`, or ranges as `10.0.0.0/8`"),
                            );
                            return None;
                        }
                    }
                }
                Some(any(ranges))
            }
            (ValueType::Bool, CmpOp::Eq | CmpOp::Ne, Operand::Bool(value)) => {
                let is = test(Predicate::IsTrue);
                Some(if value == (op == CmpOp::Eq) {
                    is
                } else {
                    Cond::Not(Box::new(is))
                })
            }
            (ty, op, right) => {
                let right_kind = match &right {
                    Operand::Attr(_, b, _) => format!("attribute `{}`", b.name),
                    Operand::Int(_) => "an integer".into(),
                    Operand::Str(_) => "a string".into(),
                    Operand::Bool(_) => "a boolean".into(),
                    Operand::List(_) => "a list".into(),
                    Operand::Addr(..) => "an address".into(),
                };
                match (op, &right) {
                    (_, Operand::Attr(..)) => {
                        self.error(
                            Diagnostic::new(
                                Code::BadOperator,
                                "comparing two attributes is not supported",
                                span,
                            )
                            .with_help("compare each attribute with a literal"),
                        );
                        None
                    }
                    (CmpOp::In, Operand::List(_) | Operand::Addr(..))
                    | (
                        CmpOp::Eq | CmpOp::Ne,
                        Operand::Int(_) | Operand::Str(_) | Operand::Bool(_) | Operand::Addr(..),
                    ) => mismatch(self, &right_kind),
                    (CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge, _) if ty != ValueType::Int => {
                        self.error(
                            Diagnostic::new(
                                Code::BadOperator,
                                format!(
                                    "`{}` applies to integers, and `{}` is {} {}",
                                    op.symbol(),
                                    a.name,
                                    article(ty),
                                    ty.describe()
                                ),
                                op_span,
                            )
                            .with_help(if ty.is_string() {
                                "compare strings with `==`, `!=`, `in`, `~` or `!~`"
                            } else if ty == ValueType::Addr {
                                "compare addresses with `==`, `!=` or `in`, e.g. `addr in 10.0.0.0/8`"
                            } else {
                                "use `==` or `!=`"
                            }),
                        );
                        None
                    }
                    (CmpOp::Match | CmpOp::NotMatch, _) if !ty.is_string() => {
                        self.error(
                            Diagnostic::new(
                                Code::BadOperator,
                                format!(
                                    "`{}` matches strings and paths, and `{}` is {} {}",
                                    op.symbol(),
                                    a.name,
                                    article(ty),
                                    ty.describe()
                                ),
                                op_span,
                            )
                            .with_help(if ty == ValueType::Addr {
                                "compare addresses with `==`, `!=` or `in`, e.g. `addr in 10.0.0.0/8`"
                            } else {
                                "compare integers with `==`, `!=`, `<`, `<=`, `>`, `>=` or `in`"
                            }),
                        );
                        None
                    }
                    (CmpOp::In, _) => {
                        self.error(
                            Diagnostic::new(
                                Code::ListMisuse,
                                format!("`in` needs a list on the right, found {right_kind}"),
                                rhs.span,
                            )
                            .with_help(format!(
                                "write `{} in [...]`, or compare with `==`",
                                a.name
                            )),
                        );
                        None
                    }
                    (_, Operand::List(_)) => {
                        self.error(
                            Diagnostic::new(
                                Code::ListMisuse,
                                format!(
                                    "`{}` compares single values, and the right side is a list",
                                    op.symbol()
                                ),
                                rhs.span,
                            )
                            .with_help(if ty.is_string() {
                                "use `in` for membership or `~` to match any glob of the list"
                            } else {
                                "use `in` for membership"
                            }),
                        );
                        None
                    }
                    _ => mismatch(self, &right_kind),
                }
            }
        }
    }

    /// `ATTR == NAME`, `ATTR != NAME`, `ATTR in [NAME, ...]` (or a list of names) for an
    /// attribute of enum type.
    #[allow(clippy::too_many_arguments)]
    fn enum_comparison(
        &mut self,
        op: CmpOp,
        op_span: Span,
        lhs: &'a ast::Expr,
        attribute: &'static Attribute,
        rhs: &'a ast::Expr,
        span: Span,
        event: &'static Event,
    ) -> Option<Cond> {
        let ValueType::Enum(kind) = attribute.ty else {
            return None;
        };
        let attr = self.resolve_attribute(event, attribute, lhs.span);
        let test = |value| {
            Cond::Test(Test {
                attr: attr.unwrap_or(AttrId(0)),
                predicate: Predicate::Int {
                    op: IntOp::Eq,
                    value,
                },
                span,
            })
        };
        let cond = match op {
            CmpOp::Eq | CmpOp::Ne => {
                if let ExprKind::List(_) = rhs.kind {
                    self.error(
                        Diagnostic::new(
                            Code::ListMisuse,
                            format!(
                                "`{}` compares single values, and the right side is a list",
                                op.symbol()
                            ),
                            rhs.span,
                        )
                        .with_help("use `in` for membership"),
                    );
                    return None;
                }
                let value = self.enum_value(rhs, attribute, kind, event)?;
                let eq = test(value);
                if op == CmpOp::Ne {
                    Cond::Not(Box::new(eq))
                } else {
                    eq
                }
            }
            CmpOp::In => {
                let elements: Vec<&'a ast::Expr> = match &rhs.kind {
                    ExprKind::List(elements) => elements.iter().collect(),
                    ExprKind::Name(name) if self.lists.contains_key(name.text.as_str()) => {
                        self.used.insert(name.text.clone());
                        let list = self.lists[name.text.as_str()];
                        list.elements.iter().collect()
                    }
                    _ => {
                        self.error(
                            Diagnostic::new(
                                Code::ListMisuse,
                                "`in` needs a list on the right",
                                rhs.span,
                            )
                            .with_help(format!(
                                "write `{} in [...]`, or compare with `==`",
                                attribute.name
                            )),
                        );
                        return None;
                    }
                };
                let mut values = Vec::new();
                let mut ok = true;
                for element in elements {
                    match self.enum_value(element, attribute, kind, event) {
                        Some(v) => values.push(test(v)),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                any(values)
            }
            _ => {
                self.error(
                    Diagnostic::new(
                        Code::BadOperator,
                        format!(
                            "`{}` is {} {}, compared only with `==`, `!=` and `in`",
                            attribute.name,
                            article(attribute.ty),
                            kind.name
                        ),
                        op_span,
                    )
                    .with_help(format!(
                        "name the values, e.g. `{} in [{}]`",
                        attribute.name,
                        example_names(kind).replace('`', "")
                    )),
                );
                return None;
            }
        };
        attr.map(|_| cond)
    }

    /// The value of one of `kind`'s names, written where `attribute` is compared.
    fn enum_value(
        &mut self,
        expr: &ast::Expr,
        attribute: &'static Attribute,
        kind: &'static catalog::EnumType,
        event: &'static Event,
    ) -> Option<u64> {
        let found = match &expr.kind {
            ExprKind::Name(name) => {
                if let Some(value) = kind.value(&name.text) {
                    return Some(value);
                }
                if event.attribute(&name.text).is_some() {
                    self.error(
                        Diagnostic::new(
                            Code::BadOperator,
                            "comparing two attributes is not supported",
                            expr.span,
                        )
                        .with_help(format!(
                            "compare `{}` with a {} name",
                            attribute.name, kind.name
                        )),
                    );
                    return None;
                }
                if let Some(other) = catalog::ENUMS
                    .iter()
                    .find(|e| e.value(&name.text).is_some())
                {
                    format!(
                        "`{}`, {} {}",
                        name.text,
                        article(ValueType::Enum(other)),
                        other.name
                    )
                } else {
                    let mut d = Diagnostic::new(
                        Code::UnknownEnumValue,
                        format!("unknown {} `{}`", kind.name, name.text),
                        name.span,
                    )
                    .with_label(format!(
                        "`{}` is {} {}",
                        attribute.name,
                        article(attribute.ty),
                        kind.name
                    ));
                    let upper = name.text.to_ascii_uppercase();
                    let lower = name.text.to_ascii_lowercase();
                    let names = kind.values.iter().map(|(n, _)| *n);
                    d = match [upper.as_str(), lower.as_str()]
                        .into_iter()
                        .find(|c| kind.value(c).is_some())
                        .map(str::to_string)
                        .or_else(|| suggest(&name.text, names.clone()).map(str::to_string))
                        .or_else(|| suggest(&upper, names.clone()).map(str::to_string))
                        .or_else(|| suggest(&lower, names).map(str::to_string))
                    {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!(
                            "`{}` takes the kernel's names, e.g. {}",
                            attribute.name,
                            example_names(kind)
                        )),
                    };
                    self.error(d);
                    return None;
                }
            }
            ExprKind::Int(_) => "an integer".to_string(),
            ExprKind::Str(_) => "a string".to_string(),
            ExprKind::Bool(_) => "a boolean".to_string(),
            ExprKind::List(_) => "a list".to_string(),
            _ => "a condition".to_string(),
        };
        self.error(
            Diagnostic::new(
                Code::EnumMismatch,
                format!(
                    "`{}` is {} {}; it cannot be compared with {found}",
                    attribute.name,
                    article(attribute.ty),
                    kind.name
                ),
                expr.span,
            )
            .with_help(format!(
                "write {} {} name, e.g. {}",
                article(attribute.ty),
                kind.name,
                example_names(kind)
            )),
        );
        None
    }

    /// A glob on a fixed-size string whose every match is longer than the string can be.
    fn check_glob_fits(&mut self, attr: &Attribute, glob: &Glob, span: Span) {
        let Some(capacity) = capacity(attr) else {
            return;
        };
        // Stars match empty runs; every other token is one byte.
        let shortest = glob
            .alternatives
            .iter()
            .map(|tokens| tokens.iter().filter(|t| !t.is_star()).count())
            .min()
            .unwrap_or(0);
        if shortest > capacity {
            self.error(
                Diagnostic::new(
                    Code::StringNeverFits,
                    format!(
                        "`{}` holds at most {capacity} bytes; `{}` matches only strings of {shortest} bytes or more",
                        attr.name, glob.pattern
                    ),
                    span,
                )
                .with_label("this can never match")
                .with_help(format!(
                    "match what the kernel keeps: the first {capacity} bytes, then `*` if the name may be cut"
                )),
            );
        }
    }

    fn check_fits(&mut self, attr: &Attribute, text: &str, span: Span) {
        let Some(capacity) = capacity(attr) else {
            return;
        };
        if text.len() > capacity {
            // What the kernel keeps, written as a policy string: a character cut in half
            // shows as `\xHH` escapes.
            let kept = &text.as_bytes()[..capacity];
            let cut = match std::str::from_utf8(kept) {
                Ok(whole) => whole.to_string(),
                Err(e) => {
                    let (valid, rest) = kept.split_at(e.valid_up_to());
                    let mut cut = String::from_utf8_lossy(valid).into_owned();
                    for byte in rest {
                        cut.push_str(&format!("\\x{byte:02X}"));
                    }
                    cut
                }
            };
            self.error(
                Diagnostic::new(
                    Code::StringNeverFits,
                    format!(
                        "`{}` holds at most {capacity} bytes; `{text}` has {}",
                        attr.name,
                        text.len()
                    ),
                    span,
                )
                .with_label("this can never be equal")
                .with_help(format!(
                    "the kernel keeps the first {capacity} bytes: `{cut}`"
                )),
            );
        }
    }

    fn operand(&mut self, expr: &'a ast::Expr, event: &'static Event) -> Option<Operand> {
        match &expr.kind {
            ExprKind::BitAnd(lhs, rhs) => {
                let (left, right) = (self.operand(lhs, event), self.operand(rhs, event));
                match (left?, right?) {
                    (Operand::Attr(id, a, mask), Operand::Int(v))
                    | (Operand::Int(v), Operand::Attr(id, a, mask))
                        if a.ty == ValueType::Int =>
                    {
                        Some(Operand::Attr(id, a, Some(mask.unwrap_or(u64::MAX) & v)))
                    }
                    (Operand::Int(a), Operand::Int(b)) => Some(Operand::Int(a & b)),
                    _ => {
                        self.error(
                            Diagnostic::new(
                                Code::BadOperator,
                                "`&` takes an integer attribute and an integer literal",
                                expr.span,
                            )
                            .with_help(
                                "test flags as `ATTRIBUTE & MASK != 0`, e.g. `mode & 0o6000 != 0`",
                            ),
                        );
                        None
                    }
                }
            }
            ExprKind::Int(v) => Some(Operand::Int(*v)),
            ExprKind::Addr(ip, prefix) => Some(Operand::Addr(*ip, *prefix)),
            ExprKind::Str(s) => Some(Operand::Str(s.clone())),
            ExprKind::Bool(b) => Some(Operand::Bool(*b)),
            ExprKind::List(elements) => self.list_elements(elements).map(Operand::List),
            ExprKind::Name(name) => {
                if let Some(attribute) = event.attribute(&name.text) {
                    let id = self.resolve_attribute(event, attribute, name.span)?;
                    return Some(Operand::Attr(id, attribute, None));
                }
                if let Some(list) = self.lists.get(name.text.as_str()).copied() {
                    self.used.insert(name.text.clone());
                    return self.list_elements(&list.elements).map(Operand::List);
                }
                if self.macros.contains_key(name.text.as_str()) {
                    self.used.insert(name.text.clone());
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            format!("macro `{}` is a condition, not a value", name.text),
                            name.span,
                        )
                        .with_help(format!(
                            "use it on its own: `{}` or `not {}`",
                            name.text, name.text
                        )),
                    );
                    return None;
                }
                self.unknown_name(name, event);
                None
            }
            ExprKind::And(..) | ExprKind::Or(..) | ExprKind::Not(..) | ExprKind::Compare { .. } => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        "a condition cannot be compared",
                        expr.span,
                    )
                    .with_help("combine conditions with `and`, `or`, `not`"),
                );
                None
            }
        }
    }

    fn list_elements(&mut self, elements: &[ast::Expr]) -> Option<Vec<(Literal, Span)>> {
        let mut out = Vec::new();
        let mut first: Option<(&'static str, Span)> = None;
        let mut ok = true;
        for element in elements {
            let (literal, kind) = match &element.kind {
                ExprKind::Int(v) => (Literal::Int(*v), "integer"),
                ExprKind::Str(s) => (Literal::Str(s.clone()), "string"),
                ExprKind::Addr(ip, prefix) => (Literal::Addr(*ip, *prefix), "address"),
                _ => {
                    self.error(
                        Diagnostic::new(
                            Code::BadListElement,
                            "list elements must be string or integer literals",
                            element.span,
                        )
                        .with_help("lists cannot hold names, conditions or other lists"),
                    );
                    ok = false;
                    continue;
                }
            };
            match first {
                Some((first_kind, first_span)) if first_kind != kind => {
                    self.error(
                        Diagnostic::new(
                            Code::BadListElement,
                            format!("this list mixes types: {kind} after {first_kind}"),
                            element.span,
                        )
                        .with_secondary(
                            first_span,
                            format!(
                                "the first element is {} {first_kind}",
                                if matches!(first_kind, "integer" | "address") {
                                    "an"
                                } else {
                                    "a"
                                }
                            ),
                        ),
                    );
                    ok = false;
                }
                None => first = Some((kind, element.span)),
                _ => {}
            }
            out.push((literal, element.span));
        }
        ok.then_some(out)
    }

    fn unknown_name(&mut self, name: &ast::Name, event: &'static Event) {
        // Used on the wrong event?
        if catalog::all_events().any(|e| e.name != event.name && e.attribute(&name.text).is_some())
        {
            let hosts: Vec<&str> = catalog::all_events()
                .filter(|e| e.attribute(&name.text).is_some())
                .map(|e| e.name)
                .collect();
            self.error(
                Diagnostic::new(
                    Code::AttributeNotOnEvent,
                    format!("`{}` is not an attribute of `{}`", name.text, event.name),
                    name.span,
                )
                .with_label(format!(
                    "`{}` exists on {}",
                    name.text,
                    hosts
                        .iter()
                        .map(|h| format!("`{h}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .with_help(attribute_list(event)),
            );
            return;
        }
        let candidates: Vec<&str> = event
            .attributes()
            .map(|a| a.name)
            .chain(self.lists.keys().copied())
            .chain(self.macros.keys().copied())
            .collect();
        let mut d = Diagnostic::new(
            Code::UnknownName,
            format!("unknown name `{}`", name.text),
            name.span,
        )
        .with_label(format!(
            "not an attribute of `{}`, a list or a macro",
            event.name
        ));
        d = match suggest(&name.text, candidates.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(attribute_list(event)),
        };
        self.error(d);
    }

    fn resolve_attribute(
        &mut self,
        event: &'static Event,
        attribute: &'static Attribute,
        span: Span,
    ) -> Option<AttrId> {
        if let Some(known) = self.attribute_ids.get(&(event.name, attribute.name)) {
            return *known;
        }
        let params = self.hooks.get(event.hook).cloned().flatten();
        if let Source::WalkedPath { dentry, mnt } = attribute.source {
            return self.resolve_walk(event, attribute, span, params, dentry, mnt);
        }
        let resolved = match (attribute.source.chain(), params) {
            (None, params) => match attribute.source {
                Source::Endpoint { param, holder, .. } => {
                    let Some(params) = params else {
                        self.attribute_ids
                            .insert((event.name, attribute.name), None);
                        return None;
                    };
                    resolve_endpoint(self.kernel, &params, param, holder).map(|e| (None, Some(e)))
                }
                _ => Ok((None, None)),
            },
            // The hook itself is missing; that is reported once, on the rule.
            (Some((Some(_), _)), None) => {
                self.attribute_ids
                    .insert((event.name, attribute.name), None);
                return None;
            }
            (Some((param, members)), params) => resolve_access(
                self.kernel,
                params.as_deref().unwrap_or(&[]),
                param,
                members,
                &attribute.source,
            )
            .map(|access| (Some(access), None)),
        };
        let id = match resolved {
            Ok((access, endpoint)) => {
                let id = AttrId(self.attributes.len() as u32);
                self.attributes.push(ResolvedAttribute {
                    event,
                    attribute,
                    access,
                    walk: None,
                    endpoint,
                });
                Some(id)
            }
            Err(reason) => {
                let label = format!(
                    "`{}` reads `{}`",
                    attribute.name,
                    attribute.source.describe_chain()
                );
                self.access_path_invalid(attribute, span, label, reason);
                None
            }
        };
        self.attribute_ids.insert((event.name, attribute.name), id);
        id
    }
}

/// The parameters of `event`'s LSM hook on `kernel`, or the [`Code::HookMissing`] error (on
/// `span`, the event's name in a rule) naming the hook and the kernel.
pub fn hook_availability(
    kernel: &dyn KernelTypes,
    event: &Event,
    span: Span,
) -> Result<Vec<Param>, Box<Diagnostic>> {
    kernel
        .hook_params(event.hook)
        .ok_or_else(|| Box::new(hook_missing(kernel, event, span)))
}

fn hook_missing(kernel: &dyn KernelTypes, event: &Event, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::HookMissing,
        format!("{} has no LSM hook `{}`", kernel.describe(), event.hook),
        span,
    )
    .with_label(format!("`{}` needs `bpf_lsm_{}`", event.name, event.hook))
    .with_help("check against a kernel that has this hook with `--btf FILE`, or drop the rule")
}

impl Checker<'_> {
    /// E0302: the target kernel's types do not have what `attribute` reads.
    fn access_path_invalid(
        &mut self,
        attribute: &Attribute,
        span: Span,
        label: String,
        reason: String,
    ) {
        self.error(
            Diagnostic::new(
                Code::AccessPathInvalid,
                format!(
                    "`{}` cannot be read on {}",
                    attribute.name,
                    self.kernel.describe()
                ),
                span,
            )
            .with_label(label)
            .with_note(reason),
        );
    }

    /// Resolves a walked path: both start chains and the walk's layout.
    fn resolve_walk(
        &mut self,
        event: &'static Event,
        attribute: &'static Attribute,
        span: Span,
        params: Option<Vec<Param>>,
        dentry: catalog::Chain,
        mnt: catalog::Chain,
    ) -> Option<AttrId> {
        let key = (event.name, attribute.name);
        // A missing hook is reported once, on the rule.
        let Some(params) = params.or_else(|| (dentry.param.is_none()).then(Vec::new)) else {
            self.attribute_ids.insert(key, None);
            return None;
        };
        let chain_text = |chain: catalog::Chain| {
            let mut text = chain.param.unwrap_or("current").to_string();
            for member in chain.members {
                text.push_str("->");
                text.push_str(member);
            }
            text
        };
        let resolve = |chain: catalog::Chain| {
            resolve_access(
                self.kernel,
                &params,
                chain.param,
                chain.members,
                &attribute.source,
            )
            .map_err(|reason| (chain, reason))
        };
        let starts = resolve(dentry).and_then(|d| Ok((d, resolve(mnt)?)));
        let id = match (starts, WalkLayout::resolve(self.kernel)) {
            (Ok((dentry, mnt)), Ok(layout)) => {
                let id = AttrId(self.attributes.len() as u32);
                self.attributes.push(ResolvedAttribute {
                    event,
                    attribute,
                    access: None,
                    endpoint: None,
                    walk: Some(PathWalk {
                        dentry,
                        mnt,
                        layout,
                    }),
                });
                Some(id)
            }
            (Err((chain, reason)), _) => {
                let label = format!("`{}` starts from `{}`", attribute.name, chain_text(chain));
                self.access_path_invalid(attribute, span, label, reason);
                None
            }
            (Ok(_), Err(reason)) => {
                self.error(
                    Diagnostic::new(
                        Code::PathWalkUnavailable,
                        format!(
                            "`{}` cannot be computed on {}",
                            attribute.name,
                            self.kernel.describe()
                        ),
                        span,
                    )
                    .with_label(format!(
                        "`{}` is a path krsi walks from `{}`",
                        attribute.name,
                        chain_text(dentry)
                    ))
                    .with_note(reason)
                    .with_help(format!("check against a kernel whose BTF has `struct mount` (`--btf FILE`), or test another attribute than `{}`", attribute.name)),
                );
                None
            }
        };
        self.attribute_ids.insert(key, id);
        id
    }
}

/// Follows `members` from hook parameter `param` (or the current task) through the kernel's
/// types. A member that is a pointer is loaded before the next member is looked up in what it
/// points to; an embedded struct just adds its offset.
pub fn resolve_access(
    kernel: &dyn KernelTypes,
    params: &[Param],
    param: Option<&str>,
    members: &[&str],
    source: &Source,
) -> Result<Access, String> {
    let (base, start) = match param {
        Some(name) => {
            let Some((index, p)) = params.iter().enumerate().find(|(_, p)| p.name == name) else {
                let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                return Err(format!(
                    "the hook has no parameter `{name}` (it has: {})",
                    names.join(", ")
                ));
            };
            if members.is_empty() {
                // The argument itself: its 64-bit context slot.
                return Ok(Access {
                    base: AccessBase::Context,
                    derefs: Vec::new(),
                    offset: 8 * index as u32,
                    size: final_size(kernel, source, p.ty, name)?,
                });
            }
            (AccessBase::Param(index as u32), p.ty)
        }
        None => match kernel.named_struct("task_struct") {
            // bpf_get_current_task_btf returns a pointer to it; start inside.
            Some(task) => (AccessBase::CurrentTask, task),
            None => return Err("the kernel's BTF has no `struct task_struct`".into()),
        },
    };
    let mut base = base;
    let mut offset = 0u32;
    let mut current = match (base, kernel.shape(start)) {
        (AccessBase::CurrentTask | AccessBase::Context, _) => start,
        (_, TypeShape::Pointer { to }) => to,
        // A small struct passed by value (`kuid_t`): its members are in the context slot.
        (AccessBase::Param(index), TypeShape::Struct { bytes, .. }) if bytes <= 8 => {
            base = AccessBase::Context;
            offset = 8 * index;
            start
        }
        (_, other) => {
            return Err(format!(
                "parameter `{}` is {}, not a pointer",
                param.unwrap_or("?"),
                describe_shape(&other)
            ))
        }
    };
    let mut derefs = Vec::new();
    let mut walked = param.unwrap_or("current").to_string();
    let mut final_ty = current;
    for (i, member_name) in members.iter().enumerate() {
        let shape = kernel.shape(current);
        if !matches!(shape, TypeShape::Struct { .. } | TypeShape::Union { .. }) {
            return Err(format!(
                "`{walked}` is {}, not a struct",
                describe_shape(&shape)
            ));
        }
        let Some(member) = kernel.member(current, member_name) else {
            return Err(format!(
                "{} has no member `{member_name}`",
                describe_shape(&shape)
            ));
        };
        if member.bitfield_bits != 0 || member.offset_bits % 8 != 0 {
            return Err(format!("`{walked}->{member_name}` is a bitfield"));
        }
        offset += member.offset_bits / 8;
        walked = format!("{walked}->{member_name}");
        let is_last = i + 1 == members.len();
        match kernel.shape(member.ty) {
            TypeShape::Pointer { to } if !is_last => {
                derefs.push(offset);
                offset = 0;
                current = to;
            }
            _ if !is_last => current = member.ty,
            _ => final_ty = member.ty,
        }
    }
    let size = final_size(kernel, source, final_ty, &walked)?;
    Ok(Access {
        base,
        derefs,
        offset,
        size,
    })
}

/// How many bytes an attribute of `source` reads at the end of its chain, a value of type
/// `final_ty`; an error when that type is not one the source can read.
fn final_size(
    kernel: &dyn KernelTypes,
    source: &Source,
    final_ty: crate::kernel::TypeId,
    walked: &str,
) -> Result<u32, String> {
    let shape = kernel.shape(final_ty);
    let size = match (source, &shape) {
        (Source::WalkedPath { .. }, TypeShape::Pointer { to }) => match kernel.shape(*to) {
            TypeShape::Struct { name, .. } | TypeShape::Opaque { name }
                if name == "dentry" || name == "vfsmount" =>
            {
                8
            }
            other => {
                return Err(format!(
                    "`{walked}` points to {}, not to a dentry or a mount",
                    describe_shape(&other)
                ))
            }
        },
        (Source::ResolvedPath { .. }, TypeShape::Struct { name, bytes }) if name == "path" => {
            *bytes
        }
        (Source::KernelString { .. }, TypeShape::Pointer { to }) => match kernel.shape(*to) {
            TypeShape::Int { bytes: 1, .. } => 8,
            other => {
                return Err(format!(
                    "`{walked}` points to {}, not to characters",
                    describe_shape(&other)
                ))
            }
        },
        (
            Source::TaskChars { .. } | Source::ParamChars { .. },
            TypeShape::Array { element, len },
        ) => match kernel.shape(*element) {
            TypeShape::Int { bytes: 1, .. } => *len,
            other => {
                return Err(format!(
                    "`{walked}` is an array of {}, not of characters",
                    describe_shape(&other)
                ))
            }
        },
        (
            Source::Flag { .. } | Source::TaskInt { .. } | Source::Int { .. },
            TypeShape::Int { bytes, .. } | TypeShape::Enum { bytes },
        ) if matches!(bytes, 1 | 2 | 4 | 8) => *bytes,
        _ => {
            return Err(format!(
                "`{walked}` is {}, which this attribute cannot read",
                describe_shape(&shape)
            ))
        }
    };
    Ok(size)
}

/// Where the endpoint held by hook parameter `param` keeps its family, port and address, from
/// the kernel's own structs.
pub fn resolve_endpoint(
    kernel: &dyn KernelTypes,
    params: &[Param],
    param: &str,
    holder: catalog::EndpointHolder,
) -> Result<Endpoint, String> {
    let Some((index, p)) = params.iter().enumerate().find(|(_, p)| p.name == param) else {
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        return Err(format!(
            "the hook has no parameter `{param}` (it has: {})",
            names.join(", ")
        ));
    };
    let TypeShape::Pointer { to } = kernel.shape(p.ty) else {
        return Err(format!("parameter `{param}` is not a pointer"));
    };
    // A member of `ty` at a whole byte offset whose type is `bytes` long.
    let member = |ty: u32, owner: &str, name: &str, bytes: u32| -> Result<u32, String> {
        let m = kernel
            .member(ty, name)
            .ok_or_else(|| format!("`{owner}` has no member `{name}`"))?;
        if m.bitfield_bits != 0 || m.offset_bits % 8 != 0 {
            return Err(format!("`{owner}.{name}` is a bitfield"));
        }
        let size = match kernel.shape(m.ty) {
            TypeShape::Int { bytes, .. } | TypeShape::Enum { bytes } => bytes,
            TypeShape::Struct { bytes, .. } | TypeShape::Union { bytes, .. } => bytes,
            _ => 0,
        };
        if size != bytes {
            return Err(format!("`{owner}.{name}` is not {bytes} bytes long"));
        }
        Ok(m.offset_bits / 8)
    };
    let named = |name: &str| {
        kernel
            .named_struct(name)
            .ok_or_else(|| format!("the kernel's BTF has no `struct {name}`"))
    };
    match holder {
        catalog::EndpointHolder::SockAddr => {
            let sin = named("sockaddr_in")?;
            let sin6 = named("sockaddr_in6")?;
            Ok(Endpoint {
                object: Access {
                    base: AccessBase::Param(index as u32),
                    derefs: Vec::new(),
                    offset: 0,
                    size: 0,
                },
                family: member(to, "sockaddr", "sa_family", 2)?,
                v4_port: member(sin, "sockaddr_in", "sin_port", 2)?,
                v6_port: member(sin6, "sockaddr_in6", "sin6_port", 2)?,
                v4_addr: member(sin, "sockaddr_in", "sin_addr", 4)?,
                v6_addr: member(sin6, "sockaddr_in6", "sin6_addr", 16)?,
                port_network_order: true,
            })
        }
        catalog::EndpointHolder::SocketLocal => {
            let sk = kernel
                .member(to, "sk")
                .ok_or_else(|| "`socket` has no member `sk`".to_string())?;
            let TypeShape::Pointer { to: sock } = kernel.shape(sk.ty) else {
                return Err("`socket.sk` is not a pointer".into());
            };
            let common = kernel
                .member(sock, "__sk_common")
                .ok_or_else(|| "`sock` has no member `__sk_common`".to_string())?;
            let common_ty = named("sock_common")?;
            Ok(Endpoint {
                object: Access {
                    base: AccessBase::Param(index as u32),
                    derefs: vec![sk.offset_bits / 8],
                    offset: common.offset_bits / 8,
                    size: 0,
                },
                family: member(common_ty, "sock_common", "skc_family", 2)?,
                v4_port: member(common_ty, "sock_common", "skc_num", 2)?,
                v6_port: member(common_ty, "sock_common", "skc_num", 2)?,
                v4_addr: member(common_ty, "sock_common", "skc_rcv_saddr", 4)?,
                v6_addr: member(common_ty, "sock_common", "skc_v6_rcv_saddr", 16)?,
                port_network_order: false,
            })
        }
    }
}

/// A hook argument read as it is: an integer, or a `char *` for a kernel string.
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

/// The first few names of an enum, for help lines: "`SIGHUP`, `SIGINT`, `SIGQUIT`, ...".
fn example_names(kind: &catalog::EnumType) -> String {
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

/// How many bytes a fixed-size string attribute holds (`comm`: `TASK_COMM_LEN` 16 with the
/// NUL), or `None` for strings the kernel does not cut.
fn capacity(attr: &Attribute) -> Option<usize> {
    match attr.source {
        Source::CurrentComm | Source::TaskChars { .. } | Source::ParamChars { .. } => Some(15),
        _ => None,
    }
}

/// "`exec` has: path, filename, uid, ...", for help lines.
fn attribute_list(event: &Event) -> String {
    let names: Vec<&str> = event.attributes().map(|a| a.name).collect();
    format!("`{}` has: {}", event.name, names.join(", "))
}

/// The number of bits of `ip`'s family: a single address's prefix.
fn full_prefix(ip: std::net::IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

/// The range test for `ip/prefix`, an IPv4-mapped IPv6 range (`::ffff:0:0/96` and longer)
/// written as the IPv4 range it is, as values are.
fn cidr(ip: std::net::IpAddr, prefix: u8) -> Predicate {
    match ip {
        std::net::IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => Predicate::Cidr {
                addr: std::net::IpAddr::V4(v4),
                prefix: prefix - 96,
            },
            None => Predicate::Cidr { addr: ip, prefix },
        },
        _ => Predicate::Cidr { addr: ip, prefix },
    }
}

/// `attr OP value`, or `(attr & mask) OP value`.
fn int_predicate(mask: Option<u64>, op: IntOp, value: u64) -> Predicate {
    match mask {
        None => Predicate::Int { op, value },
        Some(mask) => Predicate::Masked { mask, op, value },
    }
}

fn flip(op: CmpOp) -> Option<CmpOp> {
    Some(match op {
        CmpOp::Eq => CmpOp::Eq,
        CmpOp::Ne => CmpOp::Ne,
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        CmpOp::In | CmpOp::Match | CmpOp::NotMatch => return None,
    })
}

fn article(ty: ValueType) -> &'static str {
    if ty.describe().starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The disjunction of `conds`; false for none.
fn any(conds: Vec<Cond>) -> Cond {
    conds
        .into_iter()
        .reduce(|a, b| Cond::Or(Box::new(a), Box::new(b)))
        .unwrap_or(Cond::Const(false))
}
