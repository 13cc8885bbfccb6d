//! Where an exec's arguments can be read, measured: the kernel copies the argument strings
//! into the new program's memory (`bprm->mm`, from `bprm->p` upwards) before any bprm hook
//! runs, but that memory becomes the task's own only at `exec_mmap` inside `begin_new_exec`,
//! after `bprm_creds_from_file` and before `bprm_committing_creds`. `bpf_probe_read_user`
//! reads the *current* task's memory, so only a program on `bprm_committing_creds` (or later)
//! reads the kernel's copy; on the earlier hooks the same address is the caller's memory.
//!
//! This test loads a hand-written program on the three hooks that records what
//! `bpf_probe_read_user_str` returns at `bprm->p` (the first four argument strings), runs a
//! program with known arguments, and checks what each hook saw. It is the measurement behind
//! the command-line design (book/src/language.md, `kill`), not a policy test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use compiler::bpf::helper::{
    GET_CURRENT_COMM, GET_CURRENT_UID_GID, RINGBUF_RESERVE, RINGBUF_SUBMIT,
};
use compiler::bpf::{AluOp, Assembler, JmpCond, Reg, Size};
use compiler::btf::Btf;
use compiler::elf::{write_object, MapSpec, ObjectSpec, ProgramSpec};
use kernel_tests::{assert_exec_denied, assert_ran, require_guest, run_as, Policy, TempDir, USER};
use runtime::ProgramTarget;

const RING: &str = "argv_seen";
/// Per record: the hook's number, `bprm->argc`, four 64-byte string slots, then the
/// task's `comm` as `bpf_get_current_comm` gives it on that hook.
const SLOT: i32 = 64;
const STRINGS: i32 = 4;
const COMM_AT: i32 = 8 + SLOT * STRINGS;
const COMM_LEN: i32 = 16;
const RECORD: i32 = COMM_AT + COMM_LEN;
const PROBE_READ_USER_STR: u32 = 114;
const HOOKS: [&str; 3] = [
    "bprm_check_security",
    "bprm_creds_from_file",
    "bprm_committing_creds",
];

/// The byte offset of `member` in `struct linux_binprm` on the running kernel.
fn binprm_offset(btf: &Btf, member: &str) -> i16 {
    let ty = btf
        .find_struct("linux_binprm")
        .expect("struct linux_binprm");
    let (_, m) = btf
        .members(ty)
        .into_iter()
        .find(|(name, _)| *name == member)
        .unwrap_or_else(|| panic!("linux_binprm has no `{member}`"));
    i16::try_from(m.offset_bits / 8).unwrap()
}

/// On `hook` (number `id`), for uid [`USER`] only: reserve a record, store `id`,
/// `bprm->argc` and the task's comm, then read up to four strings from `bprm->p` on with
/// `bpf_probe_read_user_str`, each after the previous one's NUL; stop at the first failure.
fn program(id: i32, p: i16, argc: i16) -> ProgramSpec {
    let mut asm = Assembler::new();
    let (out, submit) = (asm.new_label(), asm.new_label());
    // r0 = uid: the low half, which a 32-bit move zero-extends.
    asm.mov64_reg(Reg::R6, Reg::R1)
        .call_helper(GET_CURRENT_UID_GID)
        .alu32_reg(AluOp::Mov, Reg::R0, Reg::R0)
        .jump_imm(JmpCond::Ne, Reg::R0, USER as i32, out)
        .ld_map_fd(Reg::R1, RING)
        .mov64_imm(Reg::R2, RECORD)
        .mov64_imm(Reg::R3, 0)
        .call_helper(RINGBUF_RESERVE)
        .jump_imm(JmpCond::Eq, Reg::R0, 0, out)
        .mov64_reg(Reg::R7, Reg::R0)
        .store_imm(Size::W, Reg::R7, 0, id)
        .load(Size::DW, Reg::R1, Reg::R6, 0)
        .load(Size::W, Reg::R2, Reg::R1, argc)
        .store_reg(Size::W, Reg::R7, 4, Reg::R2)
        .load(Size::DW, Reg::R8, Reg::R1, p)
        .mov64_reg(Reg::R1, Reg::R7)
        .alu64_imm(AluOp::Add, Reg::R1, COMM_AT)
        .mov64_imm(Reg::R2, COMM_LEN)
        .call_helper(GET_CURRENT_COMM);
    // A ring record is not zeroed: slots after a failed read would hold an older record's
    // bytes, and `strings` stops at the first empty slot.
    for i in 0..STRINGS {
        asm.store_imm(Size::B, Reg::R7, (8 + SLOT * i) as i16, 0);
    }
    for i in 0..STRINGS {
        asm.mov64_reg(Reg::R1, Reg::R7)
            .alu64_imm(AluOp::Add, Reg::R1, 8 + SLOT * i)
            .mov64_imm(Reg::R2, SLOT)
            .mov64_reg(Reg::R3, Reg::R8)
            .call_helper(PROBE_READ_USER_STR)
            .jump_imm(JmpCond::Sle, Reg::R0, 0, submit)
            .alu64_reg(AluOp::Add, Reg::R8, Reg::R0);
    }
    asm.bind(submit)
        .mov64_reg(Reg::R1, Reg::R7)
        .mov64_imm(Reg::R2, 0)
        .call_helper(RINGBUF_SUBMIT)
        .bind(out)
        .mov64_imm(Reg::R0, 0)
        .exit();
    ProgramSpec {
        symbol: format!("argv_{}", HOOKS[id as usize]),
        section: format!("lsm/{}", HOOKS[id as usize]),
        code: asm.finish().expect("assembles"),
    }
}

/// The bytes of a NUL-terminated (or full) slot.
fn c_string(slot: &[u8]) -> String {
    let end = slot.iter().position(|&b| b == 0).unwrap_or(slot.len());
    String::from_utf8_lossy(&slot[..end]).into_owned()
}

/// The strings of one record, up to the first empty slot.
fn strings(record: &[u8]) -> Vec<String> {
    record[8..COMM_AT as usize]
        .chunks(SLOT as usize)
        .map(c_string)
        .take_while(|s| !s.is_empty())
        .collect()
}

/// The recording programs, loaded and attached on the three hooks.
fn load_recorder() -> (runtime::EnforcedPolicy, runtime::EventStream) {
    let btf = Btf::parse(&std::fs::read("/sys/kernel/btf/vmlinux").unwrap()).unwrap();
    let (p, argc) = (binprm_offset(&btf, "p"), binprm_offset(&btf, "argc"));
    let object = ObjectSpec {
        programs: (0..HOOKS.len() as i32)
            .map(|id| program(id, p, argc))
            .collect(),
        maps: vec![MapSpec {
            symbol: RING.into(),
            map_type: compiler::bpf::map_type::RINGBUF,
            key_size: 0,
            value_size: 0,
            max_entries: 1 << 16,
            flags: 0,
        }],
        data: Vec::new(),
        license: "GPL".into(),
    };
    let targets: Vec<ProgramTarget> = object
        .programs
        .iter()
        .zip(HOOKS)
        .map(|(program, hook)| ProgramTarget {
            symbol: program.symbol.clone(),
            hook: hook.into(),
        })
        .collect();
    // The recorder has no version gate of its own: it runs in the foreground, never pinned.
    let gate = runtime::GateMaps {
        gate_map: compiler::codegen::GATE_MAP.to_string(),
        version_map: compiler::codegen::VERSION_MAP.to_string(),
        handover: None,
    };
    let mut loaded = runtime::load(&write_object(&object).unwrap(), &targets, None, &gate, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let ring = loaded.take_events(RING).unwrap().expect("the ring map");
    (loaded, ring)
}

/// Every record waiting: (hook number, argc, strings).
fn records(ring: &mut runtime::EventStream) -> Vec<Seen> {
    let mut seen = Vec::new();
    ring.drain(|record| {
        seen.push(Seen {
            hook: u32::from_le_bytes(record[0..4].try_into().unwrap()) as usize,
            argc: u32::from_le_bytes(record[4..8].try_into().unwrap()),
            strings: strings(record),
            comm: c_string(&record[COMM_AT as usize..RECORD as usize]),
        });
    });
    seen
}

/// What one hook saw of one exec.
#[derive(Debug)]
struct Seen {
    /// The hook's index in [`HOOKS`].
    hook: usize,
    argc: u32,
    /// The strings read at `bprm->p`.
    strings: Vec<String>,
    /// `bpf_get_current_comm` on the hook.
    comm: String,
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn the_new_programs_arguments_are_readable_from_bprm_committing_creds() {
    require_guest();
    let (loaded, mut ring) = load_recorder();
    let args = ["first", "--donate-level=5", "third"];
    let status = run_as("/bin/true", &args, Some(USER), None).unwrap();
    assert!(status.success(), "{status}");
    let seen = records(&mut ring);
    loaded.detach();
    for s in &seen {
        eprintln!(
            "{}: argc {}, comm {:?}, read {:?}",
            HOOKS[s.hook], s.argc, s.comm, s.strings
        );
    }
    let expected: Vec<String> = std::iter::once("/bin/true")
        .chain(args)
        .map(String::from)
        .collect();
    let committing = seen
        .iter()
        .find(|s| s.hook == 2)
        .expect("bprm_committing_creds ran for the exec");
    assert_eq!(
        committing.strings, expected,
        "the kernel's copy, read at bprm_committing_creds"
    );
    // `bprm->argc` is kernel memory, counted before any hook: every hook reads the new
    // program's count (what the `argc` attribute reads on `bprm_check_security`).
    for (index, hook) in HOOKS.iter().enumerate() {
        let s = seen
            .iter()
            .find(|s| s.hook == index)
            .unwrap_or_else(|| panic!("{hook} ran for the exec"));
        assert_eq!(s.argc, 4, "argc on {hook}");
    }
    // The earlier hooks run with the caller's memory: whatever they read at `bprm->p`, it is
    // not where the kernel put the arguments.
    for s in seen.iter().filter(|s| s.hook < 2) {
        assert_ne!(s.strings, expected, "{} read the arguments", HOOKS[s.hook]);
    }
    // The task's name is the caller's on the earlier hooks and already the new program's on
    // bprm_committing_creds (begin_new_exec calls __set_task_comm before the hook): a rule
    // placed there that tested `comm` would test another process than on `exec` elsewhere.
    // The caller is the test binary, forked by `run_as`; its name is not `true`.
    for s in seen.iter().filter(|s| s.hook < 2) {
        assert_ne!(s.comm, "true", "comm on {}", HOOKS[s.hook]);
    }
    assert_eq!(committing.comm, "true", "comm on bprm_committing_creds");
}

/// `argc` is read on `bprm_check_security` (the kernel's count, in `struct linux_binprm`), so
/// a rule on it refuses with an errno like any `exec` rule: a program given too many
/// arguments is refused, the same program with fewer runs, and another user is not concerned.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn an_exec_with_too_many_arguments_is_refused_with_the_rules_errno() {
    require_guest();
    let dir = TempDir::new();
    let policy = Policy::load_source(
        &dir,
        &format!("deny exec where argc > 3 and uid == {USER} errno E2BIG\n"),
        None,
    );
    // argc counts argv[0]: `true a b` is 3, `true a b c` is 4.
    assert_ran(
        run_as("/bin/true", &["a", "b"], Some(USER), None),
        "three arguments",
    );
    assert_exec_denied(
        run_as("/bin/true", &["a", "b", "c"], Some(USER), None),
        libc::E2BIG,
        "four arguments",
    );
    assert_ran(
        run_as("/bin/true", &["a", "b", "c"], None, None),
        "four arguments as root",
    );
    // The report of the refusal names the count (reports arrive through the ring buffer,
    // after the exec returned).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while policy.events().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let events = policy.events();
    assert_eq!(events.len(), 1, "one report: {events:?}");
    let report: serde_json::Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(report["action"], "deny", "{report}");
    assert_eq!(report["errno"], "E2BIG", "{report}");
    assert_eq!(report["attributes"]["argc"], 4, "{report}");
    policy.stop();
    assert_ran(
        run_as("/bin/true", &["a", "b", "c"], Some(USER), None),
        "four arguments, policy unloaded",
    );
}

/// The racing thread: flips the caller's argument between all `A`s and all `B`s, forever.
extern "C" fn rewrite_forever(arg: *mut libc::c_void) -> *mut libc::c_void {
    let arg = arg.cast::<u8>();
    let mut letter = b'A';
    loop {
        for i in 0..RACED_LEN {
            // SAFETY: `arg` points at RACED_LEN writable bytes (and a NUL) leaked for the
            // child's whole life.
            unsafe { std::ptr::write_volatile(arg.add(i), letter) };
        }
        letter = if letter == b'A' { b'B' } else { b'A' };
    }
}

const RACED_LEN: usize = 48;

/// One exec of `echo ARG` as uid [`USER`] in a forked child whose second thread rewrites ARG
/// in the caller's memory all along; returns what echo printed (the argument it received).
fn exec_while_rewriting(argv: &[*const libc::c_char; 3], arg: *mut u8) -> String {
    let (status, printed) = exec_while_rewriting_status(argv, arg);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "echo: wait status {status:#x}"
    );
    printed
}

/// [`exec_while_rewriting`], returning the child's wait status with what it printed.
fn exec_while_rewriting_status(argv: &[*const libc::c_char; 3], arg: *mut u8) -> (i32, String) {
    let mut pipe = [0; 2];
    // SAFETY: `pipe` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    // SAFETY: the child only makes async-signal-safe calls (setresuid, dup2, pthread_create
    // on a C function that touches nothing but `arg`, execve, _exit) and never returns.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork");
    if child == 0 {
        // SAFETY: as above; every pointer was made before the fork and stays valid.
        unsafe {
            libc::dup2(pipe[1], 1);
            libc::close(pipe[0]);
            if libc::setresuid(USER, USER, USER) != 0 {
                libc::_exit(3);
            }
            let mut thread: libc::pthread_t = std::mem::zeroed();
            if libc::pthread_create(&mut thread, std::ptr::null(), rewrite_forever, arg.cast()) != 0
            {
                libc::_exit(4);
            }
            libc::execve(argv[0], argv.as_ptr(), std::ptr::null());
            libc::_exit(5);
        }
    }
    // SAFETY: the write end is the child's now.
    unsafe { libc::close(pipe[1]) };
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        // SAFETY: `buf` has `buf.len()` writable bytes.
        let n = unsafe { libc::read(pipe[0], buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    let mut status = 0;
    // SAFETY: `child` is our child; `status` is writable.
    unsafe {
        libc::close(pipe[0]);
        libc::waitpid(child, &mut status, 0);
    }
    (status, String::from_utf8_lossy(&out).trim_end().to_string())
}

/// A thread that rewrites the caller's argument while execve copies it cannot make the
/// program on `bprm_committing_creds` read anything but what the new program received: in
/// every run what the hook read is exactly what echo printed, however the race fell.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_racing_thread_cannot_make_the_committing_hook_read_other_arguments() {
    require_guest();
    let path = std::ffi::CString::new("/bin/echo").unwrap();
    let mut bytes = vec![b'A'; RACED_LEN];
    bytes.push(0);
    let arg: *mut u8 = Box::leak(bytes.into_boxed_slice()).as_mut_ptr();
    let argv: [*const libc::c_char; 3] = [path.as_ptr(), arg.cast_const().cast(), std::ptr::null()];
    let (loaded, mut ring) = load_recorder();
    let mut printed = std::collections::BTreeSet::new();
    for run in 0..40 {
        let echoed = exec_while_rewriting(&argv, arg);
        let seen = records(&mut ring);
        let committing: Vec<&Vec<String>> = seen
            .iter()
            .filter(|s| s.hook == 2)
            .map(|s| &s.strings)
            .collect();
        assert_eq!(committing.len(), 1, "run {run}: {seen:?}");
        assert_eq!(
            committing[0].get(1),
            Some(&echoed),
            "run {run}: the hook read {:?}, echo received {echoed:?}",
            committing[0]
        );
        printed.insert(echoed);
    }
    loaded.detach();
    eprintln!("arguments echo received: {printed:?}");
}

// The command line joined in a program, measured: what a `cmdline` attribute would compute on
// `bprm_committing_creds`, and what it costs the verifier for each bound on the number of
// arguments. Not a policy test: the hand-written program below is the shape code generation
// would emit, run in both guests before the compiler learns it.

const JOINED: &str = "argv_joined";
/// The joined command line's room, NUL included, as `lang::limits::STRING_CAP`.
const JOIN_CAP: i32 = 4096;
/// Per record: argc, the outcome, the joined length, padding; then twice [`JOIN_CAP`] bytes,
/// so that a read of up to [`JOIN_CAP`] bytes at any offset below [`JOIN_CAP`] stays inside
/// the record where the verifier can bound it.
const JOIN_HEADER: i32 = 16;
const JOIN_RECORD: i32 = JOIN_HEADER + 2 * JOIN_CAP;
/// Outcomes: the joined string is known, or unknown for one of three reasons.
const JOIN_KNOWN: i32 = 0;
const JOIN_TOO_MANY: i32 = 1;
const JOIN_TOO_LONG: i32 = 2;
const JOIN_FAULT: i32 = 3;

/// A program on `bprm_committing_creds` that, for uid [`USER`], joins the first `argc`
/// strings at `bprm->p` with single spaces (Falco's `proc.cmdline`) into a ring record, one
/// unrolled step per argument up to `max_args`: each step reads a string with
/// `bpf_probe_read_user_str` at the end of the last one and turns its NUL into a space. More
/// than `max_args` arguments, a joined string that does not fit [`JOIN_CAP`] with its NUL,
/// or a failed read make it unknown.
fn join_program(max_args: i32, p: i16, argc: i16) -> ProgramSpec {
    let mut asm = Assembler::new();
    let (out, done, submit) = (asm.new_label(), asm.new_label(), asm.new_label());
    let (too_many, too_long, fault) = (asm.new_label(), asm.new_label(), asm.new_label());
    asm.mov64_reg(Reg::R6, Reg::R1)
        .call_helper(GET_CURRENT_UID_GID)
        .alu32_reg(AluOp::Mov, Reg::R0, Reg::R0)
        .jump_imm(JmpCond::Ne, Reg::R0, USER as i32, out)
        .ld_map_fd(Reg::R1, JOINED)
        .mov64_imm(Reg::R2, JOIN_RECORD)
        .mov64_imm(Reg::R3, 0)
        .call_helper(RINGBUF_RESERVE)
        .jump_imm(JmpCond::Eq, Reg::R0, 0, out)
        .mov64_reg(Reg::R7, Reg::R0)
        .load(Size::DW, Reg::R1, Reg::R6, 0)
        // r9: argc, r8: the next string's user address, r6: bytes joined so far.
        .load(Size::W, Reg::R9, Reg::R1, argc)
        .load(Size::DW, Reg::R8, Reg::R1, p)
        .store_reg(Size::W, Reg::R7, 0, Reg::R9)
        .store_imm(Size::W, Reg::R7, 12, 0)
        .mov64_imm(Reg::R6, 0);
    for i in 0..max_args {
        asm.jump_imm(JmpCond::Le, Reg::R9, i, done)
            // The mask tells the verifier what the length check below already ensures.
            .alu64_imm(AluOp::And, Reg::R6, JOIN_CAP - 1)
            .mov64_reg(Reg::R1, Reg::R7)
            .alu64_reg(AluOp::Add, Reg::R1, Reg::R6)
            .alu64_imm(AluOp::Add, Reg::R1, JOIN_HEADER)
            .mov64_imm(Reg::R2, JOIN_CAP)
            .mov64_reg(Reg::R3, Reg::R8)
            .call_helper(PROBE_READ_USER_STR)
            .jump_imm(JmpCond::Slt, Reg::R0, 0, fault);
        // An empty argument reads as 0, not 1 (measured on 6.1: the first version of this
        // program stopped there with 0; mm/maccess.c, strncpy_from_user_nofault adds the NUL
        // to a positive length only): its NUL is one byte all the same.
        let counted = asm.new_label();
        asm.jump_imm(JmpCond::Ne, Reg::R0, 0, counted)
            .mov64_imm(Reg::R0, 1)
            .bind(counted)
            .alu64_reg(AluOp::Add, Reg::R8, Reg::R0)
            .alu64_reg(AluOp::Add, Reg::R6, Reg::R0)
            // Full with the NUL is unknown: it may be cut.
            .jump_imm(JmpCond::Ge, Reg::R6, JOIN_CAP, too_long)
            .mov64_reg(Reg::R1, Reg::R7)
            .alu64_reg(AluOp::Add, Reg::R1, Reg::R6)
            .store_imm(Size::B, Reg::R1, (JOIN_HEADER - 1) as i16, i32::from(b' '));
    }
    asm.jump_imm(JmpCond::Gt, Reg::R9, max_args, too_many)
        .bind(done)
        // The last separator is the string's end: length = joined - 1 (argc is at least 1).
        .jump_imm(JmpCond::Eq, Reg::R6, 0, fault)
        .alu64_imm(AluOp::And, Reg::R6, JOIN_CAP - 1)
        .mov64_reg(Reg::R1, Reg::R7)
        .alu64_reg(AluOp::Add, Reg::R1, Reg::R6)
        .store_imm(Size::B, Reg::R1, (JOIN_HEADER - 1) as i16, 0)
        .alu64_imm(AluOp::Sub, Reg::R6, 1)
        .store_reg(Size::W, Reg::R7, 8, Reg::R6)
        .store_imm(Size::W, Reg::R7, 4, JOIN_KNOWN)
        .jump(submit);
    for (label, outcome) in [
        (too_many, JOIN_TOO_MANY),
        (too_long, JOIN_TOO_LONG),
        (fault, JOIN_FAULT),
    ] {
        asm.bind(label)
            .store_imm(Size::W, Reg::R7, 4, outcome)
            .store_imm(Size::W, Reg::R7, 8, 0)
            .jump(submit);
    }
    asm.bind(submit)
        .mov64_reg(Reg::R1, Reg::R7)
        .mov64_imm(Reg::R2, 0)
        .call_helper(RINGBUF_SUBMIT)
        .bind(out)
        .mov64_imm(Reg::R0, 0)
        .exit();
    ProgramSpec {
        symbol: format!("argv_join_{max_args}"),
        section: "lsm/bprm_committing_creds".into(),
        code: asm.finish().expect("assembles"),
    }
}

/// The join program for `max_args` as an object with its ring, and its target.
fn join_object(max_args: i32) -> (Vec<u8>, Vec<ProgramTarget>) {
    let btf = Btf::parse(&std::fs::read("/sys/kernel/btf/vmlinux").unwrap()).unwrap();
    let program = join_program(
        max_args,
        binprm_offset(&btf, "p"),
        binprm_offset(&btf, "argc"),
    );
    let targets = vec![ProgramTarget {
        symbol: program.symbol.clone(),
        hook: "bprm_committing_creds".into(),
    }];
    let object = ObjectSpec {
        programs: vec![program],
        maps: vec![MapSpec {
            symbol: JOINED.into(),
            map_type: compiler::bpf::map_type::RINGBUF,
            key_size: 0,
            value_size: 0,
            max_entries: 1 << 17,
            flags: 0,
        }],
        data: Vec::new(),
        license: "GPL".into(),
    };
    (write_object(&object).unwrap(), targets)
}

/// Every join record waiting: (argc, outcome, joined string).
fn joined(ring: &mut runtime::EventStream) -> Vec<(u32, i32, String)> {
    let mut seen = Vec::new();
    ring.drain(|record| {
        let word = |at: usize| u32::from_le_bytes(record[at..at + 4].try_into().unwrap());
        let len = word(8) as usize;
        let start = JOIN_HEADER as usize;
        seen.push((
            word(0),
            word(4) as i32,
            String::from_utf8_lossy(&record[start..start + len]).into_owned(),
        ));
    });
    seen
}

/// The verifier's cost of the join grows with the bound on the arguments (each step is
/// walked once per path reaching it); printed for both guests, it is the measurement behind
/// the bound a `cmdline` attribute takes. Every bound here must load.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn the_joined_command_line_costs_the_verifier_per_argument_bound() {
    require_guest();
    let mut costs = Vec::new();
    for max_args in [8, 32, 64, 128] {
        let (object, targets) = join_object(max_args);
        let stats = runtime::verify(&object, &targets, runtime::VerifierLog::Stats)
            .unwrap_or_else(|e| panic!("{max_args} arguments: {e}"));
        let processed = stats[0]
            .1
            .expect("the kernel reports processed instructions");
        costs.push((max_args, processed));
    }
    eprintln!("join: (argument bound, instructions the verifier processed): {costs:?}");
    // More steps cost more, and no bound comes near the verifier's budget of 1,000,000.
    assert!(costs.windows(2).all(|w| w[0].1 < w[1].1), "{costs:?}");
    assert!(costs.iter().all(|(_, p)| *p < 1_000_000), "{costs:?}");
}

/// The join gives the command line as the new program receives it, arguments with spaces
/// and empty ones included; more arguments than the bound, or a command line of 4,096 bytes
/// or more, are unknown, never a cut string.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn the_joined_command_line_is_the_new_programs_or_unknown() {
    require_guest();
    let (object, targets) = join_object(32);
    let gate = runtime::GateMaps {
        gate_map: compiler::codegen::GATE_MAP.to_string(),
        version_map: compiler::codegen::VERSION_MAP.to_string(),
        handover: None,
    };
    let mut loaded =
        runtime::load(&object, &targets, None, &gate, None).unwrap_or_else(|e| panic!("{e}"));
    let mut ring = loaded.take_events(JOINED).unwrap().expect("the ring map");
    let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let long = "x".repeat(5000);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["-c", "echo x", "", "--donate-level"],
            JOIN_KNOWN,
            "/bin/true -c echo x  --donate-level",
        ),
        (vec![], JOIN_KNOWN, "/bin/true"),
        (many.iter().map(String::as_str).collect(), JOIN_TOO_MANY, ""),
        (vec![long.as_str()], JOIN_TOO_LONG, ""),
    ];
    for (args, outcome, expected) in &cases {
        let status = run_as("/bin/true", args, Some(USER), None).unwrap();
        assert!(status.success(), "{status}");
        let seen = joined(&mut ring);
        assert_eq!(seen.len(), 1, "{args:?}: {seen:?}");
        let (argc, got, text) = &seen[0];
        assert_eq!(*argc as usize, args.len() + 1, "{args:?}");
        assert_eq!((*got, text.as_str()), (*outcome, *expected), "{args:?}");
    }
    loaded.detach();
}

// The `cmdline` attribute in a real kernel: the compiled program on bprm_committing_creds.

/// Waits up to 20 s for `n` reports of `policy`.
fn reports(policy: &Policy, n: usize) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while policy.events().len() < n && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    policy
        .events()
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

/// `kill exec where cmdline ~ ...` kills the process before the new program runs: a shell
/// whose arguments hold `--donate-level` dies by SIGKILL and its command (writing a marker)
/// never runs; the same shell without it writes the marker; an `allow exec` rule excepts
/// its program; root is not the rule's; the report says `kill` with the command line.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_kill_rule_on_the_command_line_kills_before_the_program_runs() {
    use std::os::unix::process::ExitStatusExt;
    require_guest();
    let dir = TempDir::new();
    kernel_tests::set_mode(dir.path(), 0o777);
    // busybox picks its applet by the name it is run as: a copy named `true` is true.
    let allowed = dir.copy("/bin/true", "true", 0o755);
    let marker = dir.join("marker");
    let script = format!("echo x > {}", marker.display());
    let policy = Policy::load_source(
        &dir,
        &format!(
            "kill exec where cmdline ~ \"**--donate-level**\" and uid == {USER}\n\
             allow exec where path == \"{}\"\n",
            allowed.display()
        ),
        None,
    );
    // `sh -c SCRIPT sh --donate-level`: the script's $0 and $1; the shell runs `echo`
    // itself, so no other exec happens.
    let status = run_as(
        "/bin/sh",
        &["-c", &script, "sh", "--donate-level"],
        Some(USER),
        None,
    )
    .unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    assert!(!marker.exists(), "the killed shell still ran its command");
    assert_ran(
        run_as(
            "/bin/sh",
            &["-c", &script, "sh", "--level"],
            Some(USER),
            None,
        ),
        "the shell without the argument",
    );
    assert!(
        marker.exists(),
        "the shell without the argument did not run"
    );
    std::fs::remove_file(&marker).unwrap();
    assert_ran(
        run_as(&allowed, &["--donate-level"], Some(USER), None),
        "an allowed program with the argument",
    );
    assert_ran(
        run_as(
            "/bin/sh",
            &["-c", &script, "sh", "--donate-level"],
            None,
            None,
        ),
        "root with the argument",
    );
    // Root's marker: removed, so that the user's shell can write its own below.
    assert!(marker.exists(), "root's shell did not run");
    std::fs::remove_file(&marker).unwrap();
    let seen = reports(&policy, 1);
    assert_eq!(seen.len(), 1, "one report: {seen:?}");
    let report = &seen[0];
    assert_eq!(report["action"], "kill", "{report}");
    assert_eq!(report["event"], "exec", "{report}");
    assert_eq!(
        report["attributes"]["cmdline"],
        format!("/bin/sh -c {script} sh --donate-level"),
        "{report}"
    );
    policy.stop();
    assert_ran(
        run_as(
            "/bin/sh",
            &["-c", &script, "sh", "--donate-level"],
            Some(USER),
            None,
        ),
        "the argument, policy unloaded",
    );
    assert!(marker.exists(), "the shell did not run after unload");
}

/// Runs `sh -c 'echo x > MARKER' sh ARGS...` as [`USER`] and says whether the shell ran its
/// command (the marker exists, and is removed) or was killed by SIGKILL before it could.
fn shell_ran(marker: &std::path::Path, args: &[&str]) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let script = format!("echo x > {}", marker.display());
    let mut argv = vec!["-c", &script, "sh"];
    argv.extend_from_slice(args);
    let status = run_as("/bin/sh", &argv, Some(USER), None).unwrap();
    if status.signal() == Some(libc::SIGKILL) {
        assert!(
            !marker.exists(),
            "{args:?}: the killed shell still ran its command"
        );
        return false;
    }
    assert!(status.success(), "{args:?}: {status}");
    assert!(
        marker.exists(),
        "{args:?}: the shell did not run its command"
    );
    std::fs::remove_file(marker).unwrap();
    true
}

/// `kill exec where argv[4] == ...` kills on that argument only: `sh -c SCRIPT sh X` has X
/// at index 4. The same string at another index, a near miss, and the policy unloaded let
/// the shell run.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_kill_rule_on_one_argument_kills_on_that_argument_only() {
    require_guest();
    let dir = TempDir::new();
    kernel_tests::set_mode(dir.path(), 0o777);
    let marker = dir.join("marker");
    let policy = Policy::load_source(
        &dir,
        &format!("kill exec where argv[4] == \"--donate-level\" and uid == {USER}\n"),
        None,
    );
    assert!(
        !shell_ran(&marker, &["--donate-level"]),
        "argv[4] is the string"
    );
    assert!(shell_ran(&marker, &["--donate-levels"]), "a near miss");
    assert!(
        shell_ran(&marker, &["x", "--donate-level"]),
        "the string at argv[5]"
    );
    assert!(shell_ran(&marker, &[]), "no argv[4]");
    let seen = reports(&policy, 1);
    assert_eq!(seen.len(), 1, "one report: {seen:?}");
    assert_eq!(seen[0]["action"], "kill", "{}", seen[0]);
    policy.stop();
    assert!(shell_ran(&marker, &["--donate-level"]), "policy unloaded");
}

/// `kill exec where argv == "a b"` (any argument) tells one argument holding a space from two
/// arguments, which the joined `cmdline` cannot: `sh ... "a b"` dies, `sh ... a b` runs; and
/// `"-x" in argv` kills wherever the argument stands, but not on a longer one.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn an_any_argument_rule_tells_a_space_in_an_argument_from_two_arguments() {
    require_guest();
    let dir = TempDir::new();
    kernel_tests::set_mode(dir.path(), 0o777);
    let marker = dir.join("marker");
    let policy = Policy::load_source(
        &dir,
        &format!(
            "kill exec where argv == \"a b\" and uid == {USER}\n\
             kill exec where \"-x\" in argv and uid == {USER}\n"
        ),
        None,
    );
    assert!(!shell_ran(&marker, &["a b"]), "one argument `a b`");
    assert!(
        !shell_ran(&marker, &["y", "a b", "z"]),
        "`a b` among others"
    );
    assert!(shell_ran(&marker, &["a", "b"]), "two arguments `a`, `b`");
    assert!(shell_ran(&marker, &["a b c"]), "`a b c`");
    assert!(!shell_ran(&marker, &["-x"]), "`-x` last");
    assert!(!shell_ran(&marker, &["-x", "y"]), "`-x` before another");
    assert!(shell_ran(&marker, &["-xy"]), "`-xy`");
    policy.stop();
    assert!(shell_ran(&marker, &["a b"]), "policy unloaded");
}

/// A thread that rewrites the caller's argument during execve cannot get a refused command
/// line through: with a rule that kills every command line holding a `B`, an `echo` that
/// ran printed no `B` in any of 40 runs, however the race fell (each run ends killed, or
/// with what echo received, which the rule judged).
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn a_racing_thread_cannot_get_a_killed_command_line_through() {
    require_guest();
    let dir = TempDir::new();
    let policy = Policy::load_source(
        &dir,
        &format!("kill exec where cmdline ~ \"**B**\" and uid == {USER}\n"),
        None,
    );
    let path = std::ffi::CString::new("/bin/echo").unwrap();
    let mut bytes = vec![b'A'; RACED_LEN];
    bytes.push(0);
    let arg: *mut u8 = Box::leak(bytes.into_boxed_slice()).as_mut_ptr();
    let argv: [*const libc::c_char; 3] = [path.as_ptr(), arg.cast_const().cast(), std::ptr::null()];
    let (mut killed, mut ran) = (0, 0);
    for run in 0..40 {
        let (status, printed) = exec_while_rewriting_status(&argv, arg);
        if libc::WIFSIGNALED(status) {
            assert_eq!(libc::WTERMSIG(status), libc::SIGKILL, "run {run}");
            assert_eq!(printed, "", "run {run}: a killed echo printed");
            killed += 1;
        } else {
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "run {run}: wait status {status:#x}"
            );
            assert!(
                !printed.contains('B'),
                "run {run}: echo received {printed:?}"
            );
            ran += 1;
        }
    }
    eprintln!("racing runs: {killed} killed, {ran} ran");
    policy.stop();
}

/// Policies on the command line, compiled for the running kernel, pass its verifier (loaded,
/// not attached); the processed instructions of each are printed. On a rejection the
/// verifier's last lines are shown.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn command_line_policies_verify() {
    require_guest();
    let btf = Btf::parse(&std::fs::read("/sys/kernel/btf/vmlinux").unwrap())
        .unwrap()
        .with_description("the guest kernel");
    for source in [
        "kill exec where cmdline ~ \"**--donate-level**\"\n",
        "audit exec where cmdline == \"/bin/sh -c x\"\n",
        "kill exec where cmdline ~ \"**x**\" and uid == 1000\nallow exec where path == \"/x\"\n",
        // One argument, any argument, and both with the line: one join, one automaton.
        "kill exec where argv[1] == \"-c\"\n",
        "kill exec where argv[31] ~ \"/dev/tcp/**\"\n",
        "audit exec where argv ~ \"--donate-level**\"\n",
        "kill exec where argv[1] == \"-c\" and argv[2] ~ \"/dev/tcp/**\"\n\
         kill exec where \"-e\" in argv and path ~ \"/**/nc\"\n\
         audit exec where cmdline ~ \"**--donate-level**\"\n",
    ] {
        let (checked, diagnostics) = lang::front_end(source, &btf);
        let checked = checked.unwrap_or_else(|| panic!("{source}: {diagnostics:#?}"));
        let object = compiler::compile(
            &checked,
            compiler::ir::Target::new(compiler::ir::Scope::Global),
        )
        .expect("compiles");
        let targets: Vec<ProgramTarget> = object
            .spec
            .programs
            .iter()
            .map(|p| ProgramTarget {
                symbol: p.symbol.clone(),
                hook: compiler::elf::lsm_hook(&p.section).unwrap().to_string(),
            })
            .collect();
        match runtime::verify(&object.elf, &targets, runtime::VerifierLog::Stats) {
            Ok(counts) => eprintln!("{source:?}: processed {counts:?}"),
            Err(runtime::RuntimeError::Rejected { log, .. }) => {
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                panic!(
                    "{source}: rejected; last lines, reversed:\n{}",
                    tail.join("\n")
                );
            }
            Err(e) => panic!("{source}: {e}"),
        }
    }
}
