//! Man pages and shell completions are generated from the command-line definition: every
//! subcommand gets a page that documents its options, and the shells complete subcommands and
//! options for real (bash is driven through its completion function).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn krsic(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_krsic"))
        .args(args)
        .output()
        .expect("krsic runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The subcommands `krsic --help` lists.
fn subcommands() -> Vec<String> {
    let help = krsic(&["--help"]);
    let commands = help
        .split("Commands:")
        .nth(1)
        .expect("a Commands section")
        .split("Options:")
        .next()
        .expect("text before Options");
    let names: Vec<String> = commands
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(String::from)
        .collect();
    assert!(names.len() >= 10, "too few subcommands read: {names:?}");
    names
}

#[test]
fn every_subcommand_has_a_man_page_with_its_options() {
    let dir = std::env::temp_dir().join(format!("krsic-man-{}", std::process::id()));
    let written = krsic(&["man", "--dir", dir.to_str().unwrap()]);
    let main = std::fs::read_to_string(dir.join("krsic.1")).expect("krsic.1");
    assert!(main.contains(".TH krsic 1"), "{main}");
    for name in subcommands() {
        let file = dir.join(format!("krsic-{name}.1"));
        assert!(written.contains(file.to_str().unwrap()), "{written}");
        let page = std::fs::read_to_string(&file).expect("the subcommand's page");
        assert!(page.contains(&format!(".TH krsic-{name} 1")), "{page}");
        assert!(page.contains(".SH SYNOPSIS"), "{page}");
        assert!(page.contains(&format!("krsic {name}")), "{page}");
    }
    let load = std::fs::read_to_string(dir.join("krsic-load.1")).unwrap();
    for option in ["\\-\\-cgroup", "\\-\\-pin", "\\-\\-bpffs", "\\-\\-mode"] {
        assert!(
            load.contains(option),
            "krsic-load.1 lacks {option}:\n{load}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn man_refuses_a_directory_it_cannot_create() {
    let out = Command::new(env!("CARGO_BIN_EXE_krsic"))
        .args(["man", "--dir", "/proc/krsic-man"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write man pages into `/proc/krsic-man`"),
        "{stderr}"
    );
}

/// What bash's completion function offers after `words` (the last one being completed).
fn bash_completes(words: &[&str]) -> Vec<String> {
    let script = krsic(&["completions", "bash"]);
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let driver = format!(
        "{script}\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\n_krsic krsic '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &driver])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_options() {
    let offered = bash_completes(&["krsic", "lo"]);
    assert_eq!(offered, vec!["load".to_string()]);
    let offered = bash_completes(&["krsic", "load", "--pi"]);
    assert_eq!(offered, vec!["--pin".to_string()]);
    let offered = bash_completes(&["krsic", "load", "--mode", ""]);
    assert_eq!(offered, vec!["enforce".to_string(), "audit".to_string()]);
}

#[test]
fn zsh_and_fish_scripts_name_every_subcommand() {
    let zsh = krsic(&["completions", "zsh"]);
    let fish = krsic(&["completions", "fish"]);
    assert!(zsh.starts_with("#compdef krsic"), "{zsh}");
    for name in subcommands() {
        assert!(zsh.contains(&format!("'{name}:")), "zsh lacks {name}");
        assert!(
            fish.contains(&format!("-a \"{name}\"")),
            "fish lacks {name}"
        );
    }
}
