//! `truncate` on every way a file is truncated: truncate(2) by path, ftruncate(2) on an open
//! file, and open(2) with O_TRUNC. Before Linux 6.2 all three reach `path_truncate`; since 6.2
//! the last two reach `file_truncate` instead, which krsi attaches where the kernel has it. The
//! same rule must refuse all three on both kernels, with the rule's errno, only in the scope
//! and only for the file it names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_call_denied, assert_call_ok, c_path, call_as, require_guest, set_mode, Cgroup, Identity,
    Policy, TempDir, USER,
};
use lang::kernel::KernelTypes;
use libc::{c_long, EACCES};
use std::ffi::CString;
use std::path::Path;

/// A system call to make in a forked child: no allocation there.
type Call = Box<dyn Fn() -> c_long>;

/// The three ways to truncate `path` to nothing.
fn truncations(path: &Path) -> [(&'static str, Call); 3] {
    let by_path: CString = c_path(path);
    let by_fd = by_path.clone();
    let by_open = by_path.clone();
    [
        (
            "truncate(2)",
            // SAFETY: a NUL-terminated path.
            Box::new(move || unsafe { libc::truncate(by_path.as_ptr(), 0) }.into()),
        ),
        (
            "ftruncate(2)",
            Box::new(move || {
                // SAFETY: a NUL-terminated path; the descriptor is ours to close.
                unsafe {
                    let fd = libc::open(by_fd.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 {
                        return fd.into();
                    }
                    let r = libc::ftruncate(fd, 0);
                    libc::close(fd);
                    r.into()
                }
            }),
        ),
        (
            "open(2) with O_TRUNC",
            Box::new(move || {
                // SAFETY: a NUL-terminated path; the descriptor is ours to close.
                unsafe {
                    let fd = libc::open(
                        by_open.as_ptr(),
                        libc::O_WRONLY | libc::O_TRUNC | libc::O_CLOEXEC,
                    );
                    if fd >= 0 {
                        libc::close(fd);
                    }
                    fd.into()
                }
            }),
        ),
    ]
}

/// A file uid 1000 may write, with something in it to truncate.
fn refill(path: &Path) {
    std::fs::write(path, "data").unwrap();
    set_mode(path, 0o666);
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn truncate_is_refused_by_path_by_descriptor_and_by_open() {
    require_guest();
    let dir = TempDir::new();
    set_mode(dir.path(), 0o777);
    let file = dir.join("guarded");
    let other = dir.join("other");
    refill(&file);
    refill(&other);
    let source = format!(
        "deny truncate where path == \"{}\" errno EACCES\n",
        file.display()
    );

    // The compiled policy attaches `file_truncate` exactly where the kernel has it.
    let bytes = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
    let kernel = compiler::btf::Btf::parse(&bytes).unwrap();
    let (checked, diagnostics) = lang::front_end(&source, &kernel);
    let checked = checked.unwrap_or_else(|| panic!("{diagnostics:?}"));
    let module = compiler::compile(
        &checked,
        compiler::ir::Target::new(compiler::ir::Scope::Cgroup),
    )
    .unwrap()
    .ir;
    let hooks: Vec<&str> = module.programs.iter().map(|p| p.hook).collect();
    if kernel.hook_params("file_truncate").is_some() {
        assert_eq!(hooks, ["path_truncate", "file_truncate"]);
    } else {
        assert_eq!(hooks, ["path_truncate"]);
    }

    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));
    let user = Identity::User(USER);
    for (what, call) in truncations(&file) {
        refill(&file);
        assert_call_denied(call_as(user, Some(&cg), &call), EACCES, what);
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "data",
            "{what}: the refused call left the file alone"
        );
        refill(&file);
        assert_call_ok(
            call_as(user, None, &call),
            &format!("{what} outside the cgroup"),
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
    }
    for (what, call) in truncations(&other) {
        refill(&other);
        assert_call_ok(
            call_as(user, Some(&cg), &call),
            &format!("{what} of another file"),
        );
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "");
    }
    policy.stop();
    for (what, call) in truncations(&file) {
        refill(&file);
        assert_call_ok(
            call_as(user, Some(&cg), &call),
            &format!("{what} after unload"),
        );
    }
}
