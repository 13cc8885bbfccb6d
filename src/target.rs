//! The kernel a policy is checked and compiled for: its BTF, from the running kernel or a file.

use crate::error::Error;
use compiler::btf::Btf;
use std::path::Path;

/// The running kernel's BTF.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

pub fn kernel_types(btf: Option<&Path>) -> Result<Btf, Error> {
    let (path, description) = match btf {
        Some(path) => (path, format!("the kernel of `{}`", path.display())),
        None => (Path::new(KERNEL_BTF), "the running kernel".to_string()),
    };
    let bytes = std::fs::read(path).map_err(|error| match btf {
        None => Error::KernelBtf(error),
        Some(_) => Error::Read {
            path: path.to_path_buf(),
            error,
        },
    })?;
    let parsed = if bytes.starts_with(b"\x7fELF") {
        Btf::parse_elf(&bytes)
    } else {
        Btf::parse(&bytes)
    };
    parsed
        .map(|btf| btf.with_description(description))
        .map_err(|error| Error::NotBtf {
            path: path.to_path_buf(),
            error,
        })
}
