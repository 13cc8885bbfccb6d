//! The policy syntax tree, as written by the user, with a span on every node.
//!
//! Names are not resolved here: `write`, `privileged` and `world_writable` are all
//! [`ExprKind::Name`] until the checker decides whether each is an attribute, a macro or a list.

use crate::span::Span;

/// One policy file.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    List(ListDef),
    Macro(MacroDef),
    Rule(Rule),
    Test(TestCase),
    /// `policy NAME`
    PolicyName {
        name: Name,
        span: Span,
    },
    /// `mode audit` / `mode enforce`
    Mode {
        mode: Name,
        span: Span,
    },
}

/// `test EVENT { ATTRIBUTE: VALUE, ... } => allow | deny [ERRNO]`
#[derive(Clone, Debug, PartialEq)]
pub struct TestCase {
    pub event: Name,
    pub fields: Vec<(Name, Expr)>,
    pub expect: Expectation,
    pub expect_span: Span,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expectation {
    Allow,
    /// `deny`, optionally with the errno the deny must return.
    Deny(Option<Name>),
    /// `audit`: allowed, and reported by an audit rule.
    Audit,
    /// `kill`: refused and the process killed, optionally with the errno the refusal returns.
    Kill(Option<Name>),
}

/// An identifier, possibly dotted (`parent.comm`, `target.uid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// `list NAME = [ELEM, ...]`
#[derive(Clone, Debug, PartialEq)]
pub struct ListDef {
    pub name: Name,
    pub elements: Vec<Expr>,
    pub span: Span,
}

/// `macro NAME = EXPR`
#[derive(Clone, Debug, PartialEq)]
pub struct MacroDef {
    pub name: Name,
    pub body: Expr,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Deny,
    Allow,
    Audit,
    /// A deny that also sends SIGKILL to the process that asked.
    Kill,
}

impl Action {
    pub fn keyword(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::Allow => "allow",
            Action::Audit => "audit",
            Action::Kill => "kill",
        }
    }

    /// Whether a matching rule refuses the operation (`deny`, `kill`): such rules decide
    /// together, first match first, and an `allow` rule overrides them.
    pub fn refuses(self) -> bool {
        matches!(self, Action::Deny | Action::Kill)
    }
}

/// `ACTION EVENT [where EXPR] [errno NAME]`
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub action: Action,
    pub action_span: Span,
    pub event: Name,
    pub condition: Option<Expr>,
    pub errno: Option<Name>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `x in LIST`: any element equals x.
    In,
    /// `x ~ GLOB` or `x ~ LIST`: the glob (any glob of the list) matches.
    Match,
    /// `x !~ GLOB`: no glob matches.
    NotMatch,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::In => "in",
            CmpOp::Match => "~",
            CmpOp::NotMatch => "!~",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare {
        op: CmpOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `a & b`: bitwise and; binds tighter than comparisons, so `mode & 0o6000 != 0` is
    /// `(mode & 0o6000) != 0`.
    BitAnd(Box<Expr>, Box<Expr>),
    /// An attribute, macro or list name; resolved by the checker.
    Name(Name),
    /// An integer literal as written (decimal, `0x`, `0o`); the value is parsed by the
    /// parser, which reports literals that do not fit in 64 bits.
    Int(u64),
    /// A string literal with escapes already processed.
    Str(String),
    /// An inline list `[a, b, c]`.
    List(Vec<Expr>),
    /// `true` / `false`.
    Bool(bool),
    /// An IP address with its prefix length (32 or 128 for a single address), checked by
    /// the parser: the prefix fits the address and no bit past it is set.
    Addr(std::net::IpAddr, u8),
}
