//! `krsi-bench`: the halves of the benchmark command `scripts/bench` (book:
//! performance.md).
//!
//!   krsi-bench prepare --series S --pin PIN --vmlinux FILE --out DIR [--quick | --scale | --globs]
//!   krsi-bench prepare --native --series host --pin PIN --out DIR
//!   krsi-bench guest STAGE_DIR
//!   krsi-bench native STAGE_DIR
//!   krsi-bench report --stage DIR --page FILE --plot FILE
//!
//! `prepare` (host) compiles every compared program for one guest kernel, or with `--native`
//! for the host's own; `guest` runs inside that guest (tests/guest/run --bench) and prints one
//! result line per program; `native` does the same on the host, with each program's decision
//! run by an iterator (see `native`); `report` (host) writes the book's page from the
//! manifests and the guests' console logs.

mod generate;
mod guest;
mod manifest;
mod native;
mod offline;
mod prepare;
mod report;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage:
  krsi-bench prepare --series S --pin PIN --vmlinux FILE --out DIR [--quick | --scale | --globs]
  krsi-bench prepare --native --series host --pin PIN --out DIR
      (environment: KRSIC = the krsic to measure, CLANG = clang, default `clang`;
       KRSI_BENCH_CLANG_CACHE = where compiled C is kept, default DIR/../clang-cache)
  krsi-bench guest STAGE_DIR
  krsi-bench native STAGE_DIR
  krsi-bench report --stage DIR --page FILE --plot FILE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("prepare") => prepare_command(&args[1..]),
        Some("guest") => match args.get(1) {
            Some(stage) => guest::run(&PathBuf::from(stage), guest::Harness::Guest),
            None => Err(USAGE.into()),
        },
        Some("native") => match args.get(1) {
            Some(stage) => guest::run(&PathBuf::from(stage), guest::Harness::Native),
            None => Err(USAGE.into()),
        },
        Some("report") => report_command(&args[1..]),
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("krsi-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--name value` pairs and bare flags.
struct Flags(Vec<String>);

impl Flags {
    fn value(&self, name: &str) -> Result<String, String> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .cloned()
            .ok_or_else(|| format!("missing {name}\n{USAGE}"))
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
}

fn prepare_command(args: &[String]) -> Result<(), String> {
    let flags = Flags(args.to_vec());
    let krsic = std::env::var_os("KRSIC")
        .map(PathBuf::from)
        .ok_or("KRSIC must name the krsic executable to measure")?;
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let clang_version = prepare::first_line(&prepare::output_of(
        std::process::Command::new(&clang).arg("--version"),
    ));
    prepare::prepare(&prepare::Options {
        series: flags.value("--series")?,
        pin: flags.value("--pin")?,
        vmlinux: if flags.has("--native") {
            None
        } else {
            Some(flags.value("--vmlinux")?.into())
        },
        out: flags.value("--out")?.into(),
        krsic,
        clang,
        clang_version,
        mode: if flags.has("--native") {
            workload::Mode::Native
        } else if flags.has("--quick") {
            workload::Mode::Quick
        } else if flags.has("--scale") {
            workload::Mode::Scale
        } else if flags.has("--globs") {
            workload::Mode::Globs
        } else {
            workload::Mode::Full
        },
    })
}

fn report_command(args: &[String]) -> Result<(), String> {
    let flags = Flags(args.to_vec());
    report::write(
        &PathBuf::from(flags.value("--stage")?),
        &PathBuf::from(flags.value("--page")?),
        &PathBuf::from(flags.value("--plot")?),
    )
}
