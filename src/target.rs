//! The kernel a policy is checked and compiled for: its BTF, from the running kernel or a file.

use compiler::btf::Btf;
use std::path::Path;

/// The running kernel's BTF.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

pub fn kernel_types(btf: Option<&Path>) -> Result<Btf, String> {
    let (path, description) = match btf {
        Some(path) => (path, format!("the kernel of `{}`", path.display())),
        None => (Path::new(KERNEL_BTF), "the running kernel".to_string()),
    };
    let bytes = std::fs::read(path).map_err(|e| {
        if btf.is_none() {
            format!(
                "cannot read the running kernel's BTF at {KERNEL_BTF} ({e}); krsi needs a kernel \
                 built with CONFIG_DEBUG_INFO_BTF=y, or a BTF file given with `--btf FILE`"
            )
        } else {
            format!("cannot read `{}`: {e}", path.display())
        }
    })?;
    let parsed = if bytes.starts_with(b"\x7fELF") {
        Btf::parse_elf(&bytes)
    } else {
        Btf::parse(&bytes)
    };
    parsed
        .map(|btf| btf.with_description(description))
        .map_err(|e| format!("`{}` is not usable BTF: {e}", path.display()))
}
