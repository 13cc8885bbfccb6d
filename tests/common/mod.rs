//! Shared by the host-side integration tests.

use compiler::btf::Btf;
use std::path::Path;

/// The checked-in BTF fixture: the hooks and structs krsi reads, cut from a real kernel's BTF,
/// so that tests do not depend on the host kernel.
pub const FIXTURE: &str = "tests/fixtures/btf/host-6.18.btf";

pub fn fixture_kernel() -> Btf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let bytes = std::fs::read(&path).expect("BTF fixture present");
    Btf::parse(&bytes)
        .expect("fixture parses")
        .with_description("the fixture kernel")
}

/// Each test binary that includes `common` uses only some of it.
#[allow(dead_code)]
pub mod glob_reference;
