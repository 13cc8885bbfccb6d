//! `krsic`: the krsi policy compiler and loader.

mod alerts;
mod apply;
mod cgroups;
mod commands;
mod diff;
mod doctor;
mod error;
mod lsp;
mod manual;
mod metrics;
mod pipeline;
mod record;
mod rejection;
mod report;
mod serve;
mod target;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "krsic",
    version,
    about = "Compile krsi policies to BPF LSM programs and enforce them"
)]
pub(crate) struct Cli {
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
    /// Deny rules deny and kill rules kill (the default).
    Enforce,
    /// Deny and kill rules report what they would deny or kill, and allow.
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AttachArg {
    /// The LSM hooks, to enforce the policy.
    Lsm,
    /// The `open` rules' decision as an `iter/task_file` iterator over a process's open
    /// files, which refuses nothing: for timing the decision natively where the kernel
    /// refuses LSM programs (scripts/bench --native).
    TaskFileIter,
}

/// `--btf FILE`, on every command that checks a policy against a kernel's types.
#[derive(Args)]
struct KernelArg {
    /// The target kernel's BTF, instead of /sys/kernel/btf/vmlinux (raw BTF, or an ELF with `.BTF`)
    #[arg(long)]
    btf: Option<PathBuf>,
}

/// `--message-format`, on every command that can print diagnostics.
#[derive(Args)]
struct DiagnosticsArg {
    /// How diagnostics are written: `human` (source excerpts) or `json` (one object a line)
    #[arg(long, value_enum, default_value = "human")]
    message_format: MessageFormat,
}

/// `--bpffs DIR`, on every command that reads or writes pinned policies.
#[derive(Args)]
struct BpffsArg {
    /// The mounted BPF filesystem that holds pinned policies
    #[arg(long, default_value = DEFAULT_BPFFS)]
    bpffs: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Check policies for errors, against the running kernel's types or `--btf FILE`
    Check {
        /// Policy files (`.krsi`)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        kernel: KernelArg,
        #[command(flatten)]
        diagnostics: DiagnosticsArg,
    },
    /// Rewrite policies in the canonical layout, keeping comments (`--check`: only report)
    Fmt {
        /// Policy files (`.krsi`)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing; list the files that are not formatted and exit 1 if there are any
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        diagnostics: DiagnosticsArg,
    },
    /// Compile a policy to an ELF object of BPF LSM programs
    Build {
        /// The policy file (`.krsi`)
        file: PathBuf,
        /// Where to write the output
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        kernel: KernelArg,
        /// What to write
        #[arg(long, value_enum, default_value = "obj")]
        emit: Emit,
        /// Compile the programs to consult a cgroup set at load time
        #[arg(long, value_enum, default_value = "global")]
        scope: ScopeArg,
        /// Where the programs attach
        #[arg(long, value_enum, default_value = "lsm")]
        attach: AttachArg,
        #[command(flatten)]
        diagnostics: DiagnosticsArg,
    },
    /// Disassemble the programs of an object written by `krsic build`
    Disasm {
        /// An ELF object written by `krsic build`
        object: PathBuf,
    },
    /// Compile (or take a built object) and enforce it until SIGINT or SIGTERM
    Load {
        /// A policy (`.krsi`) or an object from `krsic build`
        file: PathBuf,
        /// Enforce only for processes in this cgroup (v2) and its descendants
        #[arg(long)]
        cgroup: Option<PathBuf>,
        #[command(flatten)]
        kernel: KernelArg,
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
        #[command(flatten)]
        diagnostics: DiagnosticsArg,
        /// Pin the policy (bpffs) and exit: it stays enforced until `krsic unload NAME`; a
        /// pinned policy of the same name is replaced without a gap, all its programs at once
        /// (a version gate), and what an interrupted load or unload of the name left is
        /// finished first
        #[arg(long)]
        pin: bool,
        #[command(flatten)]
        bpffs: BpffsArg,
    },
    /// List the pinned policies: source, hash, compiler, load time, hooks, programs, run counts
    List {
        #[command(flatten)]
        bpffs: BpffsArg,
        /// One JSON array, for tools
        #[arg(long)]
        json: bool,
    },
    /// Lift a pinned policy: disarm all its programs at once, then detach them and remove its
    /// pins; also finishes an unload that a dead krsic left halfway
    Unload {
        /// The policy's name, as `krsic list` shows it
        name: String,
        #[command(flatten)]
        bpffs: BpffsArg,
    },
    /// Stream the reports of a pinned policy until SIGINT or SIGTERM
    Follow {
        /// The policy's name, as `krsic list` shows it
        name: String,
        #[command(flatten)]
        bpffs: BpffsArg,
        #[command(flatten)]
        kernel: KernelArg,
        /// The format of the reports printed on stdout
        #[arg(long, value_enum, default_value = "json")]
        output: Output,
    },
    /// Run the `test` items of policies through the reference evaluator and the compiled programs
    Test {
        /// Policy files (`.krsi`)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        kernel: KernelArg,
        #[command(flatten)]
        diagnostics: DiagnosticsArg,
    },
    /// Explain a diagnostic code, e.g. `krsic explain E0101`
    Explain {
        /// A diagnostic code, such as E0101 or W0003
        code: String,
    },
    /// List every event with its hook and attributes
    Events {
        #[command(flatten)]
        kernel: KernelArg,
        /// One JSON document, for tools and the book's reference
        #[arg(long)]
        json: bool,
    },
    /// Make the pinned policies a directory manages equal to its `*.krsi` files: new ones
    /// loaded, changed ones replaced without a gap, removed ones unloaded, unchanged untouched
    Apply {
        /// The directory of policies, e.g. /etc/krsi/policies.d
        dir: PathBuf,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        kernel: KernelArg,
        #[command(flatten)]
        bpffs: BpffsArg,
        #[command(flatten)]
        diagnostics: DiagnosticsArg,
    },
    /// Keep a directory of policies applied (at start and on every change), stream every
    /// report, and serve Prometheus metrics; SIGINT or SIGTERM stop it and leave the policies
    /// enforced
    Serve {
        /// The directory of policies, e.g. /etc/krsi/policies.d
        dir: PathBuf,
        /// Serve `/metrics` (Prometheus) and `/healthz` on this address, e.g. 0.0.0.0:9464
        #[arg(long, value_name = "ADDR")]
        metrics: Option<String>,
        /// The format of the reports
        #[arg(long, value_enum, default_value = "json")]
        output: Output,
        /// Append the reports to this file instead of writing them on stdout
        #[arg(long, value_name = "FILE")]
        report_file: Option<PathBuf>,
        /// Also post every report, in Falco's alert form, to this http:// URL (e.g.
        /// falcosidekick's `http://falcosidekick:2801/`); never delays enforcement
        #[arg(long, value_name = "URL")]
        alerts_url: Option<String>,
        /// Make the kernel count program runs and run time while serving (costs every BPF
        /// program of the machine two clock reads per run; `sysctl kernel.bpf_stats_enabled=1`
        /// does the same for good)
        #[arg(long)]
        bpf_stats: bool,
        #[command(flatten)]
        kernel: KernelArg,
        #[command(flatten)]
        bpffs: BpffsArg,
        #[command(flatten)]
        diagnostics: DiagnosticsArg,
    },
    /// Say what a new version of a policy decides differently, by meaning: per event, each
    /// kind of operation now denied, now allowed, denied with another errno, or reported
    /// differently, with an example event checked by the reference evaluator
    Diff {
        /// The policy as it is (`.krsi`)
        old: PathBuf,
        /// The policy as it would be (`.krsi`)
        new: PathBuf,
        #[command(flatten)]
        kernel: KernelArg,
        /// One JSON object a change, for tools
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        diagnostics: DiagnosticsArg,
    },
    /// Tell whether this machine can enforce policies and, if not, exactly what to change
    Doctor {
        /// One JSON document, for tools
        #[arg(long)]
        json: bool,
    },
    /// Run the language server on stdin/stdout (diagnostics, hover, completion, definitions,
    /// references, symbols, formatting, quick fixes)
    Lsp {
        #[command(flatten)]
        kernel: KernelArg,
    },
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (krsic.1 and krsic-COMMAND.1) into a directory
    Man {
        /// Where to write the pages, e.g. /usr/local/share/man/man1
        #[arg(long, default_value = ".")]
        dir: PathBuf,
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
            kernel,
            diagnostics,
        } => commands::check(&files, kernel.btf.as_deref(), diagnostics.message_format),
        Command::Build {
            file,
            output,
            kernel,
            emit,
            scope,
            attach,
            diagnostics,
        } => commands::build(
            &file,
            &output,
            kernel.btf.as_deref(),
            emit,
            scope,
            attach,
            diagnostics.message_format,
        ),
        Command::Fmt {
            files,
            check,
            diagnostics,
        } => commands::format(&files, check, diagnostics.message_format),
        Command::Disasm { object } => commands::disasm(&object),
        Command::Load {
            file,
            cgroup,
            kernel,
            mode,
            output,
            report_rate,
            diagnostics,
            pin,
            bpffs,
        } => commands::load(
            &file,
            &commands::LoadOptions {
                cgroup: cgroup.as_deref(),
                btf: kernel.btf.as_deref(),
                mode,
                output,
                report_rate,
                format: diagnostics.message_format,
                pin,
                bpffs: &bpffs.bpffs,
            },
        ),
        Command::List { bpffs, json } => commands::list(&bpffs.bpffs, json),
        Command::Unload { name, bpffs } => commands::unload(&name, &bpffs.bpffs),
        Command::Follow {
            name,
            bpffs,
            kernel,
            output,
        } => commands::follow(&name, &bpffs.bpffs, kernel.btf.as_deref(), output),
        Command::Test {
            files,
            kernel,
            diagnostics,
        } => commands::test(&files, kernel.btf.as_deref(), diagnostics.message_format),
        Command::Explain { code } => commands::explain(&code),
        Command::Events { kernel, json } => commands::events(kernel.btf.as_deref(), json),
        Command::Apply {
            dir,
            dry_run,
            kernel,
            bpffs,
            diagnostics,
        } => apply::apply(
            &dir,
            &apply::ApplyOptions {
                btf: kernel.btf.as_deref(),
                bpffs: &bpffs.bpffs,
                dry_run,
                format: diagnostics.message_format,
            },
        ),
        Command::Serve {
            dir,
            metrics,
            output,
            report_file,
            alerts_url,
            bpf_stats,
            kernel,
            bpffs,
            diagnostics,
        } => serve::serve(
            &dir,
            &serve::ServeOptions {
                btf: kernel.btf.as_deref(),
                bpffs: &bpffs.bpffs,
                output,
                report_file: report_file.as_deref(),
                alerts_url: alerts_url.as_deref(),
                metrics: metrics.as_deref(),
                bpf_stats,
                format: diagnostics.message_format,
            },
        ),
        Command::Diff {
            old,
            new,
            kernel,
            json,
            diagnostics,
        } => diff::diff(
            &old,
            &new,
            kernel.btf.as_deref(),
            json,
            diagnostics.message_format,
        ),
        Command::Doctor { json } => doctor::doctor(json),
        Command::Lsp { kernel } => lsp::serve(kernel.btf.as_deref()),
        Command::Completions { shell } => {
            manual::completions(shell, &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => match manual::write_man_pages(&dir) {
            Ok(pages) => {
                for page in pages {
                    println!("{}", page.display());
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => Err(error::Error::ManPages { dir, error }),
        },
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
