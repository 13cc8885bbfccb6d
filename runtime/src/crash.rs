//! Test-only fault injection: `KRSI_CRASH_AT=STEP[#N]` kills krsic with SIGKILL right after
//! the N-th time (default the first) it completes STEP of pinning, replacing or unloading a
//! policy. The kernel tests use it to prove that a death at any step leaves exactly one
//! complete version of a policy enforced, and that re-running the command finishes the job
//! (book: "Pinned policies survive a crash"). Nothing sets it in normal use; an unknown STEP
//! never matches, so it changes nothing.
//!
//! The steps, in the order they happen:
//!
//! | step       | after                                                        |
//! |------------|--------------------------------------------------------------|
//! | `link`     | pinning one program's link into the staging directory        |
//! | `maps`     | pinning the report maps and the gate and version maps        |
//! | `record`   | pinning the record                                           |
//! | `armed`    | the gate switched to the new version (the commit)            |
//! | `disarmed` | the gate switched off by `unload` (its commit)               |
//! | `retired`  | renaming the version out of force to `_old_<name>`           |
//! | `renamed`  | renaming the staging directory to `<name>`                   |
//! | `removed`  | removing one pin of a retired version                        |

use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable naming the step to die after.
pub const CRASH_AT: &str = "KRSI_CRASH_AT";

/// Dies by SIGKILL (no destructor, no cleanup: a crash) when `KRSI_CRASH_AT` names `step`
/// and this is its N-th completion.
pub(crate) fn crash_point(step: &str) {
    static HITS: AtomicU32 = AtomicU32::new(0);
    let Ok(wanted) = std::env::var(CRASH_AT) else {
        return;
    };
    let (name, nth) = match wanted.split_once('#') {
        Some((name, nth)) => (name, nth.parse().unwrap_or(1)),
        None => (wanted.as_str(), 1),
    };
    if name != step || HITS.fetch_add(1, Ordering::Relaxed) + 1 != nth {
        return;
    }
    eprintln!("krsic: {CRASH_AT}={wanted}: dying here");
    // SAFETY: signalling our own process; SIGKILL cannot be caught, so nothing runs after it.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort();
}
