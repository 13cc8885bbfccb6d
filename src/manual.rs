//! Man pages and shell completions, generated from the command-line definition itself, so they
//! can never describe options `krsic` does not have.

use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: Shell, out: &mut dyn Write) {
    let mut command = crate::Cli::command();
    clap_complete::generate(shell, &mut command, "krsic", out);
}

/// Writes `krsic.1` and one `krsic-SUBCOMMAND.1` page per subcommand into `dir`, returning the
/// files written.
pub fn write_man_pages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let command = crate::Cli::command();
    let mut written = vec![write_page(dir, "krsic", command.clone())?];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("krsic-{}", sub.get_name());
        // Named as the page's user types it (`man krsic-load`), with the parent in the title.
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("krsic {}", sub.get_name()));
        written.push(write_page(dir, &name, page)?);
    }
    Ok(written)
}

fn write_page(dir: &Path, name: &str, command: clap::Command) -> std::io::Result<PathBuf> {
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    std::fs::write(&path, page)?;
    Ok(path)
}
