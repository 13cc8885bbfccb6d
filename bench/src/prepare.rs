//! The host half, before a guest boots: compile every program of the comparison for one guest
//! kernel (krsi policies by `krsic build` against the kernel's BTF, C by clang), count the
//! instructions krsi's programs execute per event in the offline machine (`krsic test`), and
//! write the manifest the guest half reads.

use crate::generate::{c_program, krsi_policy, krsi_test_cases, map_keys, Form};
use crate::manifest::{Entry, Manifest, Target, MANIFEST};
use crate::workload::{Case, Design, Event, Kind, Mode, Plan};

/// The running kernel's BTF: what a native run compiles against.
pub const HOST_BTF: &str = "/sys/kernel/btf/vmlinux";
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use serde::{Deserialize, Serialize};
use std::hash::{Hash as _, Hasher as _};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Options {
    pub series: String,
    pub pin: String,
    /// The guest kernel's ELF image; its `.BTF` section is what `/sys/kernel/btf/vmlinux`
    /// shows inside the guest. `None` for the host's own kernel (a native run).
    pub vmlinux: Option<PathBuf>,
    pub out: PathBuf,
    pub krsic: PathBuf,
    pub clang: String,
    /// `clang --version`'s first line.
    pub clang_version: String,
    pub mode: Mode,
}

impl Options {
    /// Where the compiled programs run: as iterators for a native run, else on their hooks.
    fn form(&self) -> Form {
        match self.mode {
            Mode::Native => Form::Iterator,
            _ => Form::Hook,
        }
    }
}

pub fn prepare(options: &Options) -> Result<(), String> {
    std::fs::create_dir_all(&options.out).map_err(|e| format!("{}: {e}", options.out.display()))?;
    let btf = options.out.join("vmlinux.btf");
    match &options.vmlinux {
        Some(vmlinux) => run_quiet(
            Command::new("objcopy")
                .args(["-O", "binary", "--only-section=.BTF"])
                .arg(vmlinux)
                .arg(&btf),
        )
        .map_err(|e| format!("extracting the BTF of {}: {e}", vmlinux.display()))?,
        None => {
            std::fs::copy(HOST_BTF, &btf).map_err(|e| format!("{HOST_BTF}: {e}"))?;
        }
    }
    let plan = Plan::new(options.mode);
    let mut entries = Vec::new();
    for &event in &plan.events {
        for design in [Design::Empty, Design::PathFloor] {
            entries.push(compile_c(options, &btf, design, event, None, 0));
        }
        for &kind in &plan.kinds {
            for &rules in &plan.sizes {
                for design in [
                    Design::Clang,
                    Design::MapPrefix,
                    Design::MapExact,
                    Design::Krsi,
                ] {
                    if !design.holds(kind) {
                        continue;
                    }
                    let entry = if design == Design::Krsi {
                        compile_krsi(options, &btf, event, kind, rules)
                    } else {
                        compile_c(options, &btf, design, event, Some(kind), rules)
                    };
                    eprintln!(
                        "krsi-bench: {} {}{}",
                        entry.id,
                        entry
                            .compile_ms
                            .map(|ms| format!("compiled in {ms:.0} ms"))
                            .unwrap_or_default(),
                        entry
                            .refused
                            .as_deref()
                            .map(|r| format!(" refused: {r}"))
                            .unwrap_or_default()
                    );
                    entries.push(entry);
                }
            }
        }
    }
    let manifest = Manifest {
        series: options.series.clone(),
        pin: options.pin.clone(),
        plan,
        krsic: first_line(&output_of(Command::new(&options.krsic).arg("--version"))),
        revision: first_line(&output_of(
            Command::new("git").args(["describe", "--always", "--dirty"]),
        )),
        clang: options.clang_version.clone(),
        entries,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    let path = options.out.join(MANIFEST);
    std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))
}

pub(crate) fn new_entry(event: Event, design: Design, kind: Option<Kind>, rules: usize) -> Entry {
    let slug = match design {
        Design::Empty => "empty",
        Design::PathFloor => "floor",
        Design::Clang => "clang",
        Design::MapPrefix => "map-prefix",
        Design::MapExact => "map-exact",
        Design::Krsi => "krsi",
    };
    let id = match kind {
        Some(kind) => format!("{}-{slug}-{}-{rules}", event.name(), kind.name()),
        None => format!("{}-{slug}", event.name()),
    };
    Entry {
        id,
        event,
        design,
        kind,
        rules,
        object: None,
        targets: Vec::new(),
        map_keys: Vec::new(),
        refused: None,
        compile_ms: None,
        offline: Vec::new(),
        offline_error: None,
    }
}

fn compile_c(
    options: &Options,
    btf: &Path,
    design: Design,
    event: Event,
    kind: Option<Kind>,
    rules: usize,
) -> Entry {
    let form = options.form();
    let mut entry = new_entry(event, design, kind, rules);
    let rule_kind = kind.unwrap_or(Kind::Literal);
    let object = format!("{}.o", entry.id);
    let outcome = match clang(
        options,
        &entry.id,
        &c_program(design, event, rule_kind, rules, form),
    ) {
        Ok(outcome) => outcome,
        Err(e) => {
            entry.refused = Some(e);
            return entry;
        }
    };
    entry.compile_ms = Some(outcome.compile_ms);
    if let Some(e) = outcome.error {
        entry.refused = Some(format!("clang: {e}"));
        return entry;
    }
    entry.map_keys = map_keys(design, rule_kind, rules);
    if let (Design::Clang, Some(kind)) = (design, kind) {
        // The offline machine runs programs on their hook: an iterator's decision is
        // counted in its hook form, the same C.
        let counted = match form {
            Form::Hook => Ok(object.clone()),
            Form::Iterator => {
                let stem = format!("{}.hook", entry.id);
                let text = c_program(design, event, kind, rules, Form::Hook);
                match clang(options, &stem, &text) {
                    Ok(CachedCompile { error: None, .. }) => Ok(format!("{stem}.o")),
                    Ok(CachedCompile { error: Some(e), .. }) | Err(e) => Err(e),
                }
            }
        };
        let counts = counted.and_then(|counted| {
            crate::offline::clang_counts(btf, &options.out.join(counted), event, kind, rules)
        });
        match counts {
            Ok(counts) => entry.offline = counts,
            Err(e) => entry.offline_error = Some(e),
        }
    }
    finish_object(options, entry, object)
}

/// Compiles `text` into `{stem}.o` in the stage directory (from the cache when it holds it),
/// writing the source beside it as `{stem}.bpf.c`.
fn clang(options: &Options, stem: &str, text: &str) -> Result<CachedCompile, String> {
    let source = options.out.join(format!("{stem}.bpf.c"));
    let object = format!("{stem}.o");
    std::fs::write(&source, text).map_err(|e| format!("writing {}: {e}", source.display()))?;
    // The C is the same for every kernel (CO-RE resolves offsets at load time): compile it
    // once, for the kernels after the first and for later runs (keyed by clang's version
    // and the source).
    let cache = std::env::var_os("KRSI_BENCH_CLANG_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            options
                .out
                .parent()
                .unwrap_or(&options.out)
                .join("clang-cache")
        });
    let mut hasher = std::hash::DefaultHasher::new();
    options.clang_version.hash(&mut hasher);
    text.hash(&mut hasher);
    let key = format!("{:016x}", hasher.finish());
    let (cached_object, cached_result) = (
        cache.join(format!("{key}.o")),
        cache.join(format!("{key}.json")),
    );
    let outcome: Option<CachedCompile> = std::fs::read_to_string(&cached_result)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let outcome = match outcome {
        Some(outcome)
            if outcome.error.is_some()
                || std::fs::copy(&cached_object, options.out.join(&object)).is_ok() =>
        {
            outcome
        }
        _ => {
            let started = Instant::now();
            let result = run_quiet(
                Command::new(&options.clang)
                    .args([
                        "-O2",
                        "-g",
                        "-target",
                        "bpf",
                        "-mcpu=v3",
                        "-D__TARGET_ARCH_x86",
                        // Debian keeps <asm/types.h> (which <linux/bpf.h> needs) under the
                        // multiarch directory, which clang does not search for `-target bpf`.
                        &format!("-I/usr/include/{}-linux-gnu", std::env::consts::ARCH),
                        "-c",
                    ])
                    .arg(&source)
                    .arg("-o")
                    .arg(options.out.join(&object)),
            );
            let outcome = CachedCompile {
                compile_ms: started.elapsed().as_secs_f64() * 1e3,
                error: result.err().map(|e| first_error(&e)),
            };
            // A failed cache write only costs the next kernel a compile.
            if std::fs::create_dir_all(&cache).is_ok()
                && (outcome.error.is_some()
                    || std::fs::copy(options.out.join(&object), &cached_object).is_ok())
            {
                if let Ok(json) = serde_json::to_string(&outcome) {
                    let _ = std::fs::write(&cached_result, json);
                }
            }
            outcome
        }
    };
    Ok(outcome)
}

/// What clang did with a source, kept for the next kernel's stage.
#[derive(Serialize, Deserialize)]
struct CachedCompile {
    compile_ms: f64,
    error: Option<String>,
}

fn compile_krsi(options: &Options, btf: &Path, event: Event, kind: Kind, rules: usize) -> Entry {
    let form = options.form();
    let mut entry = new_entry(event, Design::Krsi, Some(kind), rules);
    let source = options.out.join(format!("{}.krsi", entry.id));
    let object = format!("{}.o", entry.id);
    if let Err(e) = std::fs::write(&source, krsi_policy(event, kind, rules)) {
        entry.refused = Some(format!("writing {}: {e}", source.display()));
        return entry;
    }
    let started = Instant::now();
    let result = run_quiet(
        Command::new(&options.krsic)
            .arg("build")
            .arg("--btf")
            .arg(btf)
            .args(match form {
                Form::Hook => &[][..],
                Form::Iterator => &["--attach", "task-file-iter"][..],
            })
            .arg(&source)
            .arg("-o")
            .arg(options.out.join(&object)),
    );
    entry.compile_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    if let Err(e) = result {
        entry.refused = Some(format!("krsic: {}", first_error(&e)));
        return entry;
    }
    // The offline machine runs the policy on its hook: the iterator's decision is that code.
    match offline_counts(options, btf, &source, rules) {
        Ok(counts) => entry.offline = counts,
        Err(e) => entry.offline_error = Some(e),
    }
    finish_object(options, entry, object)
}

/// Runs the policy's `test` items in the offline machine and averages the instructions
/// executed per case.
fn offline_counts(
    options: &Options,
    btf: &Path,
    source: &Path,
    rules: usize,
) -> Result<Vec<(Case, f64)>, String> {
    let output = Command::new(&options.krsic)
        .arg("test")
        .arg("--btf")
        .arg(btf)
        .arg(source)
        .output()
        .map_err(|e| format!("running krsic test: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let failed = stdout
            .lines()
            .chain(String::from_utf8_lossy(&output.stderr).lines())
            .find(|l| l.contains("compiled:") || l.contains("error"))
            .map(|l| l.trim().to_string())
            .unwrap_or_else(|| format!("krsic test exited with {}", output.status));
        return Err(failed);
    }
    let counts: Vec<u64> = stdout
        .lines()
        .filter(|l| l.starts_with("ok "))
        .filter_map(|l| {
            let (_, tail) = l.rsplit_once('(')?;
            tail.strip_suffix(" BPF instructions)")?.parse().ok()
        })
        .collect();
    let cases = krsi_test_cases(rules);
    if counts.len() != cases.len() {
        return Err(format!(
            "krsic test reported {} counts for {} tests",
            counts.len(),
            cases.len()
        ));
    }
    Ok(Case::ALL
        .iter()
        .filter_map(|&case| {
            let of_case: Vec<u64> = cases
                .iter()
                .zip(&counts)
                .filter(|(c, _)| **c == case)
                .map(|(_, n)| *n)
                .collect();
            (!of_case.is_empty()).then(|| {
                (
                    case,
                    of_case.iter().sum::<u64>() as f64 / of_case.len() as f64,
                )
            })
        })
        .collect())
}

/// Records the object's programs (a program per global `lsm/<hook>` or `iter/task_file`
/// function symbol; the local ones are functions the programs call, such as krsi's report
/// function). An iterator's target names its iterator, `task_file`.
fn finish_object(options: &Options, mut entry: Entry, object: String) -> Entry {
    match lsm_targets(&options.out.join(&object)) {
        Ok(targets) if !targets.is_empty() => {
            entry.targets = targets;
            entry.object = Some(object);
        }
        Ok(_) => entry.refused = Some("the object has no program".into()),
        Err(e) => entry.refused = Some(e),
    }
    entry
}

fn lsm_targets(path: &Path) -> Result<Vec<Target>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = object::File::parse(&*bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut targets = Vec::new();
    for symbol in file.symbols() {
        if symbol.kind() != SymbolKind::Text || symbol.size() == 0 || !symbol.is_global() {
            continue;
        }
        let Some(index) = symbol.section_index() else {
            continue;
        };
        let Ok(section) = file.section_by_index(index) else {
            continue;
        };
        let (Ok(name), Ok(section_name)) = (symbol.name(), section.name()) else {
            continue;
        };
        if let Some(hook) = section_name
            .strip_prefix("lsm/")
            .or_else(|| section_name.strip_prefix("lsm.s/"))
            .or_else(|| section_name.strip_prefix("iter/"))
        {
            targets.push(Target {
                symbol: name.to_string(),
                hook: hook.to_string(),
            });
        }
    }
    Ok(targets)
}

/// How long one compiler run may take before the program counts as refused: clang needs
/// minutes for 10,000 compare chains, and the comparison must still finish.
const COMPILE_LIMIT: Duration = Duration::from_secs(120);

/// Runs a command for at most [`COMPILE_LIMIT`]; on failure, its stderr (or status).
fn run_quiet(command: &mut Command) -> Result<(), String> {
    let program = format!("{:?}", command.get_program());
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    // Read stderr on a thread so that a chatty compiler never blocks on a full pipe.
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = stderr {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > COMPILE_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    let stderr = reader.join().unwrap_or_default();
    match status {
        Some(status) if status.success() => Ok(()),
        None => Err(format!(
            "error: gave up after {} s",
            COMPILE_LIMIT.as_secs()
        )),
        Some(status) => {
            let stderr = stderr.trim();
            Err(if stderr.is_empty() {
                format!("exited with {status}")
            } else {
                stderr.to_string()
            })
        }
    }
}

pub fn output_of(command: &mut Command) -> String {
    command
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

pub fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

/// The first line that says what went wrong (a diagnostic's `error[E…]: …` line).
fn first_error(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.contains("error"))
        .or_else(|| stderr.lines().next())
        .unwrap_or("")
        .trim()
        .to_string()
}
