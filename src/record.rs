//! The record krsic keeps beside a pinned policy: what `krsic list` shows, and what `krsic
//! follow` needs to turn the pinned ring buffer's reports back into JSON lines (the policy's
//! source and the options it was compiled with, so that it can be compiled again to the same
//! program).
//!
//! The runtime stores it as opaque bytes; this is its JSON form.

use compiler::ir::{Mode, Scope};
use runtime::ProgramTarget;
use serde_json::{json, Value};
use std::fmt;

/// `krsic` and its version, as records and reports name the compiler.
pub const COMPILER: &str = concat!("krsic ", env!("CARGO_PKG_VERSION"));

#[derive(Clone, Debug, PartialEq)]
pub struct PolicyRecord {
    pub name: String,
    /// The file given to `krsic load`, absolute when it could be made so.
    pub file: String,
    /// SHA-256 of the file's bytes (the policy source or the object), in hex.
    pub sha256: String,
    pub compiler: String,
    /// Nanoseconds since the Unix epoch.
    pub loaded_at_ns: i128,
    pub mode: Mode,
    pub cgroup: Option<String>,
    pub report_rate: Option<u32>,
    pub programs: Vec<ProgramTarget>,
    /// The policy source; `None` for an object loaded as built.
    pub source: Option<String>,
}

impl PolicyRecord {
    pub fn to_bytes(&self) -> Vec<u8> {
        let programs: Vec<Value> = self
            .programs
            .iter()
            .map(|p| json!({ "symbol": p.symbol, "hook": p.hook }))
            .collect();
        json!({
            "name": self.name,
            "file": self.file,
            "sha256": self.sha256,
            "compiler": self.compiler,
            // A string: JSON numbers lose precision past 2^53.
            "loaded_at_ns": self.loaded_at_ns.to_string(),
            "mode": mode_name(self.mode),
            "cgroup": self.cgroup,
            "report_rate": self.report_rate,
            "programs": programs,
            "source": self.source,
        })
        .to_string()
        .into_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<PolicyRecord, RecordError> {
        let value: Value = serde_json::from_slice(bytes).map_err(RecordError::Unreadable)?;
        let text = |key: &'static str| -> Result<String, RecordError> {
            value[key]
                .as_str()
                .map(str::to_string)
                .ok_or(RecordError::Missing(key))
        };
        let mode = match text("mode")?.as_str() {
            "audit" => Mode::Audit,
            "enforce" => Mode::Enforce,
            other => return Err(RecordError::UnknownMode(other.to_string())),
        };
        let programs = value["programs"]
            .as_array()
            .ok_or(RecordError::Missing("programs"))?
            .iter()
            .map(|p| {
                Some(ProgramTarget {
                    symbol: p["symbol"].as_str()?.to_string(),
                    hook: p["hook"].as_str()?.to_string(),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(RecordError::MalformedPrograms)?;
        Ok(PolicyRecord {
            name: text("name")?,
            file: text("file")?,
            sha256: text("sha256")?,
            compiler: text("compiler")?,
            loaded_at_ns: text("loaded_at_ns")?
                .parse()
                .map_err(|_| RecordError::LoadTimeNotANumber)?,
            mode,
            cgroup: value["cgroup"].as_str().map(str::to_string),
            report_rate: value["report_rate"]
                .as_u64()
                .and_then(|r| u32::try_from(r).ok()),
            programs,
            source: value["source"].as_str().map(str::to_string),
        })
    }

    /// The scope the policy was compiled for.
    pub fn scope(&self) -> Scope {
        if self.cgroup.is_some() {
            Scope::Cgroup
        } else {
            Scope::Global
        }
    }
}

/// Why a pinned policy's record does not read back.
#[derive(Debug)]
pub enum RecordError {
    /// Not JSON at all.
    Unreadable(serde_json::Error),
    /// A field every record has is missing.
    Missing(&'static str),
    UnknownMode(String),
    MalformedPrograms,
    LoadTimeNotANumber,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Unreadable(error) => write!(f, "unreadable record: {error}"),
            RecordError::Missing(key) => write!(f, "the record has no `{key}`"),
            RecordError::UnknownMode(mode) => write!(f, "the record's mode `{mode}` is unknown"),
            RecordError::MalformedPrograms => f.write_str("the record's `programs` are malformed"),
            RecordError::LoadTimeNotANumber => {
                f.write_str("the record's `loaded_at_ns` is not a number")
            }
        }
    }
}

impl std::error::Error for RecordError {}

pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Enforce => "enforce",
        Mode::Audit => "audit",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_survives_its_bytes() {
        let record = PolicyRecord {
            name: "no-tmp-exec".into(),
            file: "/etc/krsi/no-tmp-exec.krsi".into(),
            sha256: "ab".repeat(32),
            compiler: COMPILER.into(),
            loaded_at_ns: 1_795_000_000_123_456_789,
            mode: Mode::Audit,
            cgroup: Some("/sys/fs/cgroup/app".into()),
            report_rate: Some(7),
            programs: vec![ProgramTarget {
                symbol: "krsi_exec".into(),
                hook: "bprm_check_security".into(),
            }],
            source: Some("deny exec where path ~ \"/tmp/**\"\n".into()),
        };
        let read = PolicyRecord::from_bytes(&record.to_bytes()).expect("reads back");
        assert_eq!(read, record);
    }

    #[test]
    fn malformed_records_are_errors_not_panics() {
        for bytes in [&b""[..], b"{}", b"[1]", b"{\"mode\":\"sideways\"}", b"\xff"] {
            assert!(PolicyRecord::from_bytes(bytes).is_err(), "{bytes:?}");
        }
    }
}
