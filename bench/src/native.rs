//! The native half (`scripts/bench --native`): the same programs' decisions timed on the
//! host, outside emulation. The host refuses LSM programs but loads iterators (KERNEL.md,
//! "Cost facts"), so each design is built as an `iter/task_file` iterator that calls its
//! decision on every open file of one process (krsi's by `krsic build --attach
//! task-file-iter`, the C by the same wrapper in `generate`).
//!
//! A round of a case: a holder process opens the case's paths [`FILES`] times in turn and
//! keeps nothing else open; the iterator is bound to it (`bpf_iter_link_info.task.pid`); a
//! reader process with the case's uid reads the iterator pass after pass. Each pass runs
//! every design's decision once per held file, with the reader as the current process (its
//! uid is the one the rules test), plus once more with no file at the iterator's end, which
//! returns at once and is counted in the kernel's statistics like the rest (one run in
//! `FILES + 1`). A refusal is read back from the iterator as the 4-byte `-errno` the wrapper
//! writes, so that the decisions are checked as the guest checks its opens.

use crate::guest::{become_user, fork_with_pipe, in_child, Counts};
use crate::manifest::Target;
use aya::programs::{Iter, ProgramError};
use aya::{Btf, Ebpf, EbpfLoader, VerifierLogLevel};
use std::ffi::CString;
use std::io::Read as _;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Open files of the holder: the events of one pass.
const FILES: usize = 256;
/// `enum bpf_cmd` and `enum bpf_attach_type` (include/uapi/linux/bpf.h).
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_ITER_CREATE: libc::c_long = 33;
const BPF_TRACE_ITER: u32 = 28;

/// The loaded iterators of one object; unloaded when dropped.
pub struct Iterators {
    ebpf: Ebpf,
    symbols: Vec<String>,
}

impl Iterators {
    /// Loads every iterator of `object` (its `targets` name them). krsi's objects get the
    /// words a policy of its own gets (gate and version 1: in force), as `runtime::load`
    /// writes them; the C has no such words.
    pub fn load(object: &[u8], targets: &[Target]) -> Result<Iterators, String> {
        let btf = Btf::from_sys_fs().map_err(|e| format!("the host's BTF: {e}"))?;
        let in_force: u64 = 1;
        let mut ebpf = EbpfLoader::new()
            .override_global(compiler::codegen::GATE_MAP, &in_force, false)
            .override_global(compiler::codegen::VERSION_MAP, &in_force, false)
            .verifier_log_level(VerifierLogLevel::STATS)
            .load(object)
            .map_err(|e| format!("loading the object: {e}"))?;
        for target in targets {
            let program: &mut Iter = ebpf
                .program_mut(&target.symbol)
                .ok_or_else(|| format!("no program `{}`", target.symbol))?
                .try_into()
                .map_err(|e| format!("`{}`: {e}", target.symbol))?;
            program
                .load(&target.hook, &btf)
                .map_err(|e| refusal(&target.symbol, &e))?;
        }
        Ok(Iterators {
            ebpf,
            symbols: targets.iter().map(|t| t.symbol.clone()).collect(),
        })
    }

    /// One round of a case: `events` decisions (whole passes over [`FILES`] files) by a
    /// reader with `uid`, stopping early after `cap`.
    pub fn workload(
        &self,
        uid: u32,
        paths: &[CString],
        events: u32,
        cap: Duration,
    ) -> Result<Counts, String> {
        let holder = Holder::open(paths)?;
        let mut links = Vec::new();
        for symbol in &self.symbols {
            let program: &Iter = self
                .ebpf
                .program(symbol)
                .ok_or_else(|| format!("no program `{symbol}`"))?
                .try_into()
                .map_err(|e| format!("`{symbol}`: {e}"))?;
            let fd = program.fd().map_err(|e| format!("`{symbol}`: {e}"))?;
            links.push(link_to_process(fd.as_fd().as_raw_fd(), holder.pid)?);
        }
        let passes = (events as usize).div_ceil(FILES).max(1);
        // The iterators are made while root: the host lets no other user call bpf(2).
        let mut reads = Vec::with_capacity(passes * links.len());
        for _ in 0..passes {
            for link in &links {
                reads.push(iterator(link)?);
            }
        }
        let counts = in_child(|| read_passes(uid, reads, links.len(), cap));
        drop(holder);
        counts
    }
}

/// The kernel's refusal: the error's chain, whose last line the verifier's log ends with.
fn refusal(symbol: &str, error: &ProgramError) -> String {
    let mut text = format!("`{symbol}`: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

/// In the reader: drops to `uid`, then reads each pass's iterators to their end, counting
/// the files decided and the refusals read back.
fn read_passes(uid: u32, reads: Vec<OwnedFd>, per_pass: usize, cap: Duration) -> Counts {
    let mut counts = Counts::default();
    if !become_user(uid) {
        counts.failed = 1;
        return counts;
    }
    let started = Instant::now();
    let mut output = Vec::new();
    for (i, read) in reads.into_iter().enumerate() {
        if i % per_pass == 0 && started.elapsed() > cap {
            break;
        }
        output.clear();
        if std::fs::File::from(read).read_to_end(&mut output).is_err() {
            counts.failed += 1;
            continue;
        }
        counts.events += FILES as u64;
        for refusal in output.chunks(4) {
            match <[u8; 4]>::try_from(refusal).map(i32::from_ne_bytes) {
                Ok(errno) if errno == -libc::EPERM => counts.denied += 1,
                _ => counts.failed += 1,
            }
        }
    }
    counts
}

/// A process holding the case's paths open, and nothing else: the iterator's files.
struct Holder {
    pid: libc::pid_t,
}

impl Holder {
    fn open(paths: &[CString]) -> Result<Holder, String> {
        if paths.is_empty() {
            return Err("no workload paths".into());
        }
        let (pid, pipe) = fork_with_pipe()?;
        if pid == 0 {
            hold(paths, pipe[1]);
        }
        // SAFETY: closes the parent's write end, so that the holder's close ends the pipe.
        unsafe { libc::close(pipe[1]) };
        // SAFETY: the read end is this function's to own.
        let mut ready = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(pipe[0]) });
        let holder = Holder { pid };
        let mut said = Vec::new();
        // The holder writes one byte once its files are open, then closes its end: at the
        // end of the pipe it holds nothing but them.
        let _ = ready.read_to_end(&mut said);
        if said != [1] {
            return Err("the holder could not open the workload's paths".into());
        }
        Ok(holder)
    }
}

/// The holder's life: closes every descriptor but `ready`, opens [`FILES`] files over
/// `paths` in turn, says so on `ready` and closes it, then waits to be killed.
fn hold(paths: &[CString], ready: RawFd) -> ! {
    // SAFETY: system calls on this process's own descriptors, then _exit or pause; nothing
    // here returns to the parent's code.
    unsafe {
        for fd in 0..ready {
            libc::close(fd);
        }
        libc::close_range(ready as libc::c_uint + 1, libc::c_uint::MAX, 0);
        let mut opened = 0;
        for i in 0..FILES {
            let path = &paths[i % paths.len()];
            if libc::open(path.as_ptr(), libc::O_RDONLY) >= 0 {
                opened += 1;
            }
        }
        let said: u8 = u8::from(opened == FILES);
        libc::write(ready, (&said as *const u8).cast(), 1);
        libc::close(ready);
        loop {
            libc::pause();
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // SAFETY: kills and reaps the holder this struct forked.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// `bpf(BPF_LINK_CREATE)` of iterator `program` bound to process `pid`: aya 0.14 makes
/// iterator links without the `bpf_iter_link_info` that binds them.
fn link_to_process(program: RawFd, pid: libc::pid_t) -> Result<OwnedFd, String> {
    // union bpf_iter_link_info: task.tid, task.pid, task.pid_fd (16 bytes with padding).
    let mut info = [0u32; 4];
    info[1] = pid as u32;
    // union bpf_attr's link_create: prog_fd, target_fd, attach_type, flags, then iter_info
    // (a pointer, at byte 16) and iter_info_len (at 24).
    let mut attr = [0u64; 16];
    attr[0] = program as u32 as u64;
    attr[1] = u64::from(BPF_TRACE_ITER);
    attr[2] = info.as_ptr() as u64;
    attr[3] = std::mem::size_of_val(&info) as u64;
    bpf(BPF_LINK_CREATE, &attr).map_err(|e| format!("bpf(BPF_LINK_CREATE) of an iterator: {e}"))
}

/// `bpf(BPF_ITER_CREATE)`: a fresh pass over `link`'s iterator.
fn iterator(link: &OwnedFd) -> Result<OwnedFd, String> {
    let mut attr = [0u64; 16];
    attr[0] = link.as_raw_fd() as u32 as u64;
    bpf(BPF_ITER_CREATE, &attr).map_err(|e| format!("bpf(BPF_ITER_CREATE): {e}"))
}

fn bpf(command: libc::c_long, attr: &[u64; 16]) -> std::io::Result<OwnedFd> {
    // SAFETY: `attr` is a zero-padded `union bpf_attr` of the size passed; the kernel reads
    // it and the info it points to, which outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            command,
            attr.as_ptr(),
            std::mem::size_of_val(attr) as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new descriptor this process owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
