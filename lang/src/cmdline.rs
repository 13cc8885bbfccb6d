//! An exec's command line as an event holds it and as a program computes it.
//!
//! The kernel copies the new program's arguments into its stack (fs/exec.c, `copy_strings`
//! in `do_execveat_common`), each followed by its NUL, `bprm->argc` of them from `bprm->p` on.
//! An event's `cmdline` value is that block, so that the arguments stay apart (one may
//! contain a space); what rules test is the arguments joined by single spaces, as Falco's
//! `proc.cmdline` shows them. The program joins at most [`ARGV_MAX`] arguments into a buffer
//! of [`STRING_CAP`] bytes, NUL included; more arguments or a longer line are unknown (a kill
//! or audit rule on it matches: fail closed).

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

/// The arguments joined by single spaces, if the program can compute it: at most
/// [`ARGV_MAX`] arguments, and the line with its NUL shorter than [`STRING_CAP`] (a full
/// buffer cannot be told from a cut one).
pub fn joined(block: &[u8]) -> Option<Vec<u8>> {
    let args = arguments(block);
    if args.is_empty() || args.len() > ARGV_MAX {
        return None;
    }
    let line = args.join(&b' ');
    (line.len() + 1 < STRING_CAP).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_keep_spaces_and_empty_ones() {
        let b = block(&["/bin/sh", "-c", "echo x", "", "--donate-level"]);
        assert_eq!(arguments(&b).len(), 5);
        assert_eq!(
            joined(&b).unwrap(),
            b"/bin/sh -c echo x  --donate-level".to_vec()
        );
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
