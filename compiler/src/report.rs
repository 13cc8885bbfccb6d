//! The report format: what a program reports when a rule denies or audits, and how user space
//! reads it back.
//!
//! Every report is one fixed-size record in the `krsi_events` ring buffer. The layout is the
//! program's own: a common header (rule, outcome, process), then the program's values (8 bytes
//! each, in IR order) and an excerpt of each string value. User space decodes a record with
//! the same [`RecordLayout`], computed from the same IR, so the two cannot drift apart.

use crate::ir::{Module, Program, ValueKind};
use std::ops::RangeInclusive;

/// The name of a program's one report function (bpf-to-bpf), which every reporting rule
/// calls with its index in r1: the offline machine reads the deciding rule there when the
/// refusing `exit` is shared by several rules.
pub const REPORT_FUNCTION: &str = "report";

/// The `BPF_MAP_TYPE_RINGBUF` every report goes to.
pub const EVENTS_MAP: &str = "krsi_events";
/// Ring size: a power of two, a multiple of the page size. At about 600 bytes a record it
/// holds a few hundred reports between two reads.
pub const EVENTS_RING_BYTES: u32 = 1 << 18;
/// Per-CPU counts of reports not sent (`BPF_MAP_TYPE_PERCPU_ARRAY` of u64), by reason.
pub const DROPS_MAP: &str = "krsi_drops";
/// Index in [`DROPS_MAP`]: the ring buffer was full.
pub const DROPPED_RING_FULL: u32 = 0;
/// Index in [`DROPS_MAP`]: the rule was over its rate.
pub const DROPPED_RATE_LIMITED: u32 = 1;
/// Per rule index and CPU: `{window start ns, reports in the window}`.
pub const RATE_MAP: &str = "krsi_rate";
/// Reports one rule may send per second on one CPU by default (`krsic load --report-rate`);
/// more are counted, not sent.
pub const REPORTS_PER_SECOND: u32 = 100;
/// How much of a string value a report carries.
pub const STRING_EXCERPT: u32 = 256;

/// Header offsets.
pub const RULE: u32 = 0;
pub const FLAGS: u32 = 4;
pub const ERRNO: u32 = 8;
/// An audit record carries no errno; with [`FLAG_AUDIT_RUN`] it holds here the index of the
/// last rule it stands for.
pub const LAST_RULE: u32 = ERRNO;
pub const PID: u32 = 12;
pub const TGID: u32 = 16;
pub const UID: u32 = 20;
pub const GID: u32 = 24;
pub const PARENT_TGID: u32 = 28;
pub const TIME_NS: u32 = 32;
pub const COMM: u32 = 40;
pub const PARENT_COMM: u32 = 56;
/// `bpf_get_current_cgroup_id`: the id of the process's cgroup v2, which user space turns
/// into its path and container id.
pub const CGROUP_ID: u32 = 72;
pub const HEADER: u32 = 80;

/// A port slot (copied into a report as it is) holds the port, below 65536, or one of these:
/// the socket has no port (not IPv4/IPv6), or reading it faulted.
pub const PORT_ABSENT: i32 = 0x1_0000;
pub const PORT_UNKNOWN: i32 = 0x2_0000;

/// An address slot holds the family of the 16 bytes in the value's buffer (the report's
/// excerpt): 4 (the first 4 bytes are an IPv4 address, the rest zero), 6, or one of these.
pub const ADDR_V4: i32 = 4;
pub const ADDR_V6: i32 = 6;
pub const ADDR_ABSENT: i32 = 0;
pub const ADDR_UNKNOWN: i32 = 0xff;

/// The operation was denied.
pub const FLAG_DENIED: u32 = 1;
/// A deny rule matched in audit mode: reported, not denied.
pub const FLAG_WOULD_DENY: u32 = 2;
/// An audit rule matched.
pub const FLAG_AUDIT: u32 = 4;
/// With [`FLAG_DENIED`]: a `kill` rule decided, and the process was sent SIGKILL. With
/// [`FLAG_WOULD_DENY`]: a `kill` rule matched in audit mode (`would-kill`).
pub const FLAG_KILL: u32 = 8;
/// With [`FLAG_AUDIT`]: the record stands for every audit rule from [`RULE`] to
/// [`LAST_RULE`], which all matched (an audit run's string could not be known, so it matches
/// each of them: `codegen`'s `audit_run`). One record instead of a report per rule keeps the
/// verifier's walk of the report function to one, however long the run. User space reads it
/// as the reports of those rules, each with [`FLAG_AUDIT`] alone ([`reported_rules`]).
pub const FLAG_AUDIT_RUN: u32 = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordLayout {
    pub size: u32,
    /// Per value: where its 8-byte slot (integer, flag, string length or -1) is copied; `None`
    /// for NUL-padded strings, which have no slot.
    pub slots: Vec<Option<u32>>,
    /// Per value: where its string excerpt is, and how long the excerpt area is.
    pub excerpts: Vec<Option<(u32, u32)>>,
}

pub fn layout(program: &Program) -> RecordLayout {
    let mut at = HEADER;
    let mut slots = Vec::new();
    for value in &program.values {
        if matches!(
            value.kind.layout_kind(),
            ValueKind::Comm | ValueKind::Chars(_)
        ) {
            slots.push(None);
        } else {
            slots.push(Some(at));
            at += 8;
        }
    }
    let mut excerpts = Vec::new();
    for value in &program.values {
        let len = match value.kind.layout_kind() {
            ValueKind::ResolvedPath(_)
            | ValueKind::KernelString(_)
            | ValueKind::WalkedPath(_)
            | ValueKind::WorkloadId(..)
            | ValueKind::CommandLine { .. } => Some(STRING_EXCERPT),
            ValueKind::Comm => Some(16),
            ValueKind::Chars(access) => Some(access.size.min(STRING_EXCERPT)),
            ValueKind::Addr(_) => Some(16),
            _ => None,
        };
        excerpts.push(len.map(|len| {
            let place = (at, len);
            at += len.div_ceil(8) * 8;
            place
        }));
    }
    RecordLayout {
        size: at,
        slots,
        excerpts,
    }
}

/// A decoded report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub rule: u32,
    pub flags: u32,
    pub errno: i32,
    pub pid: u32,
    pub tgid: u32,
    pub uid: u32,
    pub gid: u32,
    pub parent_tgid: u32,
    /// `bpf_ktime_get_ns`: CLOCK_MONOTONIC.
    pub time_ns: u64,
    /// `bpf_get_current_cgroup_id`: the process's cgroup v2 id.
    pub cgroup_id: u64,
    pub comm: String,
    pub parent_comm: String,
    /// Per program value, in IR order.
    pub values: Vec<ReportedValue>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportedValue {
    Int(u64),
    Bool(bool),
    Str {
        text: String,
        truncated: bool,
    },
    /// The program could not compute it (a path longer than its buffer).
    Unknown,
}

/// The program of `module` that holds rule `rule`.
pub fn program_of_rule(module: &Module, rule: u32) -> Option<&Program> {
    module.programs.iter().find(|p| {
        p.allow
            .iter()
            .chain(&p.deny)
            .chain(&p.audit)
            .any(|r| r.index == rule)
    })
}

fn u32_at(bytes: &[u8], at: u32) -> Option<u32> {
    let at = at as usize;
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: u32) -> Option<u64> {
    let at = at as usize;
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The rules a record reports, and the flags of each one's report: its own rule, or every
/// rule of an audit run ([`FLAG_AUDIT_RUN`], which the reports do not carry). `None` when the
/// header is short or names a run that ends before it starts.
pub fn reported_rules(bytes: &[u8]) -> Option<(RangeInclusive<u32>, u32)> {
    let (rule, flags) = (u32_at(bytes, RULE)?, u32_at(bytes, FLAGS)?);
    if flags & FLAG_AUDIT_RUN == 0 {
        return Some((rule..=rule, flags));
    }
    let last = u32_at(bytes, LAST_RULE)?;
    (rule <= last).then_some((rule..=last, flags & !FLAG_AUDIT_RUN))
}

/// Decodes a record into the reports it stands for (one, or one for each rule of an audit
/// run: [`reported_rules`]); `None` when it is not one of `module`'s (wrong size, unknown
/// rule).
pub fn decode<'m>(module: &'m Module, bytes: &[u8]) -> Option<(Vec<Report>, &'m Program)> {
    let (rules, flags) = reported_rules(bytes)?;
    let rule = *rules.start();
    let first = program_of_rule(module, rule)?;
    if !std::ptr::eq(program_of_rule(module, *rules.end())?, first) {
        return None;
    }
    // The programs of one event's hooks share their layout; their constants (lowering puts
    // them in every such program) say which one sent the record.
    let program = first;
    let layout = layout(program);
    if bytes.len() < layout.size as usize {
        return None;
    }
    let mut values = Vec::new();
    for (i, value) in program.values.iter().enumerate() {
        let slot = layout.slots[i].and_then(|at| u64_at(bytes, at));
        let excerpt =
            layout.excerpts[i].and_then(|(at, len)| bytes.get(at as usize..(at + len) as usize));
        values.push(match (&value.kind, slot, excerpt) {
            (ValueKind::Flag { .. }, Some(v), _) => ReportedValue::Bool(v != 0),
            (
                ValueKind::ResolvedPath(_)
                | ValueKind::KernelString(_)
                | ValueKind::WalkedPath(_)
                | ValueKind::WorkloadId(..)
                | ValueKind::CommandLine { .. },
                Some(len),
                Some(text),
            ) => {
                if len as i64 == -1 {
                    ReportedValue::Unknown
                } else {
                    let shown = (len as usize).min(text.len());
                    let mut text = text[..shown].to_vec();
                    // The program keeps the arguments apart with NULs; a report shows
                    // the line as `cmdline` means it, joined by spaces.
                    if matches!(value.kind, ValueKind::CommandLine { .. }) {
                        text = lang::cmdline::shown(&text);
                    }
                    ReportedValue::Str {
                        text: String::from_utf8_lossy(&text).into_owned(),
                        truncated: shown < len as usize,
                    }
                }
            }
            (ValueKind::Addr(_), Some(kind), Some(bytes)) => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&bytes[..16]);
                match kind as i64 {
                    k if k == i64::from(ADDR_V4) => ReportedValue::Str {
                        text: std::net::Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3])
                            .to_string(),
                        truncated: false,
                    },
                    k if k == i64::from(ADDR_V6) => ReportedValue::Str {
                        text: std::net::Ipv6Addr::from(octets).to_string(),
                        truncated: false,
                    },
                    // No address (not an IP socket), or it could not be read.
                    _ => ReportedValue::Unknown,
                }
            }
            (ValueKind::Port(_), Some(v), _) if v >= PORT_ABSENT as u64 => ReportedValue::Unknown,
            (ValueKind::Comm | ValueKind::Chars(_), _, Some(text)) => ReportedValue::Str {
                text: c_string(text),
                truncated: false,
            },
            (_, Some(v), _) => ReportedValue::Int(v),
            _ => ReportedValue::Unknown,
        });
    }
    let program = module
        .programs
        .iter()
        .filter(|p| p.event == first.event && p.values.len() == first.values.len())
        .find(|p| {
            p.values.iter().zip(&values).all(|(v, r)| match v.kind {
                ValueKind::Const(c) => *r == ReportedValue::Int(c),
                _ => true,
            })
        })
        .unwrap_or(first);
    let comm = c_string(bytes.get(COMM as usize..COMM as usize + 16)?);
    let parent_comm = c_string(bytes.get(PARENT_COMM as usize..PARENT_COMM as usize + 16)?);
    let report = Report {
        rule,
        flags,
        // An audit run's record holds its last rule there, not an errno.
        errno: match flags & FLAG_AUDIT {
            0 => u32_at(bytes, ERRNO)? as i32,
            _ => 0,
        },
        pid: u32_at(bytes, PID)?,
        tgid: u32_at(bytes, TGID)?,
        uid: u32_at(bytes, UID)?,
        gid: u32_at(bytes, GID)?,
        parent_tgid: u32_at(bytes, PARENT_TGID)?,
        time_ns: u64_at(bytes, TIME_NS)?,
        cgroup_id: u64_at(bytes, CGROUP_ID)?,
        comm,
        parent_comm,
        values,
    };
    let reports = rules
        .map(|rule| Report {
            rule,
            ..report.clone()
        })
        .collect();
    Some((reports, program))
}
