//! `krsic`: the krsi policy compiler and loader.

mod commands;
mod error;
mod pipeline;
mod record;
mod rejection;
mod report;
mod target;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "krsic",
    version,
    about = "Compile krsi policies to BPF LSM programs and enforce them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Diagnostics for people, with source excerpts.
    Human,
    /// One JSON object a line, for editors and tools.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// krsi's own JSON report, one object a line.
    Json,
    /// Falco's alert JSON, for falcosidekick and other Falco consumers.
    Falco,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Deny rules deny (the default).
    Enforce,
    /// Deny rules report what they would deny, and allow.
    Audit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// The ELF object the runtime loads.
    Obj,
    /// The disassembly of every program.
    Asm,
    /// The compiler's IR.
    Ir,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// Every process on the machine.
    Global,
    /// The cgroup given to `krsic load --cgroup` and its descendants.
    Cgroup,
}

#[derive(Subcommand)]
enum Command {
    /// Check policies for errors, against the running kernel's types or `--btf FILE`
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Check against this kernel BTF (raw BTF such as /sys/kernel/btf/vmlinux, or an ELF with `.BTF`)
        #[arg(long)]
        btf: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
    },
    /// Compile a policy to an ELF object of BPF LSM programs
    Build {
        file: PathBuf,
        /// Where to write the output
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long)]
        btf: Option<PathBuf>,
        /// What to write
        #[arg(long, value_enum, default_value = "obj")]
        emit: Emit,
        /// Compile the programs to consult a cgroup set at load time
        #[arg(long, value_enum, default_value = "global")]
        scope: ScopeArg,
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
    },
    /// Disassemble the programs of an object written by `krsic build`
    Disasm { object: PathBuf },
    /// Compile (or take a built object) and enforce it until SIGINT or SIGTERM
    Load {
        /// A policy (`.krsi`) or an object from `krsic build`
        file: PathBuf,
        /// Enforce only for processes in this cgroup (v2) and its descendants
        #[arg(long)]
        cgroup: Option<PathBuf>,
        #[arg(long)]
        btf: Option<PathBuf>,
        /// `audit`: deny rules report and allow, to try a policy before enforcing it
        /// (overrides the policy's `mode` header; the default is `enforce`)
        #[arg(long, value_enum)]
        mode: Option<ModeArg>,
        /// The format of the reports printed on stdout
        #[arg(long, value_enum, default_value = "json")]
        output: Output,
        /// Reports one rule may send per second on one CPU (default 100); the rest are counted
        #[arg(long)]
        report_rate: Option<u32>,
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
        /// Pin the policy (bpffs) and exit: it stays enforced until `krsic unload NAME`; a
        /// pinned policy of the same name is replaced without a gap
        #[arg(long)]
        pin: bool,
        /// The mounted BPF filesystem that holds pinned policies
        #[arg(long, default_value = DEFAULT_BPFFS)]
        bpffs: PathBuf,
    },
    /// List the pinned policies: source, hash, compiler, load time, hooks, programs, run counts
    List {
        #[arg(long, default_value = DEFAULT_BPFFS)]
        bpffs: PathBuf,
        /// One JSON array, for tools
        #[arg(long)]
        json: bool,
    },
    /// Lift a pinned policy: detach its programs and remove its pins
    Unload {
        /// The policy's name, as `krsic list` shows it
        name: String,
        #[arg(long, default_value = DEFAULT_BPFFS)]
        bpffs: PathBuf,
    },
    /// Stream the reports of a pinned policy until SIGINT or SIGTERM
    Follow {
        name: String,
        #[arg(long, default_value = DEFAULT_BPFFS)]
        bpffs: PathBuf,
        #[arg(long)]
        btf: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "json")]
        output: Output,
    },
    /// Run the `test` items of policies through the reference evaluator and the compiled programs
    Test {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        btf: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
    },
    /// Explain a diagnostic code, e.g. `krsic explain E0101`
    Explain { code: String },
    /// List every event with its hook and attributes
    Events {
        #[arg(long)]
        btf: Option<PathBuf>,
        /// One JSON document, for tools and the book's reference
        #[arg(long)]
        json: bool,
    },
}

/// Where bpffs is conventionally mounted.
const DEFAULT_BPFFS: &str = "/sys/fs/bpf";

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`krsic explain E0101 | head -1`)
    // would panic. Like any command-line tool, krsic ends quietly instead. For `krsic load`
    // that ends the process, which detaches its programs as SIGTERM would.
    // SAFETY: restoring a signal's default disposition has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check {
            files,
            btf,
            message_format,
        } => commands::check(&files, btf.as_deref(), message_format),
        Command::Build {
            file,
            output,
            btf,
            emit,
            scope,
            message_format,
        } => commands::build(&file, &output, btf.as_deref(), emit, scope, message_format),
        Command::Disasm { object } => commands::disasm(&object),
        Command::Load {
            file,
            cgroup,
            btf,
            mode,
            output,
            report_rate,
            message_format,
            pin,
            bpffs,
        } => commands::load(
            &file,
            &commands::LoadOptions {
                cgroup: cgroup.as_deref(),
                btf: btf.as_deref(),
                mode,
                output,
                report_rate,
                format: message_format,
                pin,
                bpffs: &bpffs,
            },
        ),
        Command::List { bpffs, json } => commands::list(&bpffs, json),
        Command::Unload { name, bpffs } => commands::unload(&name, &bpffs),
        Command::Follow {
            name,
            bpffs,
            btf,
            output,
        } => commands::follow(&name, &bpffs, btf.as_deref(), output),
        Command::Test {
            files,
            btf,
            message_format,
        } => commands::test(&files, btf.as_deref(), message_format),
        Command::Explain { code } => commands::explain(&code),
        Command::Events { btf, json } => commands::events(btf.as_deref(), json),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
