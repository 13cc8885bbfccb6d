//! Shared by the host-side integration tests.

use compiler::btf::Btf;
use std::path::Path;

/// The checked-in BTF fixture: the hooks and structs krsi reads, cut from a real kernel's BTF,
/// so that tests do not depend on the host kernel.
#[allow(dead_code)] // not every test that shares this module uses it
pub const FIXTURE: &str = "tests/fixtures/btf/host-6.18.btf";

#[allow(dead_code)]
pub fn fixture_kernel() -> Btf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let bytes = std::fs::read(&path).expect("BTF fixture present");
    Btf::parse(&bytes)
        .expect("fixture parses")
        .with_description("the fixture kernel")
}

/// Runs the krsic this package built, from the repository's root, to completion.
#[allow(dead_code)]
pub fn krsic(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_krsic"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("krsic runs")
}

/// The `.krsi` files of a directory of the repository, sorted.
#[allow(dead_code)]
pub fn krsi_files(dir: &str) -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .expect("a directory of the repository")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "krsi"))
        .collect();
    files.sort();
    files
}

/// Each test binary that includes `common` uses only some of it.
#[allow(dead_code)]
pub mod glob_reference;

/// The namespace attributes every event has (`ns.mnt`, `ns.net`, ...), as the catalog lists
/// them: the event models give each one a value.
#[allow(dead_code)]
pub fn namespace_attributes() -> impl Iterator<Item = &'static str> {
    lang::catalog::PROCESS_ATTRIBUTES
        .iter()
        .map(|a| a.name)
        .filter(|name| name.starts_with("ns."))
}
