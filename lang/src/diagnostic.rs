//! Diagnostics as data: a stable code, a severity, a message, spans, and an optional help line.
//!
//! Every code is declared once in `codes!`; its doc comment is its documentation, served by
//! `krsic explain CODE` and the book. Messages follow Cedar's style: lower case, no final period,
//! user input in backticks.

use crate::span::Span;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $name:ident = $code:literal, $severity:ident; )*) => {
        /// A stable diagnostic code. Codes are never reused or renumbered.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( $(#[doc = $doc])* $name, )*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$name),*];

            /// The code as users see it, e.g. `E0101`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$name => $code,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$name => Severity::$severity,)* }
            }

            /// The documentation of this code: its doc comment.
            pub fn explanation(self) -> String {
                let lines: &[&str] = match self { $(Code::$name => &[$($doc),*],)* };
                // Doc comments arrive with the space after `///`; drop exactly that.
                lines
                    .iter()
                    .map(|l| l.strip_prefix(' ').unwrap_or(l))
                    .collect::<Vec<_>>()
                    .join("\n")
            }

            pub fn parse(text: &str) -> Option<Code> {
                Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(text))
            }
        }
    };
}

codes! {
    /// The policy text does not follow the grammar.
    ///
    /// A policy is a sequence of `list`, `macro` and rule items:
    ///
    /// ```text
    /// list shells = ["/bin/sh", "/bin/bash"]
    /// macro privileged = uid == 0
    /// deny exec where path in shells and not privileged
    /// ```
    ///
    /// The label points at the first token the parser could not accept and names what it
    /// expected there.
    Syntax = "E0001", Error;

    /// A string literal contains an escape sequence krsi does not know.
    ///
    /// Strings accept `\\`, `\"`, `\n`, `\t`, `\0` and `\xHH` (two hex digits).
    BadEscape = "E0002", Error;

    /// An integer literal does not fit in 64 bits.
    ///
    /// Integer attributes (`uid`, `pid`, ...) are at most 64 bits wide; a literal beyond
    /// `18446744073709551615` can never equal one of them.
    IntegerTooLarge = "E0003", Error;

    /// The policy file is not valid UTF-8 or is too large to be a policy.
    BadSource = "E0004", Error;

    /// A rule names an event krsi does not know.
    ///
    /// Each event names an LSM hook: `exec` is `bprm_check_security`, `open` is `file_open`.
    /// `krsic events` lists every event with its attributes.
    UnknownEvent = "E0101", Error;

    /// A name in a condition is neither an attribute of the rule's event, nor a macro, nor a list.
    ///
    /// Attributes depend on the event: `read` and `write` exist on `open`, `filename` on `exec`.
    /// Lists and macros must be defined in the same file, before or after their use.
    UnknownName = "E0102", Error;

    /// An attribute exists, but not on the rule's event.
    ///
    /// For example `filename` (the path as the caller passed it to `execve`) exists only on
    /// `exec`, and `write` only on `open`.
    AttributeNotOnEvent = "E0103", Error;

    /// Two lists or macros share a name.
    DuplicateDefinition = "E0104", Error;

    /// A macro refers to itself, directly or through other macros.
    ///
    /// Macros are expanded where they are used, so a cycle would never end.
    RecursiveMacro = "E0105", Error;

    /// A rule names an errno krsi does not know.
    ///
    /// `errno` takes a name from `errno(3)` such as `EPERM` (the default) or `EACCES`.
    UnknownErrno = "E0106", Error;

    /// An `errno` clause on a rule that never denies.
    ///
    /// Only `deny` and `kill` rules return an error to the caller; `allow` and `audit` rules
    /// cannot carry an errno.
    ErrnoOnNonDeny = "E0107", Error;

    /// The header is out of place or repeated.
    ///
    /// A policy may start with `policy NAME` (its name in reports and for pinning; without it
    /// the file's stem is used), then `mode audit` or `mode enforce`. Both come before any
    /// list, macro, rule or test, once each.
    MisplacedHeader = "E0108", Error;

    /// `mode` takes `audit` or `enforce`.
    ///
    /// `mode enforce` (the default) makes deny rules deny; `mode audit` makes them report what
    /// they would deny and allow, to try a policy before enforcing it. `krsic load --mode`
    /// overrides the header.
    UnknownMode = "E0109", Error;

    /// The rules of one event are too large to compile into one BPF program.
    ///
    /// Each event becomes one program, and a BPF branch reaches at most 32,767 instructions.
    /// krsi estimates the code each rule needs (a glob's automaton, each reported rule's report)
    /// and refuses an event whose rules would not fit. Merge rules with lists (`path ~ LIST`
    /// shares one automaton per glob, not one rule each), or split the policy into several.
    /// Globs that each begin with a literal no other glob's starts with (`/srv/app1/bin/*`,
    /// `/srv/app2/bin/*`, ...: every glob on the path, or eight or more) hardly grow the automaton: the program finds the
    /// one such glob a string can match by that literal, and merges only what follows it, so
    /// a thousand of them fit where a few hundred globs sharing their start do not.
    /// Consecutive rules on one path are decided together, whether they are exact paths,
    /// directories (`/dir/**`) or globs in any order, as long as no path can match two rules of
    /// different kinds: `/srv/app1/bin/tool`, `/srv/app2/**` and `/srv/app3/bin/t*l` do not,
    /// `/srv/**` would match all three. Such a rule between others keeps them from being
    /// decided together; where the first match it decides may move, place it before or after
    /// them. Their other tests count too: rules in turn with the same cheap tests beside the
    /// path (`and uid != 0`, in any order) are decided together behind one test of them, and a
    /// rule with other ones (`and uid != 5`) ends such a group and starts the next.
    ///
    /// A program also keeps what its rules read: each string in 32 KiB of scratch memory
    /// (4 KiB for a path, a file name, an executable or a workload id, 8 KiB for a command
    /// line, and about 5 KiB once for the walk that builds walked paths), and each value in
    /// one of 59 stack slots (a string that globs test takes two more, and `ancestor.comm` or
    /// `ancestor.exe` is a value for each level of the lineage). An event whose rules read
    /// more is refused at the rule that first needs more; move the rules that read the rarer
    /// attributes into a policy of their own.
    EventTooLarge = "E0207", Error;

    /// The two sides of a comparison have types that cannot be compared.
    ///
    /// Integers compare with integers, strings and paths with strings, booleans are used
    /// on their own (`write`, `not write`).
    TypeMismatch = "E0201", Error;

    /// An operator is used on a type it does not apply to.
    ///
    /// `< <= > >=` take integers; `~` and `!~` take a string or path on the left and a glob
    /// (or a list of globs) on the right; `in` takes a list on the right.
    ///
    /// Two attributes compare with each other only when both are integers, unmasked:
    /// `new.uid != uid`, `owner.uid == uid`. An integer and a string attribute, or two
    /// strings, enums or addresses, are refused with this code.
    ///
    /// `ancestor.comm` takes `==`, `in` and `~`, which hold when any ancestor matches; `!=` and
    /// `!~` would hold when some ancestor does not, which nearly every process has. Write
    /// `not ancestor.comm == "x"` for "no ancestor is x", `not ancestor.comm ~ "x*"` for "no
    /// ancestor's name matches".
    BadOperator = "E0202", Error;

    /// A condition is not a boolean.
    ///
    /// `where uid` does not say what to test; write `where uid == 0`. Boolean attributes such
    /// as `write` stand on their own.
    NotBoolean = "E0203", Error;

    /// A list mixes element types, or holds something that is not a literal.
    ///
    /// List elements are string or integer literals, all of one type.
    BadListElement = "E0204", Error;

    /// A glob pattern is malformed.
    ///
    /// Globs use `*` (any run of characters except `/`), `**` (any run, `/` included), `?`
    /// (one character except `/`), `[a-z]` or `[!a-z]` (a class) and `{a,b}` (alternatives).
    /// Brackets and braces must be closed and must not be empty; `\` escapes the next
    /// character. `/**/` also matches a single `/` and a leading `**/` also matches nothing;
    /// the patterns braces and those readings stand for are limited to 64.
    BadGlob = "E0205", Error;

    /// A list appears where a single value is needed, or a value where a list is needed.
    ///
    /// Lists appear on the right of `in`, `~` and `!~`.
    ListMisuse = "E0206", Error;

    /// The target kernel has no LSM hook for this event.
    ///
    /// krsi checks every event against the target kernel's BTF (`/sys/kernel/btf/vmlinux`,
    /// or the file given with `--btf`). A hook added in a later kernel cannot be used on an
    /// older one.
    HookMissing = "E0301", Error;

    /// A name compared with an enum attribute is not one of that enum's names.
    ///
    /// Attributes such as `sig` (a signal) and `cap` (a capability) take the kernel's names
    /// for their values, spelled as in the kernel's headers:
    ///
    /// ```text
    /// deny kill where sig == SIGKILL
    /// deny capable where cap in [CAP_SYS_MODULE, CAP_SYS_RAWIO] and uid != 0
    /// ```
    ///
    /// `krsic events` lists each attribute's type; the help line suggests the closest name.
    UnknownEnumValue = "E0210", Error;

    /// An enum attribute is compared with something that is not one of its names: an
    /// integer, a string, or a name of another enum.
    ///
    /// `sig == 9` is refused because numbers differ between architectures and hide typos;
    /// write `sig == SIGKILL`. A name of another enum (`cap == SIGKILL`) can never match.
    EnumMismatch = "E0211", Error;

    /// An address literal is malformed, its prefix length does not fit, or it has bits set
    /// past its prefix.
    ///
    /// Addresses are written as IPv4 (`127.0.0.1`) or IPv6 (`::1`, `fe80::1`), optionally
    /// with a CIDR prefix length: `10.0.0.0/8`, `fd00::/8`. A range must name its network:
    /// `10.0.0.1/8` is refused, write `10.0.0.0/8` (or `10.0.0.1` for the one address).
    BadAddress = "E0212", Error;

    /// A `test` item describes an event no kernel produces.
    ///
    /// A test proves something only about events that can happen: a path the kernel resolves
    /// is absolute (`bpf_d_path` gives `/etc/passwd`, never `etc/passwd`), a path the program
    /// walks has no empty component and no `/` at the end, and a socket that is neither
    /// `inet` nor `inet6` has no address and no port (an `inet` socket no IPv6 address), an
    /// exec has at least one argument, and a number fits the kernel's field (`uid` is 32 bits,
    /// a file's `mode` 16).
    ImpossibleTestEvent = "E0213", Error;

    /// A `deny` or `allow` rule tests the command line of an exec (`cmdline`, `argv[i]`,
    /// `argv`).
    ///
    /// The command line is read on `bprm_committing_creds`, after the kernel's point of no return:
    /// before it, the arguments at `bprm->p` are the caller's memory, which another thread can
    /// rewrite after the check. There the exec can no longer fail with an errno, so a `deny`
    /// cannot be honoured, and an `allow` on it would except rules decided before it was
    /// known. Use `kill` (the process dies by SIGKILL before the new program's first
    /// instruction) or `audit` (report and let it run).
    LateDecision = "E0214", Error;

    /// A rule decided on `bprm_committing_creds` tests a process attribute that has changed
    /// there.
    ///
    /// The rules on an exec's `cmdline`, and the policy's `allow exec` rules with them, run
    /// after `begin_new_exec` gave the task the new program's name (`comm`), executable
    /// (`exe`) and, for a caller that was not its process's main thread, the main thread's id
    /// (`pid`): they would test the new program, not the caller. Test `path` (the new
    /// program) or `parent.comm`, `tgid`, `uid` (unchanged), or move the test to a rule
    /// without `cmdline`.
    MovedAtCommit = "E0215", Error;

    /// A test names an argument of an exec past those the program reads.
    ///
    /// `argv[i]` is argument `i` (`argv[0]` is usually the program's name), read from the
    /// new program's memory with the command line: the program joins at most 32 arguments
    /// (`argv[0]` to `argv[31]`), so a higher index could never be known. Test a lower index,
    /// or test the count (`argc > 32`) or `cmdline`, which are unknown (a `kill` or `audit`
    /// rule on them matches) past 32 arguments.
    ArgumentIndex = "E0216", Error;

    /// The target kernel's types do not have what an attribute needs.
    ///
    /// Each attribute is read by following hook arguments and struct members (for `path` on
    /// `exec`: `bprm->file->f_path`). The target kernel's BTF lacks one of them or gives it
    /// another type, so this attribute cannot be read on that kernel.
    AccessPathInvalid = "E0302", Error;

    /// The target kernel's types do not say how to walk a path.
    ///
    /// On most hooks a program may not call `bpf_d_path` (the kernel allows it only on its
    /// sleepable LSM hooks, and no `path_*` hook is one), so krsi computes those paths, and
    /// `exe` everywhere, by walking dentries: `dentry->d_parent` and `d_name` up to the root of
    /// the mount, then `struct mount`'s `mnt_mountpoint` and `mnt_parent` to the mount below,
    /// up to the root of the mount namespace. Every offset comes from the target kernel's BTF;
    /// this kernel's BTF lacks one of those structs or members (the note says which), so no
    /// walked path can be computed on it. Attributes that do not need a walk still work.
    PathWalkUnavailable = "E0303", Error;

    /// The kernel verifier rejected the program compiled from this rule.
    ///
    /// krsi keeps a table from each BPF instruction to the rule it came from; the label points
    /// at the rule whose code the verifier stopped at, and the note quotes the verifier. A
    /// policy that checks cleanly should always verify: this is worth a bug report, with the
    /// policy and `krsic build --emit asm` output attached.
    VerifierRejected = "E0401", Error;

    /// A deny pattern ends in `/*`, which matches only direct children.
    ///
    /// `*` does not cross `/`: `"/tmp/*"` matches `/tmp/a` but not `/tmp/a/b`. To cover a
    /// whole tree, write `"/tmp/**"`.
    ShallowDenyGlob = "W0001", Warning;

    /// A list or macro is defined but never used.
    Unused = "W0002", Warning;

    /// A string can never equal the attribute it is compared with, because it is longer than
    /// the kernel keeps or the program reads.
    ///
    /// `comm` holds at most 15 bytes (the kernel's `TASK_COMM_LEN` is 16, with the NUL), so
    /// `comm == "a-very-long-name"` never matches. Compare with the first 15 bytes. The same
    /// holds for a glob whose every match is longer: `comm ~ "systemd-networkd-*"` (17 bytes
    /// at least) never matches; `comm ~ "systemd-network*"` does.
    ///
    /// The same holds for a string the program reads into its buffer: a path of more than
    /// 4,095 bytes (`PATH_MAX` is 4,096 with the NUL), or a kernel string such as `filename`
    /// of more than 4,094, is never read, so no literal that long equals one. A value too long
    /// to read is unknown, and a rule acts on it as on any value it cannot read (a deny rule
    /// refuses, an allow rule does not match), whatever it compares; a resolved `path` too
    /// long to read equals no literal, so `==` on it is simply false.
    StringNeverFits = "W0003", Warning;

    /// A rule's condition is never true, so the rule never matches an event the program can
    /// read (a deny rule still fails closed on a path too long to read).
    ///
    /// Its comparisons contradict each other: `uid == 0 and uid == 1`, `uid < 10 and uid > 20`,
    /// `path == "/bin/sh" and path ~ "/usr/**"`. The labels point at two comparisons that cannot
    /// hold together when krsi can name them. A comparison that is never true on its own is
    /// `W0007` instead. Usually the comparisons were meant to be joined with `or`, or a value
    /// is mistyped.
    NeverTrue = "W0004", Warning;

    /// A deny rule never denies, because an allow rule matches every event it matches.
    ///
    /// Allow rules win over deny rules of the same event, whatever their order:
    ///
    /// ```text
    /// allow exec where uid == 0
    /// deny exec where uid == 0 and path ~ "/tmp/**"   # never denies
    /// ```
    ///
    /// `allow exec` without a condition makes every `deny exec` rule dead. The label points
    /// at the allow rule (or rules, when only several together cover the deny rule). Deny
    /// rules *fail closed* on values the program cannot read (a path longer than `PATH_MAX`)
    /// and allow rules do not, so krsi only warns when the deny rule never decides even then:
    /// `allow exec where path == "/x"` does not make `deny exec where path == "/x"` dead.
    ShadowedByAllow = "W0005", Warning;

    /// Two rules with the same action on the same event match exactly the same events.
    ///
    /// The conditions may be written differently (`uid == 0 and euid == 0` and `euid == 0 and
    /// uid == 0`, `uid <= 0` and `uid == 0`): krsi compares what they match. One of them is
    /// redundant; for deny rules with different errnos, the earlier rule's errno is the one
    /// returned.
    DuplicateRule = "W0006", Warning;

    /// A comparison is always true or always false, whatever the event.
    ///
    /// Integer attributes are unsigned and have a width: `uid` and `gid` are 32-bit, so
    /// `uid < 0` is never true, `uid >= 0` always, and `uid == 4294967296` never. A masked
    /// value has only the mask's bits: `(mode & 0o7) > 7` is never true, and
    /// `flags & 0x4 == 0x8` never. An attribute compared with itself (`uid == uid`) and the
    /// glob `**` (which matches every string) do not depend on the event either.
    ConstantComparison = "W0007", Warning;

    /// A deny rule would lock the administrator out.
    ///
    /// Some events are how an administrator repairs a system, and denying every one of them to
    /// root leaves no way back short of a reboot: `exec` (no shell, no `sudo`), `open`, `bpf`
    /// (`krsic unload` and bpftool need it), `kill`, `setuid` (`su`, `sudo`, sshd) and
    /// `capable`. krsi warns when a deny rule on one of these events matches every such event
    /// of a process with `uid == 0` and `euid == 0`, whatever its other attributes (`deny
    /// exec`, `deny open where uid < 1000`), and no allow rule of the event can let any of them
    /// through. Policies in `mode audit` only report, so they get no warning. Exempt root
    /// (`and uid != 0`), or add an `allow` rule for what root needs.
    LocksOutAdministrator = "W0008", Warning;

    /// A rule's condition is always true, so `where` does not narrow the rule.
    ///
    /// Its comparisons cover every case together: `write or not write`, `uid < 1000 or
    /// uid >= 100`. The rule applies to every event of its kind, which is rarely what the
    /// condition was written for; if it is, drop the condition. A comparison that is always
    /// true on its own is `W0007` instead.
    AlwaysTrue = "W0009", Warning;

    /// A glob on an exec's command line or arguments has a `*`, which stops at `/`.
    ///
    /// As everywhere, `*` matches a run of characters except `/`; command lines are full of
    /// `/` (the program's path, file arguments, URLs), so `cmdline ~ "*--donate-level*"`
    /// misses `/usr/bin/xmrig --donate-level 1` and `argv ~ "--url=*"` misses
    /// `--url=stratum+tcp://pool`. Write `**` for any run of characters (on `argv` it still
    /// stays inside one argument). If `*` is meant, `[!/]*`-style classes say so without
    /// this warning.
    StarOnArguments = "W0010", Warning;

}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The help text that offers `replacement`.
pub fn did_you_mean(replacement: &str) -> String {
    format!("did you mean `{replacement}`?")
}

/// A labelled span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
    /// What the help's "did you mean `x`?" offers in place of the primary span, kept as data
    /// for editors' quick fixes (`krsic lsp`).
    pub suggestion: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
            suggestion: None,
        }
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn with_label(mut self, message: impl Into<String>) -> Diagnostic {
        self.primary.message = message.into();
        self
    }

    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// [`Self::with_help`] when `when` holds.
    pub fn with_help_if(self, when: bool, help: impl Into<String>) -> Diagnostic {
        if when {
            self.with_help(help)
        } else {
            self
        }
    }

    /// The help "did you mean `replacement`?", offering `replacement` for the primary span.
    pub fn with_suggestion(mut self, replacement: &str) -> Diagnostic {
        self.help = Some(did_you_mean(replacement));
        self.suggestion = Some(replacement.to_string());
        self
    }

    /// [`Diagnostic::with_suggestion`] when there is a suggestion, else `otherwise` as the help.
    pub fn with_suggestion_or(
        self,
        suggestion: Option<&str>,
        otherwise: impl FnOnce() -> String,
    ) -> Diagnostic {
        match suggestion {
            Some(replacement) => self.with_suggestion(replacement),
            None => self.with_help(otherwise()),
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
}

/// The kernel verifier refused a program ([`Code::VerifierRejected`]), as data; rendered by
/// [`VerifierRejection::diagnostic`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierRejection {
    /// The program's symbol in the object.
    pub symbol: String,
    /// The verifier's message ([`verifier_message`]).
    pub message: String,
    /// The instruction the verifier stopped at, when its log says.
    pub instruction: Option<usize>,
    /// The rule that instruction was compiled from, when the compiler knows it.
    pub rule: Option<Span>,
    /// The log's `processed N insns ...` line, for a rejection located nowhere.
    pub statistics: Option<String>,
}

impl VerifierRejection {
    pub fn diagnostic(&self) -> Diagnostic {
        let mut d = Diagnostic::new(
            Code::VerifierRejected,
            format!("the kernel verifier rejected program `{}`", self.symbol),
            self.rule.unwrap_or_default(),
        )
        .with_note(format!("verifier: {}", self.message));
        if let Some(slot) = self.instruction {
            d = d.with_note(format!(
                "at instruction {slot}; `krsic build --emit asm` shows the program"
            ));
        }
        if let Some(statistics) = &self.statistics {
            d = d.with_note(format!("verifier: {statistics}"));
        }
        if self.rule.is_some() {
            d = d.with_label("the verifier stopped in the code of this rule");
        }
        d
    }
}

/// Turns the kernel verifier's log for program `symbol` into a diagnostic. The log's last
/// `N: (..)` line names the instruction the verifier stopped at; `rule_at` gives the span of
/// the rule that instruction was compiled from, when the compiler knows it.
pub fn verifier_rejected(
    symbol: &str,
    log: &str,
    rule_at: impl Fn(usize) -> Option<Span>,
) -> Diagnostic {
    let instruction = verifier_trace(log).last().copied();
    VerifierRejection {
        symbol: symbol.to_string(),
        message: verifier_message(log),
        instruction,
        rule: instruction.and_then(&rule_at),
        statistics: None,
    }
    .diagnostic()
}

/// The instructions an instruction-level verifier log shows the verifier walking, in order
/// (its `N: (op) ...` lines).
pub fn verifier_trace(log: &str) -> Vec<usize> {
    log.lines()
        .filter_map(|line| {
            line.split_once(": (")
                .and_then(|(n, _)| n.trim().parse::<usize>().ok())
        })
        .collect()
}

/// The verifier's message in its log: the last line that is not an instruction or one of the
/// statistics lines the kernel appends (`processed ...`, `stack depth`, `verification time`,
/// the `func '...'` argument types).
pub fn verifier_message(log: &str) -> String {
    log.lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("stack depth")
                && !l.starts_with("verification time")
                && !l.starts_with("func '")
                && !l.contains(": (")
        })
        .unwrap_or("no verifier message")
        .to_string()
}

/// `did you mean ...?` help: the closest candidate by edit distance, if it is close enough
/// to be a plausible typo.
pub fn suggest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wrong.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(wrong, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions, the most
/// common typo (`opne`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_documented_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {code}");
            assert!(!code.explanation().trim().is_empty(), "{code} has no doc");
            assert_eq!(Code::parse(code.as_str()), Some(*code));
        }
    }

    #[test]
    fn suggestions_are_close_typos_only() {
        assert_eq!(suggest("opne", ["open", "exec"]), Some("open"));
        assert_eq!(suggest("exce", ["open", "exec"]), Some("exec"));
        assert_eq!(suggest("kmod", ["open", "exec"]), None);
    }
}
