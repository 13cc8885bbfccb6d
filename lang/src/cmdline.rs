//! An exec's command line as an event holds it and as a program computes it.
//!
//! The kernel copies the new program's arguments into its stack (fs/exec.c, `copy_strings`
//! in `do_execveat_common`), each followed by its NUL, `bprm->argc` of them from `bprm->p` on.
//! An event's `cmdline` value is that block, so that the arguments stay apart (one may
//! contain a space). The program joins at most [`ARGV_MAX`] arguments into a buffer of
//! [`STRING_CAP`] bytes, each but the last followed by its NUL, as the block is; more
//! arguments or a longer block are unknown (a kill or audit rule on it matches: fail
//! closed). Every test on the command line is a test on that block:
//!
//! - `cmdline` is the arguments joined by single spaces, as Falco's `proc.cmdline` shows
//!   them: a test on it reads each separating NUL as the space the line has there
//!   ([`line_glob`]);
//! - `argv[i]` is argument `i`, and `argv` any argument: a test on them is a glob on the
//!   block that places the argument between separators ([`argument_glob`]), so an argument
//!   holding a space is never read as two.

use crate::glob::{Glob, Token};
use crate::limits::{ARGV_MAX, STRING_CAP};

/// The kernel's block for `args`: each argument followed by its NUL.
pub fn block<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut block = Vec::new();
    for arg in args {
        block.extend_from_slice(arg.as_ref());
        block.push(0);
    }
    block
}

/// The arguments of a block, in order (a last argument without its NUL counts too).
pub fn arguments(block: &[u8]) -> Vec<&[u8]> {
    let mut args: Vec<&[u8]> = block.split(|&b| b == 0).collect();
    if block.last() == Some(&0) || block.is_empty() {
        args.pop();
    }
    args
}

/// The arguments separated by NULs (the block without its last NUL), as the program joins
/// them, if it can: at most [`ARGV_MAX`] arguments, and the line with its NUL shorter than
/// [`STRING_CAP`] (a full buffer cannot be told from a cut one).
pub fn joined(block: &[u8]) -> Option<Vec<u8>> {
    let args = arguments(block);
    if args.is_empty() || args.len() > ARGV_MAX {
        return None;
    }
    let line = args.join(&0);
    (line.len() + 1 < STRING_CAP).then_some(line)
}

/// The joined arguments as a person reads them: each separating NUL shown as a space.
pub fn shown(joined: &[u8]) -> Vec<u8> {
    joined
        .iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect()
}

/// A test that accepts no byte: a NUL in a pattern, which no argument and no line holds.
fn nothing() -> Token {
    Token::Class {
        ranges: Vec::new(),
        negated: false,
    }
}

/// `ranges` without the NUL byte, and with it when `with_nul`.
fn nul_in(ranges: &[(u8, u8)], with_nul: bool) -> Vec<(u8, u8)> {
    let mut out: Vec<(u8, u8)> = ranges
        .iter()
        .filter_map(|&(lo, hi)| match lo {
            0 if hi == 0 => None,
            0 => Some((1, hi)),
            _ => Some((lo, hi)),
        })
        .collect();
    if with_nul {
        out.push((0, 0));
    }
    out
}

/// A glob on the line (`cmdline`) as a glob on the joined block: a byte test that takes a
/// space takes the NUL that stands for it, and one that refuses a space refuses it (stars
/// and `?` already take both). The pattern stays: it means what it says on the line.
pub fn line_glob(glob: &Glob) -> Glob {
    let on_block = |token: &Token| match token {
        Token::Byte(b' ') => Token::Class {
            ranges: vec![(0, 0), (b' ', b' ')],
            negated: false,
        },
        Token::Byte(0) => nothing(),
        Token::Class { ranges, negated } => {
            let space = ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&b' '));
            Token::Class {
                ranges: nul_in(ranges, space),
                negated: *negated,
            }
        }
        other => other.clone(),
    };
    Glob {
        pattern: glob.pattern.clone(),
        alternatives: glob
            .alternatives
            .iter()
            .map(|a| a.iter().map(on_block).collect())
            .collect(),
    }
}

/// The exact string `text` as a glob whose pattern says it (metacharacters escaped).
pub fn literal_glob(text: &[u8]) -> Glob {
    let mut pattern = String::new();
    for c in String::from_utf8_lossy(text).chars() {
        if "\\*?[]{},".contains(c) {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    Glob {
        pattern,
        alternatives: vec![text.iter().map(|&b| Token::Byte(b)).collect()],
    }
}

/// A glob on one argument (`index`) or on any argument (`None`) of the joined block: the
/// argument is the whole block, or follows `index` arguments each ended by its NUL (any
/// number, for any argument), and ends the block or its NUL does. Inside the argument no
/// token takes the NUL: `*` and `**` stop at it, `?` and classes refuse it, and a NUL in
/// the pattern matches nothing. An argument past the last (`index` >= argc) is no string:
/// the glob does not match.
pub fn argument_glob(glob: &Glob, index: Option<usize>) -> Glob {
    let within = |token: &Token| match token {
        Token::Star => Token::ArgStar,
        Token::DoubleStar => Token::ArgDoubleStar,
        Token::AnyByte => Token::Class {
            ranges: vec![(0, 0)],
            negated: true,
        },
        Token::Byte(0) => nothing(),
        Token::Class { ranges, negated } => Token::Class {
            ranges: nul_in(ranges, *negated),
            negated: *negated,
        },
        other => other.clone(),
    };
    let before: Vec<Vec<Token>> = match index {
        Some(i) => vec![(0..i)
            .flat_map(|_| [Token::ArgDoubleStar, Token::Byte(0)])
            .collect()],
        None => vec![Vec::new(), vec![Token::DoubleStar, Token::Byte(0)]],
    };
    let after = [Vec::new(), vec![Token::Byte(0), Token::DoubleStar]];
    let mut alternatives: Vec<Vec<Token>> = Vec::new();
    for alternative in &glob.alternatives {
        let argument: Vec<Token> = alternative.iter().map(within).collect();
        for b in &before {
            for a in &after {
                let tokens = [b.as_slice(), &argument, a].concat();
                if !alternatives.contains(&tokens) {
                    alternatives.push(tokens);
                }
            }
        }
    }
    let pattern = match index {
        Some(i) => format!("argv[{i}] ~ {}", glob.pattern),
        None => format!("argv ~ {}", glob.pattern),
    };
    Glob {
        pattern,
        alternatives,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_keep_spaces_and_empty_ones() {
        let b = block(&["/bin/sh", "-c", "echo x", "", "--donate-level"]);
        assert_eq!(arguments(&b).len(), 5);
        assert_eq!(
            shown(&joined(&b).unwrap()),
            b"/bin/sh -c echo x  --donate-level".to_vec()
        );
    }

    fn line(pattern: &str, args: &[&str]) -> bool {
        let glob = line_glob(&Glob::parse(pattern).unwrap());
        glob.matches(&joined(&block(args)).unwrap())
    }

    fn arg(pattern: &str, index: Option<usize>, args: &[&str]) -> bool {
        let glob = argument_glob(&Glob::parse(pattern).unwrap(), index);
        glob.matches(&joined(&block(args)).unwrap())
    }

    #[test]
    fn a_line_glob_reads_separators_as_spaces() {
        let args = ["/bin/sh", "-c", "echo x", "--donate-level"];
        assert!(line("** -c echo x **", &args));
        assert!(line("**--donate-level", &args));
        assert!(line("/bin/sh[ ]-c*", &args));
        assert!(!line("/bin/sh[! ]-c*", &args));
        assert!(!line("*--donate-level", &args));
        assert!(line("a b", &["a b"]) && line("a b", &["a", "b"]));
        assert!(!line("a\x00b", &["a", "b"]));
    }

    #[test]
    fn an_argument_glob_stays_inside_its_argument() {
        let args = ["/bin/sh", "-c", "echo x", "", "--y"];
        assert!(arg("-c", Some(1), &args));
        assert!(!arg("-c", Some(2), &args));
        assert!(arg("echo x", Some(2), &args));
        assert!(!arg("echo", Some(2), &args));
        assert!(arg("", Some(3), &args));
        assert!(arg("--y", Some(4), &args));
        // Past the last argument: no string, not even the empty one.
        assert!(!arg("", Some(5), &args) && !arg("**", Some(5), &args));
        assert!(arg("/bin/*", Some(0), &args) && !arg("*", Some(0), &args));
        assert!(arg("**", Some(0), &args));
        // `**` and `?` do not cross into the next argument.
        assert!(arg("-c**", Some(1), &["x", "-c", "y"]));
        assert!(!arg("-c**y", Some(1), &["x", "-c", "y"]));
        assert!(!arg("-c?y", Some(1), &["x", "-c", "y"]));
        assert!(!arg("-c**y", None, &["x", "-c", "y"]));
        assert!(arg("echo x", None, &args) && !arg("echo", None, &args));
        assert!(arg("--*", None, &args) && arg("/bin/sh", None, &args));
        assert!(arg("", None, &args) && !arg("", None, &["a", "b"]));
        assert!(!arg("c e", None, &args));
    }

    #[test]
    fn past_the_bounds_is_unknown() {
        let many: Vec<String> = (0..=ARGV_MAX).map(|i| i.to_string()).collect();
        assert_eq!(joined(&block(&many)), None);
        assert!(joined(&block(&many[..ARGV_MAX])).is_some());
        // 4,094 bytes and the NUL fit the 4,096-byte buffer's 4,095 that are known.
        let fits = "x".repeat(STRING_CAP - 2);
        assert_eq!(
            joined(&block(&[&fits])).map(|l| l.len()),
            Some(STRING_CAP - 2)
        );
        let full = "x".repeat(STRING_CAP - 1);
        assert_eq!(joined(&block(&[&full])), None);
        assert_eq!(joined(&block(&["a", &fits])), None);
    }
}
