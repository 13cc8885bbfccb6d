//! The limits that decide when a compiled program cannot compute a value, and so fails closed.
//!
//! A value past one of these limits is *unknown*: a test on it makes a deny or audit rule
//! match and an allow rule not match (see [`crate::eval`]). The reference evaluator and the
//! code generator must draw the line at the same byte, or the compiled program decides
//! differently from the language's meaning; so each limit is defined here, once, and both
//! read it. Counts and lengths are `usize` here; the code generator narrows them to its
//! 32-bit immediates.

/// Room for a string the program reads into its buffer, NUL included: `PATH_MAX` (4096), the
/// longest path the kernel itself resolves (`bpf_d_path` fails beyond it). A power of two:
/// the code generator masks buffer positions with `STRING_CAP - 1` so that the verifier can
/// bound every write.
pub const STRING_CAP: usize = 4096;

/// How many components (names between `/`) a walked path may have; a deeper one is unknown.
/// The walk is a loop the verifier follows to its bound (components plus [`WALK_MOUNTS`]), so
/// the bound is kept small; 40 is far deeper than the paths policies name or systems use.
pub const WALK_COMPONENTS: usize = 40;

/// How many components a walked path held in fewer than [`STRING_CAP`] bytes (an ancestor's
/// executable, `catalog::ANCESTOR_EXE_CAP`) may have. Eight such walks share a program, each
/// a loop the verifier follows to its bound: at 40 components they cost 450,000 processed
/// instructions on 6.1. An executable's path rarely has more than five components; a deeper
/// one is unknown and fails closed.
pub const SHORT_WALK_COMPONENTS: usize = 16;

/// How many components a walked path held in `cap` bytes may have: [`WALK_COMPONENTS`], or
/// [`SHORT_WALK_COMPONENTS`] for a buffer shorter than [`STRING_CAP`].
pub fn walk_components(cap: usize) -> usize {
    if cap < STRING_CAP {
        SHORT_WALK_COMPONENTS
    } else {
        WALK_COMPONENTS
    }
}

/// How many mount crossings a walk may make besides its components; more make the path
/// unknown. A path crosses one mount per file system it passes through: a container's
/// overlay root, a bind mount or two; 8 leaves room for nesting while keeping the loop bound,
/// [`WALK_COMPONENTS`] + 8 steps, small.
pub const WALK_MOUNTS: usize = 8;

/// The longest name the kernel gives a dentry (`NAME_MAX`); a walked path with a longer
/// component is unknown (it cannot occur on a real file system, but a read of a corrupt or
/// racing name must not overrun the buffer). One less than a power of two: the code generator
/// uses it as a mask on the length it hands a helper.
pub const NAME_MAX: usize = 255;

/// How many arguments an exec's command line (`cmdline`) joins; with more it is unknown. The
/// join is one unrolled step per argument, 17 instructions each; the verifier's cost was
/// measured at 2,525 processed instructions for 32 on 6.1 (600 to 8,640 for 8 to 128 on
/// 6.12; tests/kernel/tests/argv.rs). 32 arguments hold the command lines rules name (a miner's
/// pool options, a shell's `-c`); a longer one fails closed.
pub const ARGV_MAX: usize = 32;
