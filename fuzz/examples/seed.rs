//! Writes seed inputs for the binary targets: compiles tests/ui/*.krsi and examples/*.krsi
//! against the BTF fixture and stores each ELF object in corpus/elf_read/ and each program's
//! code in corpus/bpf_roundtrip/. Run from fuzz/ by scripts/fuzz:
//! `cargo run --release --example seed -- ..`.

use std::path::{Path, PathBuf};

use compiler::btf::Btf;
use compiler::ir::{Scope, Target};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "..".into()));
    let kernel = Btf::parse(&std::fs::read(
        root.join("tests/fixtures/btf/host-6.18.btf"),
    )?)?;
    let elf_dir = Path::new("corpus/elf_read");
    let code_dir = Path::new("corpus/bpf_roundtrip");
    std::fs::create_dir_all(elf_dir)?;
    std::fs::create_dir_all(code_dir)?;
    let mut written = 0;
    for dir in ["tests/ui", "examples"] {
        for entry in std::fs::read_dir(root.join(dir))?.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|x| x != "krsi") {
                continue;
            }
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("case");
            // A case that is not UTF-8 (tests/ui/not_utf8.krsi) compiles to nothing.
            let Ok(source) = String::from_utf8(std::fs::read(&path)?) else {
                continue;
            };
            let Some(checked) = lang::front_end(&source, &kernel).0 else {
                continue;
            };
            for scope in [Scope::Global, Scope::Cgroup] {
                let object = compiler::compile(&checked, Target::new(scope))?;
                let name = format!("{stem}-{scope:?}");
                std::fs::write(elf_dir.join(format!("{name}.o")), &object.elf)?;
                for program in &object.spec.programs {
                    let file = format!("{name}-{}.bin", program.symbol);
                    std::fs::write(code_dir.join(file), program.code.to_bytes())?;
                }
                written += 1;
            }
        }
    }
    eprintln!("seed: wrote {written} objects");
    Ok(())
}
