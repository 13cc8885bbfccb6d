//! What stops a krsic command, as data. `main` prints it once, as `error: {error}`; a policy's
//! own errors are diagnostics instead, reported where they are found.

use crate::record::RecordError;
use crate::target::KERNEL_BTF;
use compiler::bpf::DecodeError;
use compiler::btf::BtfError;
use compiler::codegen::{GATE_MAP, VERSION_MAP};
use compiler::elf::ElfError;
use compiler::CompileError;
use runtime::RuntimeError;
use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// A file named on the command line could not be read.
    Read {
        path: PathBuf,
        error: io::Error,
    },
    /// The output file could not be written.
    Write {
        path: PathBuf,
        error: io::Error,
    },
    /// The running kernel's BTF could not be read (no `--btf` was given).
    KernelBtf(io::Error),
    /// The file given with `--btf` is neither raw BTF nor an ELF file with usable `.BTF`.
    NotBtf {
        path: PathBuf,
        error: BtfError,
    },
    /// The file is not an object krsic could have written.
    NotAnObject {
        path: PathBuf,
        error: ElfError,
    },
    /// An object's program is in a section the runtime cannot attach.
    NotAnLsmProgram {
        symbol: String,
        section: String,
    },
    /// An object's program does not disassemble.
    Disassembly {
        symbol: String,
        error: DecodeError,
    },
    /// `--mode` or `--report-rate` given with a built object.
    ObjectOptionsFixed,
    /// An object without the version gate's data sections: built by a krsic from before
    /// they were, or not by krsic. Loaded, an older krsic's programs would never decide
    /// (their gate is a map the runtime no longer arms), and another tool's could not be
    /// pinned or replaced.
    ObjectWithoutGate {
        path: PathBuf,
    },
    /// A foreground load of a policy whose name a pinned policy holds.
    PinnedNameTaken {
        name: String,
    },
    /// A diagnostic code `krsic explain` does not know.
    UnknownCode(String),
    /// `krsic man` could not write its pages.
    ManPages {
        dir: PathBuf,
        error: io::Error,
    },
    /// The language server's connection failed (the client broke the protocol or went away
    /// before initialising).
    LanguageServer(String),
    /// `krsic build --attach task-file-iter` on a policy with rules of another event than
    /// `open`.
    NotIterable {
        program: String,
    },
    /// A bug in krsic: the checker accepted what the back end cannot compile.
    Internal(CompileError),
    /// A pinned policy's record does not read back.
    Record(RecordError),
    Runtime(RuntimeError),
    /// SIGINT and SIGTERM could not be blocked, so an early one could kill krsic with
    /// programs attached.
    BlockSignals,
    WaitForSignals(io::Error),
    WaitForReports(io::Error),
    /// The per-CPU drop counters failed while reports were streamed.
    DropCounters(RuntimeError),
    /// `krsic serve` cannot watch its directory.
    Watch {
        dir: PathBuf,
        error: io::Error,
    },
    /// `krsic serve --metrics ADDR` cannot listen there.
    Metrics {
        addr: String,
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { path, error } => write!(f, "cannot read `{}`: {error}", path.display()),
            Error::Write { path, error } => {
                write!(f, "cannot write `{}`: {error}", path.display())
            }
            Error::KernelBtf(error) => write!(
                f,
                "cannot read the running kernel's BTF at {KERNEL_BTF} ({error}); krsi needs a kernel \
                 built with CONFIG_DEBUG_INFO_BTF=y, or a BTF file given with `--btf FILE`"
            ),
            Error::NotBtf { path, error } => {
                write!(f, "`{}` is not usable BTF: {error}", path.display())
            }
            Error::NotAnObject { path, error } => {
                write!(f, "`{}` is not a krsi object: {error}", path.display())
            }
            Error::NotAnLsmProgram { symbol, section } => write!(
                f,
                "program `{symbol}` is in section `{section}`, not an LSM section: only an object \
                 built without `--attach` (or with `--attach lsm`) can be loaded to enforce"
            ),
            Error::Disassembly { symbol, error } => write!(f, "{symbol}: {error}"),
            Error::ObjectWithoutGate { path } => write!(
                f,
                "`{}` has no version gate (`{GATE_MAP}`, `{VERSION_MAP}`): it was built by an \
                 older krsic, or not by krsic; rebuild it from its policy with `krsic build`",
                path.display()
            ),
            Error::ObjectOptionsFixed => f.write_str(
                "an object's mode and report rate are fixed when it is built: load the policy source to change them",
            ),
            Error::PinnedNameTaken { name } => write!(
                f,
                "a policy named `{name}` is pinned and enforced; replace it with `krsic load --pin`, \
                 lift it with `krsic unload {name}`, or give this policy another name with a \
                 `policy NAME` line"
            ),
            Error::ManPages { dir, error } => {
                write!(f, "cannot write man pages into `{}`: {error}", dir.display())
            }
            Error::LanguageServer(message) => write!(f, "language server: {message}"),
            Error::UnknownCode(code) => write!(
                f,
                "no diagnostic has the code `{code}`; codes look like `E0101` or `W0001`"
            ),
            Error::NotIterable { program } => write!(
                f,
                "`--attach task-file-iter` runs only `open` rules, and the policy has `{program}` \
                 rules: build a policy of its `open` rules, or build without `--attach`"
            ),
            Error::Internal(error) => write!(
                f,
                "internal compiler error (a bug in krsic, please report it): {error}"
            ),
            Error::Record(error) => error.fmt(f),
            Error::Runtime(error) => error.fmt(f),
            Error::BlockSignals => f.write_str("cannot block SIGINT and SIGTERM"),
            Error::WaitForSignals(error) => write!(f, "cannot wait for signals: {error}"),
            Error::WaitForReports(error) => write!(f, "cannot wait for reports: {error}"),
            Error::DropCounters(error) => write!(f, "cannot read the drop counters: {error}"),
            Error::Watch { dir, error } => write!(
                f,
                "cannot watch `{}` for changes: {error} (is it a directory? raise \
                 `fs.inotify.max_user_instances` if there are too many watchers)",
                dir.display()
            ),
            Error::Metrics { addr, message } => write!(
                f,
                "cannot serve metrics on `{addr}`: {message} (give an address and port such \
                 as `0.0.0.0:9464`)"
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<RuntimeError> for Error {
    fn from(error: RuntimeError) -> Self {
        Error::Runtime(error)
    }
}

impl From<RecordError> for Error {
    fn from(error: RecordError) -> Self {
        Error::Record(error)
    }
}
