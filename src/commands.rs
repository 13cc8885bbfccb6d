//! One function per subcommand. Files, /sys and the kernel are touched here and in `runtime`
//! only.

use crate::error::Error;
use crate::pipeline::{compile, Compiled, Failure};
use crate::record::{self, PolicyRecord};
use crate::rejection;
use crate::report::{self, ReportContext};
use crate::target::kernel_types;
use crate::{AttachArg, Emit, MessageFormat, ModeArg, Output, ScopeArg};
use compiler::bpf::{disassemble_with, Insn, MapRelocation};
use compiler::codegen::{CodegenError, GATE_MAP, HANDOVER_MAP, SCOPE_MAP, VERSION_MAP};
use compiler::elf::{lsm_hook, read_object, DataSection, MapSpec, ObjectSpec};
use compiler::ir::{Attach, Mode, Module, Scope, Target};
use compiler::report::{DROPPED_RATE_LIMITED, DROPPED_RING_FULL, DROPS_MAP, EVENTS_MAP};
use compiler::CompileError;
use lang::catalog::{Availability, ValueType};
use lang::checked::AttrValue;
use lang::checked::{CheckedTest, ExpectedDecision};
use lang::diagnostic::{Code, Diagnostic, Severity};
use lang::eval::{Decision, EventInput};
use lang::kernel::KernelTypes;
use lang::render::{render_human, render_json};
use runtime::{CgroupScope, GateMaps, PinOutcome, PinRoot, ProgramTarget, RuntimeError};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::path::Path;
use std::process::ExitCode;

pub fn check(
    files: &[std::path::PathBuf],
    btf: Option<&Path>,
    format: MessageFormat,
) -> Result<ExitCode, Error> {
    let kernel = kernel_types(btf)?;
    let mut failed = false;
    for file in files {
        let Some(source) = read_source(file, format)? else {
            failed = true;
            continue;
        };
        let (_, diagnostics) = lang::front_end(&source, &kernel);
        report(file, &source, &diagnostics, format);
        failed |= diagnostics.iter().any(|d| d.severity() == Severity::Error);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `krsic fmt`: rewrites each file in the canonical layout, or with `check` only says which
/// files are not in it. A file with syntax errors is reported and left as it is.
pub fn format(
    files: &[std::path::PathBuf],
    check: bool,
    format: MessageFormat,
) -> Result<ExitCode, Error> {
    let mut failed = false;
    for file in files {
        let Some(source) = read_source(file, format)? else {
            failed = true;
            continue;
        };
        match lang::format::format(&source) {
            Err(diagnostics) => {
                report(file, &source, &diagnostics, format);
                failed = true;
            }
            Ok(formatted) if formatted == source => {}
            Ok(_) if check => {
                println!(
                    "{} is not formatted (run `krsic fmt {}`)",
                    file.display(),
                    file.display()
                );
                failed = true;
            }
            Ok(formatted) => std::fs::write(file, formatted).map_err(|error| Error::Write {
                path: file.clone(),
                error,
            })?,
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn build(
    file: &Path,
    output: &Path,
    btf: Option<&Path>,
    emit: Emit,
    scope: ScopeArg,
    attach: AttachArg,
    format: MessageFormat,
) -> Result<ExitCode, Error> {
    let kernel = kernel_types(btf)?;
    let scope = match scope {
        ScopeArg::Global => Scope::Global,
        ScopeArg::Cgroup => Scope::Cgroup,
    };
    let target = Target {
        attach: match attach {
            AttachArg::Lsm => Attach::Lsm,
            AttachArg::TaskFileIter => Attach::TaskFileIterator,
        },
        ..Target::new(scope)
    };
    let Some((compiled, _)) = compile_file(file, &kernel, target, format)? else {
        return Ok(ExitCode::FAILURE);
    };
    let bytes = match emit {
        Emit::Obj => compiled.object.elf,
        Emit::Asm => disassembly(&compiled.object.spec)?.into_bytes(),
        Emit::Ir => compiled.object.ir.to_string().into_bytes(),
    };
    std::fs::write(output, bytes).map_err(|error| Error::Write {
        path: output.to_path_buf(),
        error,
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn disasm(object: &Path) -> Result<ExitCode, Error> {
    let bytes = read_file(object)?;
    let contents = read_object(&bytes).map_err(|error| Error::NotAnObject {
        path: object.to_path_buf(),
        error,
    })?;
    let programs = contents.programs.iter().map(|p| {
        (
            p.symbol.as_str(),
            p.section.as_str(),
            p.insns.as_slice(),
            p.relocations.as_slice(),
        )
    });
    print!("{}", listing(&contents.maps, &contents.data, programs)?);
    Ok(ExitCode::SUCCESS)
}

/// How `krsic load` runs a policy.
pub struct LoadOptions<'a> {
    pub cgroup: Option<&'a Path>,
    pub btf: Option<&'a Path>,
    pub mode: Option<ModeArg>,
    pub output: Output,
    pub report_rate: Option<u32>,
    pub format: MessageFormat,
    /// Pin the policy under this bpffs and exit, instead of enforcing it in the foreground.
    pub pin: bool,
    pub bpffs: &'a Path,
}

pub fn load(file: &Path, options: &LoadOptions<'_>) -> Result<ExitCode, Error> {
    let bytes = read_file(file)?;
    let sha256 = hex(&Sha256::digest(&bytes));
    let scope = if options.cgroup.is_some() {
        Scope::Cgroup
    } else {
        Scope::Global
    };
    let mode = options.mode.map(|m| match m {
        ModeArg::Enforce => Mode::Enforce,
        ModeArg::Audit => Mode::Audit,
    });
    let mut name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A policy is compiled here; an object from `krsic build` is loaded as it is.
    let (object, source) = if bytes.starts_with(b"\x7fELF") {
        if mode.is_some() || options.report_rate.is_some() {
            return Err(Error::ObjectOptionsFixed);
        }
        (bytes, None)
    } else {
        let kernel = kernel_types(options.btf)?;
        let Some(source) = decode_source(file, bytes, options.format) else {
            return Ok(ExitCode::FAILURE);
        };
        let target = Target {
            scope,
            mode,
            report_rate: options.report_rate,
            attach: Attach::Lsm,
        };
        let compiled = compile_source(file, &source, &kernel, target, options.format)?;
        let Some(compiled) = compiled else {
            return Ok(ExitCode::FAILURE);
        };
        if let Some(header) = &compiled.checked.name {
            name.clone_from(header);
        }
        (compiled.object.elf.clone(), Some((source, compiled)))
    };
    let contents = read_object(&object).map_err(|error| Error::NotAnObject {
        path: file.to_path_buf(),
        error,
    })?;
    if [GATE_MAP, VERSION_MAP]
        .iter()
        .any(|name| !contents.data.iter().any(|d| d.name == *name))
    {
        return Err(Error::ObjectWithoutGate {
            path: file.to_path_buf(),
        });
    }
    let mut targets = Vec::new();
    for program in &contents.programs {
        let Some(hook) = lsm_hook(&program.section) else {
            return Err(Error::NotAnLsmProgram {
                symbol: program.symbol.clone(),
                section: program.section.clone(),
            });
        };
        targets.push(ProgramTarget {
            symbol: program.symbol.clone(),
            hook: hook.to_string(),
        });
    }
    // Before anything is loaded: a pin that cannot be replaced, or a foreground load that
    // would run beside a pinned policy of the same name, stops here.
    // A pinned load holds the pin root's lock from here until its new version is committed.
    // The programs read the gate when a flag is set, and the runtime sets the flags: one
    // protocol, written on both sides.
    const _: () = assert!(compiler::codegen::VERSION_FLAGS == runtime::VERSION_FLAGS);
    let gate = GateMaps {
        gate_map: GATE_MAP.to_string(),
        version_map: VERSION_MAP.to_string(),
        handover: Some(HANDOVER_MAP.to_string()),
    };
    let pins = if options.pin {
        runtime::check_root()?;
        let root = PinRoot::create(options.bpffs)?;
        let staging = root.stage(&name, &gate)?;
        Some((root, staging))
    } else {
        if let Ok(root) = PinRoot::open(options.bpffs) {
            if let Ok(Some(pinned)) = root.policy(&name) {
                if pinned.enforced {
                    return Err(Error::PinnedNameTaken { name });
                }
            }
        }
        None
    };
    let scope_map = options.cgroup.map(|cgroup| CgroupScope {
        map: SCOPE_MAP.to_string(),
        cgroup: cgroup.to_path_buf(),
    });
    // Block the signals before anything is attached, so that one arriving early is waited for,
    // not fatal with programs attached.
    let signals = block_termination_signals()?;
    let staging = pins.as_ref().map(|(_, staging)| staging);
    let mut policy = match runtime::load(&object, &targets, scope_map.as_ref(), &gate, staging) {
        Ok(policy) => policy,
        Err(error) => {
            if let (RuntimeError::Rejected { symbol, log, .. }, Some((source, compiled))) =
                (&error, &source)
            {
                eprintln!("krsic: the kernel verifier rejected `{symbol}`; finding out why");
                let diagnostic = rejection::diagnose(symbol, log, compiled);
                report(file, source, &[diagnostic], options.format);
            }
            return Err(error.into());
        }
    };
    let hooks: Vec<String> = policy.attached.iter().map(|t| t.hook.clone()).collect();
    let scope_text = options
        .cgroup
        .map(|c| format!(" for cgroup {}", c.display()))
        .unwrap_or_default();
    if let Some((root, staging)) = pins {
        let record = PolicyRecord {
            name: name.clone(),
            file: std::path::absolute(file)
                .unwrap_or_else(|_| file.to_path_buf())
                .display()
                .to_string(),
            sha256,
            compiler: record::COMPILER.to_string(),
            loaded_at_ns: report::realtime_offset_ns() + report::monotonic_ns(),
            mode: source
                .as_ref()
                .map_or(Mode::Enforce, |(_, compiled)| compiled.object.ir.mode),
            cgroup: options.cgroup.map(|c| c.display().to_string()),
            report_rate: options.report_rate,
            programs: targets.clone(),
            source: source.as_ref().map(|(text, _)| text.clone()),
        };
        let outcome = root.pin(staging, policy, EVENTS_MAP, DROPS_MAP, &record.to_bytes())?;
        let what = match outcome {
            PinOutcome::Pinned => "pinned",
            PinOutcome::Replaced => "pinned, replacing the policy of that name without a gap",
        };
        eprintln!(
            "krsic: enforcing `{name}`: {} program(s) attached ({}){scope_text}; {what}: it stays \
             enforced after krsic exits; `krsic follow {name}` streams its reports, `krsic unload {name}` lifts it",
            hooks.len(),
            hooks.join(", "),
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "krsic: enforcing `{name}`: {} program(s) attached ({}){scope_text}; SIGINT or SIGTERM detaches",
        hooks.len(),
        hooks.join(", "),
    );
    let mut events = policy.take_events(EVENTS_MAP)?;
    let context = ReportContext {
        policy: &name,
        module: source.as_ref().map(|(_, compiled)| &compiled.object.ir),
        source: source.as_ref().map(|(text, _)| text.as_str()),
        realtime_offset_ns: report::realtime_offset_ns(),
    };
    let dropped = || -> Result<(u64, u64), RuntimeError> {
        let count = |index| {
            policy
                .per_cpu_total(DROPS_MAP, index)
                .map(|n| n.unwrap_or(0))
        };
        Ok((count(DROPPED_RING_FULL)?, count(DROPPED_RATE_LIMITED)?))
    };
    let (signal, (full, limited)) = stream_reports(
        &signals,
        events.as_mut(),
        &context,
        options.output,
        &dropped,
    )?;
    policy.detach();
    if full + limited > 0 {
        eprintln!(
            "krsic: {} report(s) not sent: {limited} over the rate limit, {full} with the ring buffer full",
            full + limited
        );
    }
    eprintln!("krsic: {signal} received, `{name}` detached");
    Ok(ExitCode::SUCCESS)
}

/// Every pinned policy: what it is, where it came from, and what the kernel says of its programs.
pub fn list(bpffs: &Path, json: bool) -> Result<ExitCode, Error> {
    let root = PinRoot::open(bpffs)?;
    let stats_enabled = std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")
        .map(|s| s.trim() == "1")
        .unwrap_or(false);
    let mut entries = Vec::new();
    for policy in root.policies()? {
        let programs = policy.programs()?;
        let record = policy
            .record()
            .map_err(Error::from)
            .and_then(|bytes| PolicyRecord::from_bytes(&bytes).map_err(Error::from));
        let counters = policy.drop_counters()?;
        let dropped = pinned_drops(counters.as_ref())?;
        let state = (policy.enforced, policy.interrupted);
        entries.push((policy.name, record, programs, dropped, state));
    }
    if json {
        let list: Vec<serde_json::Value> = entries
            .iter()
            .map(
                |(name, record, programs, dropped, (enforced, interrupted))| {
                    let mut entry = listed_json(name, record, programs, stats_enabled);
                    entry["enforced"] = (*enforced).into();
                    entry["interrupted"] = (*interrupted).into();
                    entry["dropped"] = serde_json::json!({
                        "ring_full": dropped.0,
                        "rate_limited": dropped.1,
                    });
                    entry
                },
            )
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        eprintln!("krsic: no policy is pinned under {}", bpffs.display());
    }
    for (name, record, programs, dropped, (enforced, interrupted)) in &entries {
        if !enforced {
            println!(
                "{name}  (not enforced: a krsic died loading or unloading it; `krsic unload {name}` \
                 removes what it left, `krsic load --pin` loads it again)"
            );
            continue;
        }
        if *interrupted {
            println!(
                "{name}  (enforced, but a krsic died replacing it; its next `krsic load --pin` or \
                 `krsic unload` finishes the job)"
            );
        }
        match record {
            Ok(r) => {
                let cgroup = r
                    .cgroup
                    .as_ref()
                    .map(|c| format!(", cgroup {c}"))
                    .unwrap_or_default();
                println!("{name}  ({}{cgroup})", record::mode_name(r.mode));
                println!("  source    {}  sha256:{}", r.file, r.sha256);
                println!("  compiler  {}", r.compiler);
                println!("  loaded    {}", report::rfc3339(r.loaded_at_ns));
                println!(
                    "  reports   not sent since load: {} over the rate limit, {} with the ring buffer full",
                    dropped.1, dropped.0
                );
            }
            Err(e) => println!("{name}  (record unreadable: {e})"),
        }
        for p in programs {
            let runs = if stats_enabled {
                format!("{} runs", p.run_count)
            } else {
                "runs not counted".to_string()
            };
            println!(
                "  program   {}  hook {}  id {}  link {}  {runs}",
                p.symbol,
                hook_of(record, &p.symbol).unwrap_or("?"),
                p.program_id,
                p.link_id
            );
        }
    }
    if !stats_enabled && !entries.is_empty() {
        eprintln!("krsic: run counts need `sysctl kernel.bpf_stats_enabled=1`");
    }
    Ok(ExitCode::SUCCESS)
}

/// The hook a pinned program was attached to, as its record says.
fn hook_of<'r>(record: &'r Result<PolicyRecord, Error>, symbol: &str) -> Option<&'r str> {
    let record = record.as_ref().ok()?;
    let target = record.programs.iter().find(|t| t.symbol == symbol)?;
    Some(target.hook.as_str())
}

fn listed_json(
    name: &str,
    record: &Result<PolicyRecord, Error>,
    programs: &[runtime::PinnedProgram],
    stats_enabled: bool,
) -> serde_json::Value {
    let programs: Vec<serde_json::Value> = programs
        .iter()
        .map(|p| {
            serde_json::json!({
                "symbol": p.symbol,
                "hook": hook_of(record, &p.symbol),
                "program_id": p.program_id,
                "link_id": p.link_id,
                "run_count": p.run_count,
                "run_time_ns": p.run_time_ns,
            })
        })
        .collect();
    let mut entry = serde_json::json!({
        "name": name,
        "programs": programs,
        "run_counts_enabled": stats_enabled,
    });
    match record {
        Ok(r) => {
            entry["file"] = r.file.clone().into();
            entry["sha256"] = r.sha256.clone().into();
            entry["compiler"] = r.compiler.clone().into();
            entry["loaded_at"] = report::rfc3339(r.loaded_at_ns).into();
            entry["mode"] = record::mode_name(r.mode).into();
            entry["cgroup"] = r.cgroup.clone().into();
        }
        Err(e) => entry["error"] = e.to_string().into(),
    }
    entry
}

/// Lifts the pinned policy `name`.
pub fn unload(name: &str, bpffs: &Path) -> Result<ExitCode, Error> {
    runtime::check_root()?;
    let root = PinRoot::open(bpffs)?;
    root.unload(name)?;
    eprintln!("krsic: `{name}` unloaded: its programs are detached");
    Ok(ExitCode::SUCCESS)
}

/// Streams the reports of the pinned policy `name` until SIGINT or SIGTERM.
pub fn follow(
    name: &str,
    bpffs: &Path,
    btf: Option<&Path>,
    output: Output,
) -> Result<ExitCode, Error> {
    runtime::check_root()?;
    let root = PinRoot::open(bpffs)?;
    let policy = root.pinned(name)?;
    let record = PolicyRecord::from_bytes(&policy.record()?)?;
    // Reports name rules by index; the same source compiled by the same compiler for the same
    // kernel gives the same program, hence the same indexes and record layouts.
    let module = match &record.source {
        Some(_) if record.compiler == record::COMPILER => {
            report_module(&record, &kernel_types(btf)?)
        }
        _ => None,
    };
    if module.is_none() {
        eprintln!(
            "krsic: `{name}` was pinned by {} from {}; its reports are shown undecoded",
            record.compiler, record.file
        );
    }
    let signals = block_termination_signals()?;
    let mut events = policy.events()?;
    let context = ReportContext {
        policy: name,
        module: module.as_ref(),
        source: record.source.as_deref(),
        realtime_offset_ns: report::realtime_offset_ns(),
    };
    // Opened once: the loop below reads the counters at every wake-up.
    let counters = policy.drop_counters()?;
    let dropped = || pinned_drops(counters.as_ref());
    let (full, limited) = dropped()?;
    if full + limited > 0 {
        eprintln!(
            "krsic: before following, `{name}` could not send {} report(s): {limited} over the rate limit, {full} with the ring buffer full",
            full + limited
        );
    }
    eprintln!(
        "krsic: following `{name}`; SIGINT or SIGTERM stops following (the policy stays enforced)"
    );
    let (signal, _) = stream_reports(&signals, events.as_mut(), &context, output, &dropped)?;
    eprintln!("krsic: {signal} received, stopped following `{name}`");
    Ok(ExitCode::SUCCESS)
}

/// The compiled policy that decodes a pinned policy's reports: its source compiled again as
/// it was pinned. `None` when the record has no source or another compiler pinned it.
pub(crate) fn report_module(record: &PolicyRecord, kernel: &dyn KernelTypes) -> Option<Module> {
    let source = record.source.as_ref()?;
    if record.compiler != record::COMPILER {
        return None;
    }
    let target = Target {
        scope: record.scope(),
        mode: Some(record.mode),
        report_rate: record.report_rate,
        attach: Attach::Lsm,
    };
    compile(source, kernel, target)
        .ok()
        .map(|(compiled, _)| compiled.object.ir)
}

/// A pinned policy's counts of reports not sent: (ring full, over the rate limit).
pub(crate) fn pinned_drops(
    counters: Option<&runtime::DropCounters>,
) -> Result<(u64, u64), RuntimeError> {
    let Some(counters) = counters else {
        return Ok((0, 0));
    };
    let count = |index| counters.total(index);
    Ok((count(DROPPED_RING_FULL)?, count(DROPPED_RATE_LIMITED)?))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, b| {
        let _ = write!(text, "{b:02x}");
        text
    })
}

/// Runs every `test` item: the reference evaluator and the compiled program (in the offline BPF
/// machine) must both give the expected decision. A disagreement between them is a compiler
/// bug and is reported with all three.
pub fn test(
    files: &[std::path::PathBuf],
    btf: Option<&Path>,
    format: MessageFormat,
) -> Result<ExitCode, Error> {
    let kernel = kernel_types(btf)?;
    let (mut passed, mut failed) = (0usize, 0usize);
    // Test items state what the policy decides. A policy in audit mode decides the same and
    // only reports instead of refusing, so its items are checked against the enforcing build.
    let enforcing = Target {
        mode: Some(Mode::Enforce),
        ..Target::new(Scope::Global)
    };
    for file in files {
        let Some((compiled, source)) = compile_file(file, &kernel, enforcing, format)? else {
            failed += 1;
            continue;
        };
        if compiled.checked.tests.is_empty() {
            eprintln!("{}: no tests", file.display());
        }
        for test in &compiled.checked.tests {
            let line = test.span.line(&source);
            let text = source.get(test.span.range()).unwrap_or("").trim();
            let input = test_input(test);
            let reference = lang::eval::evaluate(&compiled.checked, &input, false);
            let reference_audits = lang::eval::audits(&compiled.checked, &input, false);
            let outcome =
                compiler::vm::decide_and_report(&compiled.object.ir, &compiled.object.spec, &input);
            let expected_ok = match (test.expect, reference) {
                (ExpectedDecision::Allow, Decision::Allow) => true,
                (ExpectedDecision::Deny(None), Decision::Deny { .. }) => true,
                (ExpectedDecision::Deny(Some(want)), Decision::Deny { errno, .. }) => want == errno,
                (ExpectedDecision::Kill(None), Decision::Kill { .. }) => true,
                (ExpectedDecision::Kill(Some(want)), Decision::Kill { errno, .. }) => want == errno,
                (ExpectedDecision::Audit, Decision::Allow) => !reference_audits.is_empty(),
                _ => false,
            };
            let compiled_audits = |reports: &[compiler::vm::Reported]| -> Vec<u32> {
                reports
                    .iter()
                    .filter(|r| r.flags & compiler::report::FLAG_AUDIT != 0)
                    .map(|r| r.rule)
                    .collect()
            };
            match outcome {
                Ok((outcome, reports))
                    if expected_ok
                        && outcome.decision == reference
                        && compiled_audits(&reports) == reference_audits =>
                {
                    passed += 1;
                    println!(
                        "ok      {}:{line}  {text}  ({} BPF instructions)",
                        file.display(),
                        outcome.executed
                    );
                }
                outcome => {
                    failed += 1;
                    let compiled_text = match outcome {
                        Ok((o, reports)) => format!(
                            "{}{}",
                            describe_decision(&o.decision, &compiled.checked, &source),
                            describe_audits(&compiled_audits(&reports), &compiled.checked, &source)
                        ),
                        Err(e) => format!("error in the offline machine: {e}"),
                    };
                    println!("FAILED  {}:{line}  {text}", file.display());
                    println!("        expected:   {}", describe_expectation(test.expect));
                    println!(
                        "        reference:  {}{}",
                        describe_decision(&reference, &compiled.checked, &source),
                        describe_audits(&reference_audits, &compiled.checked, &source)
                    );
                    println!("        compiled:   {compiled_text}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The event a test describes; attributes it does not give are 0, "" and false (so no
/// ancestor past the parent, whose pid is 0 unless given: none), except the namespaces the
/// kernel numbers alike on every host, which are the host's, and the cgroup, the root `/`. An
/// endpoint (`addr`, `port`) is IPv4 or IPv6 when the test gives its address, its port or an
/// IP `family` (then a missing port is 0 and a missing address 0.0.0.0 or ::), else absent.
pub(crate) fn test_input(test: &CheckedTest) -> EventInput {
    let given = |name: &str| {
        test.values
            .iter()
            .find(|(a, _)| a.name == name)
            .map(|(_, v)| v)
    };
    let family = match given("family") {
        Some(AttrValue::Int(f)) => Some(*f),
        _ => None,
    };
    let v6 = family == Some(10) || matches!(given("addr"), Some(AttrValue::Addr(a)) if a.is_ipv6());
    let ip = matches!(family, Some(2 | 10))
        || (family.is_none() && (given("addr").is_some() || given("port").is_some()));
    let mut values = BTreeMap::new();
    for attribute in test.event.attributes() {
        // A namespace the kernel numbers the same on every host: the host's.
        if let Some(inode) = lang::catalog::host_namespace(attribute.name) {
            values.insert(attribute.name, AttrValue::Int(inode));
            continue;
        }
        let default = match (attribute.ty, attribute.source) {
            (_, lang::catalog::Source::Endpoint { .. }) if !ip => AttrValue::Absent,
            // The root cgroup: a host process.
            (_, lang::catalog::Source::KernfsPath { .. }) => AttrValue::Str(b"/".to_vec()),
            (ValueType::Enum(e), _) if ip && std::ptr::eq(e, &lang::catalog::FAMILIES) => {
                AttrValue::Int(if v6 { 10 } else { 2 })
            }
            (ValueType::Addr, _) if v6 => AttrValue::Addr(std::net::Ipv6Addr::UNSPECIFIED.into()),
            (ValueType::Addr, _) => AttrValue::Addr(std::net::Ipv4Addr::UNSPECIFIED.into()),
            // An empty capability set.
            (ValueType::Int | ValueType::Enum(_) | ValueType::CapabilitySet, _) => {
                AttrValue::Int(0)
            }
            (ValueType::Str | ValueType::Path, _) => AttrValue::Str(Vec::new()),
            (ValueType::Bool, _) => AttrValue::Bool(false),
        };
        values.insert(attribute.name, default);
    }
    // No ancestor past the parent unless the test names them (`ancestor.comm: [...]`).
    for (name, value) in lang::lineage::lineage_values(&[]) {
        values.entry(name).or_insert(value);
    }
    for (attribute, value) in &test.values {
        values.insert(attribute.name, value.clone());
    }
    // The container id and pod UID are the cgroup's (the checker refused a test giving
    // others).
    if let Some(AttrValue::Str(path)) = values.get(lang::catalog::CGROUP_PATH) {
        for (name, id) in lang::catalog::derived_from_cgroup(path) {
            values.insert(name, AttrValue::Str(id));
        }
    }
    command_line(test, &mut values);
    // A flag that is a bit of an integer attribute (`ptrace`'s `attach` of `mode`) is one
    // value in the kernel: the integer when the test gives it decides the flag, else the
    // flags the test gives make up the integer.
    for attribute in test.event.attributes {
        let Some((whole, mask)) = test.event.bit_of(attribute) else {
            continue;
        };
        match (given(whole.name), given(attribute.name)) {
            (Some(AttrValue::Int(v)), _) => {
                values.insert(attribute.name, AttrValue::Bool(v & mask != 0));
            }
            (None, Some(AttrValue::Bool(true))) => {
                if let Some(AttrValue::Int(v)) = values.get_mut(whole.name) {
                    *v |= mask;
                }
            }
            _ => {}
        }
    }
    // An event with several hooks: the test is about the hook whose constants it has (a
    // `kmod_load` of `kind: file` is `kernel_read_file`); the event's attributes that hook
    // lacks are absent, and on the event's own hook its constants take their values.
    let constant_matches = |name: &str, source: &lang::catalog::Source| match source {
        lang::catalog::Source::Constant(c) => match values.get(name) {
            Some(AttrValue::Int(v)) => v == c,
            _ => true,
        },
        _ => true,
    };
    let variant = test.event.variants.iter().find(|variant| {
        variant.sources.iter().all(|(n, s)| constant_matches(n, s))
            && !test
                .event
                .attributes
                .iter()
                .all(|a| constant_matches(a.name, &a.source))
    });
    for attribute in test.event.attributes {
        match (variant, attribute.source) {
            (None, lang::catalog::Source::Constant(c)) => {
                values.insert(attribute.name, AttrValue::Int(c));
            }
            (Some(variant), _) => {
                match variant.sources.iter().find(|(n, _)| *n == attribute.name) {
                    Some((_, lang::catalog::Source::Constant(c))) => {
                        values.insert(attribute.name, AttrValue::Int(*c));
                    }
                    Some(_) => {}
                    None => {
                        values.insert(attribute.name, AttrValue::Absent);
                    }
                }
            }
            _ => {}
        }
    }
    EventInput {
        event: test.event.name,
        values,
        in_scope: true,
    }
}

/// An exec's command line and count agree, as in the kernel: a test that gives `argv` (or
/// `cmdline`) has as many arguments as `argc`; one that gives neither runs `path` alone as
/// argv[0], followed by empty arguments up to the `argc` it gives.
fn command_line(test: &CheckedTest, values: &mut BTreeMap<&'static str, AttrValue>) {
    let Some((line, count)) = test.event.attributes().find_map(|a| match a.source {
        lang::catalog::Source::CommandLine { count, .. } => Some((a.name, count)),
        _ => None,
    }) else {
        return;
    };
    let given = |name: &str| test.values.iter().any(|(a, _)| a.name == name);
    if given(line) {
        if let Some(AttrValue::Str(block)) = values.get(line) {
            let args = lang::cmdline::arguments(block).len() as u64;
            values.insert(count, AttrValue::Int(args));
        }
        return;
    }
    let argc = match values.get(count) {
        Some(AttrValue::Int(n)) if given(count) => (*n).max(1),
        _ => 1,
    };
    let program = match values.get("path") {
        Some(AttrValue::Str(path)) => path.clone(),
        _ => Vec::new(),
    };
    let mut args = vec![program];
    // A count no exec has (past 65,536) is not laid out whole: no test needs it.
    args.resize(argc.min(1 << 16) as usize, Vec::new());
    values.insert(line, AttrValue::Str(lang::cmdline::block(&args)));
    values.insert(count, AttrValue::Int(argc));
}

fn describe_expectation(expect: ExpectedDecision) -> String {
    match expect {
        ExpectedDecision::Allow => "allow".into(),
        ExpectedDecision::Deny(None) => "deny".into(),
        ExpectedDecision::Deny(Some(errno)) => format!("deny {}", lang::catalog::errno_name(errno)),
        ExpectedDecision::Audit => "allow, reported by an audit rule".into(),
        ExpectedDecision::Kill(None) => "kill".into(),
        ExpectedDecision::Kill(Some(errno)) => format!("kill {}", lang::catalog::errno_name(errno)),
    }
}

/// `, audited by the rules on lines 3, 5` (nothing when no audit rule reported).
fn describe_audits(rules: &[u32], policy: &lang::checked::CheckedPolicy, source: &str) -> String {
    let lines: Vec<String> = rules
        .iter()
        .filter_map(|index| policy.rules.iter().find(|r| r.index == *index))
        .map(|r| r.span.line(source).to_string())
        .collect();
    match lines.as_slice() {
        [] => String::new(),
        [line] => format!(", audited by the rule on line {line}"),
        _ => format!(", audited by the rules on lines {}", lines.join(", ")),
    }
}

fn describe_decision(
    decision: &Decision,
    policy: &lang::checked::CheckedPolicy,
    source: &str,
) -> String {
    match decision {
        Decision::Allow => "allow".into(),
        Decision::Deny { errno, rule } | Decision::Kill { errno, rule } => {
            let verb = if matches!(decision, Decision::Kill { .. }) {
                "kill"
            } else {
                "deny"
            };
            let by = policy
                .rules
                .iter()
                .find(|r| r.index == *rule)
                .map(|r| {
                    let line = r.span.line(source);
                    format!(" by the rule on line {line}")
                })
                .unwrap_or_default();
            format!("{verb} {}{by}", lang::catalog::errno_name(*errno))
        }
    }
}

pub fn explain(code: &str) -> Result<ExitCode, Error> {
    match Code::parse(code) {
        Some(code) => {
            println!("{code}: {}\n", code.explanation());
            Ok(ExitCode::SUCCESS)
        }
        None => Err(Error::UnknownCode(code.to_string())),
    }
}

pub fn events(btf: Option<&Path>, json: bool) -> Result<ExitCode, Error> {
    let kernel = kernel_types(btf).ok();
    let available = |hook: &str| kernel.as_ref().map(|k| k.hook_params(hook).is_some());
    let hooks = |event: &lang::catalog::Event| -> Vec<&'static str> { event.hooks().collect() };
    // The hooks that only newer kernels have, by the version that brought them.
    let since = |event: &lang::catalog::Event| -> serde_json::Map<String, serde_json::Value> {
        event
            .variants
            .iter()
            .filter_map(|v| match v.availability {
                Availability::Since(version) => Some((v.hook.to_string(), version.into())),
                Availability::Required => None,
            })
            .collect()
    };
    // An event is available when the kernel has every hook it needs; the others are
    // attached where the kernel has them.
    let event_available = |event: &lang::catalog::Event| {
        event
            .required_hooks()
            .map(available)
            .try_fold(true, |all, a| a.map(|a| all && a))
    };
    if json {
        let events: Vec<serde_json::Value> = lang::catalog::all_events()
            .map(|event| {
                serde_json::json!({
                    "name": event.name,
                    "hook": event.hook,
                    "hooks": hooks(event),
                    "since": since(event),
                    "doc": event.doc,
                    "available": event_available(event),
                    "attributes": event.attributes().map(|a| {
                        let mut entry = serde_json::json!({
                            "name": a.name,
                            "type": a.ty.describe(),
                            "doc": a.doc,
                        });
                        if let ValueType::Enum(kind) = a.ty {
                            entry["values"] = kind.values.iter().map(|(n, _)| *n).collect();
                        }
                        entry
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(events));
        return Ok(ExitCode::SUCCESS);
    }
    for event in lang::catalog::all_events() {
        let note = match event_available(event) {
            Some(false) => " (not in the target kernel)",
            _ => "",
        };
        let hooks: Vec<String> = hooks(event)
            .into_iter()
            .map(|hook| match since(event).get(hook) {
                Some(version) => format!("{hook} (Linux {}+)", version.as_str().unwrap_or("")),
                None => hook.to_string(),
            })
            .collect();
        println!("{} → {}{note}: {}", event.name, hooks.join(", "), event.doc);
        for attribute in event.attributes() {
            println!(
                "    {:<12} {:<14} {}",
                attribute.name,
                attribute.ty.describe(),
                attribute.doc
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_file(file: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(file).map_err(|error| Error::Read {
        path: file.to_path_buf(),
        error,
    })
}

pub(crate) fn read_source(file: &Path, format: MessageFormat) -> Result<Option<String>, Error> {
    Ok(decode_source(file, read_file(file)?, format))
}

/// The policy text, or `None` after reporting where it stops being UTF-8.
fn decode_source(file: &Path, bytes: Vec<u8>, format: MessageFormat) -> Option<String> {
    match lang::syntax::decode(bytes) {
        (source, None) => Some(source),
        (source, Some(diagnostic)) => {
            report(file, &source, &[diagnostic], format);
            None
        }
    }
}

fn compile_file(
    file: &Path,
    kernel: &dyn KernelTypes,
    target: Target,
    format: MessageFormat,
) -> Result<Option<(Compiled, String)>, Error> {
    let Some(source) = read_source(file, format)? else {
        return Ok(None);
    };
    let compiled = compile_source(file, &source, kernel, target, format)?;
    Ok(compiled.map(|c| (c, source)))
}

/// Compiles `source` (the text of `file`), reporting its diagnostics; `None` when it has errors.
fn compile_source(
    file: &Path,
    source: &str,
    kernel: &dyn KernelTypes,
    target: Target,
    format: MessageFormat,
) -> Result<Option<Compiled>, Error> {
    match compile(source, kernel, target) {
        Ok((compiled, warnings)) => {
            report(file, source, &warnings, format);
            Ok(Some(compiled))
        }
        Err(Failure::Diagnostics(diagnostics)) => {
            report(file, source, &diagnostics, format);
            Ok(None)
        }
        Err(Failure::Internal(CompileError::Codegen(CodegenError::NotIterable { program }))) => {
            Err(Error::NotIterable { program })
        }
        Err(Failure::Internal(error)) => Err(Error::Internal(error)),
    }
}

pub(crate) fn report(file: &Path, source: &str, diagnostics: &[Diagnostic], format: MessageFormat) {
    if diagnostics.is_empty() {
        return;
    }
    let name = file.display().to_string();
    let text = match format {
        MessageFormat::Human => {
            render_human(&name, source, diagnostics, std::io::stderr().is_terminal())
        }
        MessageFormat::Json => render_json(&name, source, diagnostics),
    };
    eprint!("{text}");
}

fn disassembly(object: &ObjectSpec) -> Result<String, Error> {
    let programs = object.programs.iter().map(|p| {
        (
            p.symbol.as_str(),
            p.section.as_str(),
            p.code.insns.as_slice(),
            p.code.relocations.as_slice(),
        )
    });
    listing(&object.maps, &object.data, programs)
}

/// The maps and data sections, then each program's disassembly, as `krsic disasm` and
/// `--emit asm` print them.
fn listing<'a>(
    maps: &[MapSpec],
    data: &[DataSection],
    programs: impl IntoIterator<Item = (&'a str, &'a str, &'a [Insn], &'a [MapRelocation])>,
) -> Result<String, Error> {
    let mut text = String::new();
    for map in maps {
        let _ = writeln!(
            text,
            "map {}: type {} key {} value {} entries {}",
            map.symbol, map.map_type, map.key_size, map.value_size, map.max_entries
        );
    }
    for section in data {
        let _ = writeln!(text, "data {}: {} bytes", section.name, section.bytes.len());
    }
    for (symbol, section, insns, relocations) in programs {
        let _ = writeln!(text, "\n{symbol} ({section}):");
        text.push_str(&disassemble_with(insns, relocations).map_err(|error| {
            Error::Disassembly {
                symbol: symbol.to_string(),
                error,
            }
        })?);
    }
    Ok(text)
}

pub(crate) struct Signals(libc::sigset_t);

impl Signals {
    /// A descriptor that becomes readable when SIGINT or SIGTERM arrives (they are blocked,
    /// so they queue there instead of killing the process).
    pub(crate) fn fd(&self) -> Result<std::os::fd::OwnedFd, Error> {
        use std::os::fd::FromRawFd as _;
        // SAFETY: the set was initialised by block_termination_signals.
        let fd = unsafe { libc::signalfd(-1, &self.0, libc::SFD_CLOEXEC) };
        if fd < 0 {
            return Err(Error::WaitForSignals(std::io::Error::last_os_error()));
        }
        // SAFETY: signalfd returned a new descriptor that nothing else owns.
        Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
    }

    /// Reads one signal from a descriptor made by [`Signals::fd`] that poll found readable.
    pub(crate) fn received(fd: &std::os::fd::OwnedFd) -> Option<&'static str> {
        // SAFETY: signalfd_siginfo is plain data.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        // SAFETY: reads one signalfd_siginfo into a buffer of exactly that size.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                std::mem::size_of::<libc::signalfd_siginfo>(),
            )
        };
        (n > 0).then_some(if info.ssi_signo == libc::SIGINT as u32 {
            "SIGINT"
        } else {
            "SIGTERM"
        })
    }
}

pub(crate) fn block_termination_signals() -> Result<Signals, Error> {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it, and
    // pthread_sigmask only changes this thread's mask (krsic has no other threads yet; the
    // threads `krsic serve` starts later inherit the mask).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(Error::BlockSignals);
        }
        Ok(Signals(set))
    }
}

/// Reports the programs could not send, so far: (ring full, over the rate limit).
type DropCounts<'a> = &'a dyn Fn() -> Result<(u64, u64), RuntimeError>;

/// Prints every report as a JSON line on stdout, and a line whenever reports were dropped,
/// until SIGINT or SIGTERM; returns which signal, and the drop counts at the end.
fn stream_reports(
    signals: &Signals,
    mut events: Option<&mut runtime::EventStream>,
    context: &ReportContext<'_>,
    output: Output,
    dropped: DropCounts<'_>,
) -> Result<(&'static str, (u64, u64)), Error> {
    // A pinned policy may have dropped reports before anyone followed; count from now.
    let mut last_dropped = dropped()?;
    let hostname = report::hostname();
    let signal_fd = signals.fd()?;
    let mut out = std::io::stdout().lock();
    let result = loop {
        let mut fds = [
            libc::pollfd {
                fd: signal_fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: events.as_ref().map_or(-1, |e| e.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: fds is a valid array of two pollfd; a negative fd is ignored by poll. Wake
        // up every second to report drops.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, 1000) };
        if ready < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break Err(Error::WaitForReports(error));
        }
        if let Some(events) = events.as_deref_mut() {
            events.drain(|bytes| {
                for line in
                    report::render(context.to_json(bytes), context, bytes, output, &hostname)
                {
                    let _ = writeln!(out, "{line}");
                }
            });
            let _ = out.flush();
        }
        let now_dropped = match dropped() {
            Ok(counts) => counts,
            Err(error) => break Err(Error::DropCounters(error)),
        };
        if now_dropped != last_dropped {
            let line = serde_json::json!({
                "time": report::rfc3339(report::realtime_offset_ns() + report::monotonic_ns()),
                "policy": context.policy,
                "dropped": {
                    "ring_full": now_dropped.0 - last_dropped.0,
                    "rate_limited": now_dropped.1 - last_dropped.1,
                },
            });
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
            last_dropped = now_dropped;
        }
        if fds[0].revents & libc::POLLIN != 0 {
            if let Some(signal) = Signals::received(&signal_fd) {
                break Ok((signal, last_dropped));
            }
        }
    };
    result
}
