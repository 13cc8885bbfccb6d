//! The standard policies (stdlib-policies/), each loaded exactly as shipped, for the test's
//! cgroup: a real process doing what the policy's threat does is refused with the policy's
//! errno, and the exception the policy names (another process name, root, a harmless variant
//! of the operation) is let through. Outside the cgroup and after unload the same operation is
//! allowed again (`Scenario::denies`).
//!
//! Exceptions by executable path (`exe in [...]`) are not exercised here: they would need the
//! real tools at their real paths in the guest. The policy's own `test` items cover them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::ops::{
    chmod, connect_to, create_map, in_child_named, kill, load_garbage_from_file,
    load_garbage_from_memory, load_trivial_program, mount_fs, named, open, open_socket, seize,
    setresuid, spawn, traceme_in_child, truncate, unlink, unshare_userns, Listener,
};
use kernel_tests::Expect::{Allowed, Denied, KernelRefuses};
use kernel_tests::Identity::{RealUser, Root, User};
use kernel_tests::Phase::{Before, Loaded, Unloaded};
use kernel_tests::Place::InCgroup;
use kernel_tests::{
    assert_call_denied, assert_call_ok, c_path, call_as, dir_with_true, loopback_up, run_as,
    set_mode, Cgroup, Op, Placed, Policy, Scenario, Sleeper, SockAddr, TempDir, USER,
};
use libc::{EACCES, ECONNREFUSED, EPERM, O_CREAT, O_RDONLY, O_WRONLY};
use std::path::Path;

/// The policy file as shipped, read at build time (the guest has no checkout).
macro_rules! standard_policy {
    ($name:literal) => {
        include_str!(concat!("../../../stdlib-policies/", $name, ".krsi"))
    };
}

/// A name for a file the test places at a fixed system path, unique to this run.
fn unique(stem: &str) -> String {
    format!("{stem}-{}", std::process::id())
}

/// Whether `path ARGS` run as [`USER`] in `cgroup` died by SIGKILL (else it must succeed).
fn killed_with(path: &Path, args: &[&str], cgroup: Option<&kernel_tests::Cgroup>) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let status = run_as(path, args, User(USER), cgroup).unwrap();
    if status.signal() == Some(libc::SIGKILL) {
        return true;
    }
    assert!(status.success(), "{}: {status}", path.display());
    false
}

/// A miner is killed, not only refused: the process that asked dies by SIGKILL. The same
/// program under another name runs, unless its command line holds a miner's option; the
/// miner outside the cgroup runs.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn kill_crypto_miners() {
    let dir = TempDir::new();
    set_mode(dir.path(), 0o755);
    let miner = dir.copy("/bin/true", "xmrig", 0o755);
    let renamed = dir.copy("/bin/true", "true", 0o755);
    let killed =
        |path: &Path, cgroup: Option<&kernel_tests::Cgroup>| killed_with(path, &[], cgroup);
    let (m, r) = (miner.clone(), renamed.clone());
    Scenario::for_cgroup(standard_policy!("kill-crypto-miners"))
        .step(Before, {
            let m = miner.clone();
            move |_| assert!(!killed(&m, None), "killed before the policy was loaded")
        })
        .step(Loaded, move |steps| {
            assert!(
                killed(&m, Some(steps.cgroup())),
                "xmrig in the cgroup was not killed"
            );
            assert!(
                !killed(&r, Some(steps.cgroup())),
                "true in the cgroup was killed"
            );
            assert!(
                killed_with(
                    &r,
                    &["-o", "pool:3333", "--donate-level", "1"],
                    Some(steps.cgroup())
                ),
                "a renamed miner with --donate-level was not killed"
            );
            assert!(!killed(&m, None), "xmrig outside the cgroup was killed");
        })
        .step(Unloaded, move |_| {
            assert!(!killed(&miner, None), "killed after unload")
        })
        .run();
}

/// A shell whose command line redirects to /dev/tcp is killed before it runs; the same shell
/// with another command runs; a netcat asked to run a program (`-e`) is killed.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn kill_reverse_shells() {
    let dir = TempDir::new();
    set_mode(dir.path(), 0o755);
    // A copy named `nc`: killed before it runs, so which busybox applet it is never matters.
    let nc = dir.copy("/bin/true", "nc", 0o755);
    let sh = Path::new("/bin/sh");
    let reverse = "echo x > /dev/tcp/127.0.0.1/9";
    Scenario::for_cgroup(standard_policy!("kill-reverse-shells"))
        .step(Loaded, move |steps| {
            let cgroup = Some(steps.cgroup());
            assert!(
                killed_with(sh, &["-c", reverse], cgroup),
                "a shell writing to /dev/tcp was not killed"
            );
            assert!(
                !killed_with(sh, &["-c", "echo x > /dev/null"], cgroup),
                "a harmless shell was killed"
            );
            assert!(
                killed_with(&nc, &["-e", "/bin/sh", "127.0.0.1", "9"], cgroup),
                "nc -e was not killed"
            );
        })
        .run();
}

/// The tracer is the process that forks the child asking to be traced; a debugger's name
/// lets it through.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_anti_debugging() {
    let traceme = Op::call("traceme under bash", || named(b"bash\0", traceme_in_child));
    let under_gdb = Op::call("traceme under gdb", || named(b"gdb\0", traceme_in_child));
    Scenario::for_cgroup(standard_policy!("no-anti-debugging"))
        .denies(User(USER), &traceme, EPERM)
        .row(Loaded, User(USER), InCgroup, &under_gdb, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_bpf_for_non_root() {
    let prog_load = Op::call("bpf(PROG_LOAD)", || load_trivial_program);
    let map_create = Op::call("bpf(MAP_CREATE)", || create_map);
    let user = RealUser(USER);
    Scenario::for_cgroup(standard_policy!("no-bpf-for-non-root"))
        .denies(user, &prog_load, EPERM)
        .row(Loaded, user, InCgroup, &map_create, Allowed)
        .row(Loaded, Root, InCgroup, &prog_load, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_exec_from_world_writable() {
    // TempDir lives under /tmp, one of the policy's world-writable places.
    let (_dir, in_tmp) = dir_with_true();
    let from_tmp = Op::exec("/tmp/.../true", &in_tmp);
    let from_bin = Op::exec("/bin/true", "/bin/true");
    Scenario::for_cgroup(standard_policy!("no-exec-from-world-writable"))
        .denies(User(USER), &from_tmp, EPERM)
        .row(Loaded, User(USER), InCgroup, &from_bin, Allowed)
        .row(Loaded, Root, InCgroup, &from_tmp, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_kernel_modules() {
    let dir = TempDir::new();
    let garbage = dir.write("garbage.ko", vec![0x42u8; 4096], 0o644);
    let file = std::fs::File::open(&garbage).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let from_memory = Op::call("init_module", || load_garbage_from_memory);
    let from_file = Op::call("finit_module", || load_garbage_from_file(fd));
    let by_modprobe = Op::call("finit_module by modprobe", || {
        named(b"modprobe\0", load_garbage_from_file(fd))
    });
    // Unless the policy refuses, the kernel refuses the contents with its own error.
    Scenario::for_cgroup(standard_policy!("no-kernel-modules"))
        .row(Loaded, Root, InCgroup, &from_memory, Denied(EPERM))
        .row(Loaded, Root, InCgroup, &from_file, Denied(EPERM))
        .row(
            Loaded,
            Root,
            InCgroup,
            &by_modprobe,
            KernelRefuses { not: EPERM },
        )
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_miner_ports() {
    loopback_up();
    let miner = SockAddr::v4([127, 0, 0, 1], 3333);
    let web = SockAddr::v4([127, 0, 0, 1], 8080);
    // Something listens on both: a connect the policy lets through succeeds, so
    // ECONNREFUSED can only be the policy's answer.
    let _miner = Listener::new(miner);
    let _web = Listener::new(web);
    let to_miner = Op::call("connect to port 3333", || connect_to(miner));
    let to_web = Op::call("connect to port 8080", || connect_to(web));
    Scenario::for_cgroup(standard_policy!("no-miner-ports"))
        .denies(Root, &to_miner, ECONNREFUSED)
        .row(Loaded, Root, InCgroup, &to_web, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_proc_mem_access() {
    let mem = Path::new("/proc/self/mem");
    let maps = Path::new("/proc/self/maps");
    let read_mem = Op::call("open /proc/self/mem", || open(mem, O_RDONLY));
    let gdb_reads_mem = Op::call("open /proc/self/mem as gdb", || {
        named(b"gdb\0", open(mem, O_RDONLY))
    });
    let read_maps = Op::call("open /proc/self/maps", || open(maps, O_RDONLY));
    Scenario::for_cgroup(standard_policy!("no-proc-mem-access"))
        .denies(Root, &read_mem, EPERM)
        .row(Loaded, Root, InCgroup, &gdb_reads_mem, Allowed)
        .row(Loaded, User(USER), InCgroup, &read_maps, Denied(EPERM))
        .row(Loaded, Root, InCgroup, &read_maps, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_ptrace_of_system_processes() {
    let system = Sleeper::new("krsi-daemon");
    let sshd = Sleeper::new("sshd");
    let seize_system = Op::call("seize a root process", || seize(system.pid()));
    let seize_sshd = Op::call("seize sshd", || seize(sshd.pid()));
    let gdb_seizes_sshd = Op::call("seize sshd as gdb", || named(b"gdb\0", seize(sshd.pid())));
    // Real uid 1000 with euid 0 passes the kernel's own ptrace checks: only the policy refuses.
    let user = RealUser(USER);
    Scenario::for_cgroup(standard_policy!("no-ptrace-of-system-processes"))
        .denies(user, &seize_system, EPERM)
        .row(Loaded, Root, InCgroup, &seize_system, Allowed)
        .row(Loaded, Root, InCgroup, &seize_sshd, Denied(EPERM))
        .row(Loaded, Root, InCgroup, &gdb_seizes_sshd, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_raw_sockets() {
    let packet = Op::call("packet socket", || {
        open_socket(libc::AF_PACKET, libc::SOCK_RAW, 0)
    });
    let tcpdump_packet = Op::call("packet socket as tcpdump", || {
        named(
            b"tcpdump\0",
            open_socket(libc::AF_PACKET, libc::SOCK_RAW, 0),
        )
    });
    let raw = Op::call("raw inet socket", || {
        open_socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP)
    });
    let dgram = Op::call("dgram inet socket", || {
        open_socket(libc::AF_INET, libc::SOCK_DGRAM, 0)
    });
    Scenario::for_cgroup(standard_policy!("no-raw-sockets"))
        .denies(Root, &packet, EPERM)
        .row(Loaded, Root, InCgroup, &tcpdump_packet, Allowed)
        .row(Loaded, Root, InCgroup, &raw, Denied(EPERM))
        .row(Loaded, Root, InCgroup, &dgram, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_sensitive_mounts() {
    let dir = TempDir::new();
    let target = c_path(dir.path());
    let proc_mount = Op::call("mount proc", || mount_fs("proc", target.clone(), "proc"));
    let tmpfs_mount = Op::call("mount tmpfs", || mount_fs("tmp", target.clone(), "tmpfs"));
    // Real uid 1000 with euid 0 may mount: only the policy refuses.
    let user = RealUser(USER);
    Scenario::for_cgroup(standard_policy!("no-sensitive-mounts"))
        .denies(user, &proc_mount, EPERM)
        .row(Loaded, user, InCgroup, &tmpfs_mount, Allowed)
        .row(Loaded, Root, InCgroup, &proc_mount, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_setuid_bits() {
    let dir = TempDir::new();
    let file = dir.write("tool", "#!/bin/sh\n", 0o755);
    let setuid = Op::call("chmod 4755", || chmod(&file, 0o4755));
    let plain = Op::call("chmod 0750", || chmod(&file, 0o750));
    Scenario::for_cgroup(standard_policy!("no-setuid-bits"))
        .denies(Root, &setuid, EPERM)
        .row(Loaded, Root, InCgroup, &plain, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_shell_from_services() {
    let shell = Path::new("/bin/sh");
    let argv = ["sh", "-c", "exit 0"];
    // The caller renames itself and spawns the shell: the shell's parent.comm is the name.
    let nginx_spawns = Op::call("nginx spawns /bin/sh", || {
        named(b"nginx\0", spawn(shell, &argv))
    });
    let cron_spawns = Op::call("cron spawns /bin/sh", || {
        named(b"cron\0", spawn(shell, &argv))
    });
    Scenario::for_cgroup(standard_policy!("no-shell-from-services"))
        .denies(Root, &nginx_spawns, EPERM)
        .row(Loaded, Root, InCgroup, &cron_spawns, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_shell_below_web_servers() {
    let shell = Path::new("/bin/sh");
    let argv = ["sh", "-c", "exit 0"];
    // The caller renames itself, and its child `worker` spawns the shell: the web server is
    // the shell's grandparent, not its parent.
    let below_nginx = Op::call("nginx -> worker -> /bin/sh", || {
        named(b"nginx\0", in_child_named(b"worker\0", spawn(shell, &argv)))
    });
    let below_cron = Op::call("cron -> worker -> /bin/sh", || {
        named(b"cron\0", in_child_named(b"worker\0", spawn(shell, &argv)))
    });
    Scenario::for_cgroup(standard_policy!("no-shell-below-web-servers"))
        .denies(Root, &below_nginx, EPERM)
        .row(Loaded, Root, InCgroup, &below_cron, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_unexpected_root() {
    let to_root = Op::call("real uid 1000 -> 0", || setresuid(0));
    // Every id to 2000: dropping root is fine (keeping euid 0 would be another way to root).
    let drop_to_2000 = Op::call("uid 1000, euid 0 -> all ids 2000", || {
        // SAFETY: plain syscall.
        || unsafe { libc::setresuid(2000, 2000, 2000) }.into()
    });
    // Real uid 1000 with euid 0 may change its ids: only the policy refuses.
    let user = RealUser(USER);
    Scenario::for_cgroup(standard_policy!("no-unexpected-root"))
        .denies(user, &to_root, EPERM)
        .row(Loaded, user, InCgroup, &drop_to_2000, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_userns_for_non_root() {
    let userns = Op::call("unshare(CLONE_NEWUSER)", || unshare_userns);
    let user = RealUser(USER);
    Scenario::for_cgroup(standard_policy!("no-userns-for-non-root"))
        .denies(user, &userns, EPERM)
        .row(Loaded, Root, InCgroup, &userns, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn protect_binaries() {
    let binary = Placed::file(
        Path::new("/usr/bin").join(unique("krsi-stdlib")),
        "#!/bin/sh\n",
        0o755,
    );
    let write = Op::call("open a binary for writing", || {
        open(binary.path(), O_WRONLY)
    });
    let read = Op::call("open a binary for reading", || {
        open(binary.path(), O_RDONLY)
    });
    let remove = Op::call("unlink a binary", || unlink(binary.path()));
    Scenario::for_cgroup(standard_policy!("protect-binaries"))
        .denies(Root, &write, EPERM)
        .row(Loaded, Root, InCgroup, &read, Allowed)
        .row(Loaded, Root, InCgroup, &remove, Denied(EPERM))
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn protect_boot() {
    let image = Placed::file(
        Path::new("/boot").join(unique("krsi-vmlinuz")),
        "kernel",
        0o644,
    );
    let write = Op::call("open a boot file for writing", || {
        open(image.path(), O_WRONLY)
    });
    let cp_writes = Op::call("open a boot file for writing as cp", || {
        named(b"cp\0", open(image.path(), O_WRONLY))
    });
    Scenario::for_cgroup(standard_policy!("protect-boot"))
        .denies(Root, &write, EPERM)
        .row(Loaded, Root, InCgroup, &cp_writes, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn protect_credentials() {
    let shadow = Placed::file("/etc/shadow", "root:*:19000:0:99999:7:::\n", 0o640);
    let write = Op::call("open /etc/shadow for writing", || {
        open(shadow.path(), O_WRONLY)
    });
    let passwd_writes = Op::call("open /etc/shadow for writing as passwd", || {
        named(b"passwd\0", open(shadow.path(), O_WRONLY))
    });
    let read = Op::call("open /etc/shadow for reading", || {
        open(shadow.path(), O_RDONLY)
    });
    Scenario::for_cgroup(standard_policy!("protect-credentials"))
        .denies(Root, &write, EACCES)
        .row(Loaded, Root, InCgroup, &passwd_writes, Allowed)
        .row(Loaded, Root, InCgroup, &read, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn protect_kernel_parameters() {
    // Opening for writing writes nothing: the parameter keeps its value.
    let parameter = Path::new("/proc/sys/kernel/domainname");
    let write = Op::call("open a sysctl for writing", || open(parameter, O_WRONLY));
    let read = Op::call("open a sysctl for reading", || open(parameter, O_RDONLY));
    Scenario::for_cgroup(standard_policy!("protect-kernel-parameters"))
        .denies(Root, &write, EPERM)
        .row(Loaded, Root, InCgroup, &read, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn protect_ld_preload() {
    let preload = Placed::parent_of("/etc/ld.so.preload");
    let conf = Placed::file(
        Path::new("/etc/ld.so.conf.d").join(unique("krsi")),
        "/opt/lib\n",
        0o644,
    );
    let create = Op::call("create /etc/ld.so.preload", || {
        open(preload.path(), O_WRONLY | O_CREAT)
    });
    let write_conf = Op::call("open an ld.so.conf.d file for writing", || {
        open(conf.path(), O_WRONLY)
    });
    let read_conf = Op::call("open an ld.so.conf.d file for reading", || {
        open(conf.path(), O_RDONLY)
    });
    Scenario::for_cgroup(standard_policy!("protect-ld-preload"))
        .reset(|| {
            let _ = std::fs::remove_file(preload.path());
        })
        .denies(Root, &create, EPERM)
        .row(Loaded, Root, InCgroup, &write_conf, Denied(EPERM))
        .row(Loaded, Root, InCgroup, &read_conf, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn protect_logs() {
    let log = Placed::file(
        Path::new("/var/log").join(unique("krsi")).join("auth.log"),
        "log\n",
        0o644,
    );
    let remove = Op::call("unlink a log", || unlink(log.path()));
    let emptied = Op::call("truncate(2) a log", || truncate(log.path()));
    let logrotate_empties = Op::call("truncate(2) a log as logrotate", || {
        named(b"logrotate\0", truncate(log.path()))
    });
    Scenario::for_cgroup(standard_policy!("protect-logs"))
        .denies(Root, &remove, EPERM)
        .reset(|| std::fs::write(log.path(), "log\n").unwrap())
        .row(Loaded, Root, InCgroup, &emptied, Denied(EPERM))
        .row(Loaded, Root, InCgroup, &logrotate_empties, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn protect_persistence() {
    let job = Placed::parent_of(Path::new("/etc/cron.d").join(unique("krsi")));
    let unit = Placed::file(
        Path::new("/etc/systemd/system").join(unique("krsi") + ".service"),
        "[Service]\nExecStart=/bin/true\n",
        0o644,
    );
    let create_job = Op::call("create a cron job", || open(job.path(), O_WRONLY | O_CREAT));
    let edit_unit = Op::call("open a unit for writing", || open(unit.path(), O_WRONLY));
    let read_unit = Op::call("open a unit for reading", || open(unit.path(), O_RDONLY));
    Scenario::for_cgroup(standard_policy!("protect-persistence"))
        .reset(|| {
            let _ = std::fs::remove_file(job.path());
        })
        .denies(Root, &create_job, EPERM)
        .row(Loaded, Root, InCgroup, &edit_unit, Denied(EPERM))
        .row(Loaded, Root, InCgroup, &read_unit, Allowed)
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn protect_security_agents() {
    let falco = Sleeper::new("falco");
    let term = Op::call("SIGTERM to falco", || kill(falco.pid(), libc::SIGTERM));
    let stop = Op::call("SIGSTOP to falco", || kill(falco.pid(), libc::SIGSTOP));
    // SIGCONT is not in the policy's list: harmless to a process that is not stopped.
    let cont = Op::call("SIGCONT to falco", || kill(falco.pid(), libc::SIGCONT));
    // Real uid 1000 with euid 0 may signal a root process: only the policy refuses.
    let user = RealUser(USER);
    Scenario::for_cgroup(standard_policy!("protect-security-agents"))
        .row(Loaded, user, InCgroup, &term, Denied(EPERM))
        .row(Loaded, Root, InCgroup, &stop, Denied(EPERM))
        .row(Loaded, user, InCgroup, &cont, Allowed)
        .step(Loaded, |_| assert!(falco.alive(), "falco survived"))
        .run();
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn protect_ssh_keys() {
    let name = unique("id_krsi");
    let key = Placed::file(format!("/root/.ssh/{name}"), "private\n", 0o600);
    let public = Placed::file(format!("/root/.ssh/{name}.pub"), "public\n", 0o644);
    let read_key = Op::call("read a private key", || open(key.path(), O_RDONLY));
    let ssh_reads_key = Op::call("read a private key as ssh", || {
        named(b"ssh\0", open(key.path(), O_RDONLY))
    });
    let read_public = Op::call("read a public key", || open(public.path(), O_RDONLY));
    Scenario::for_cgroup(standard_policy!("protect-ssh-keys"))
        .denies(Root, &read_key, EACCES)
        .row(Loaded, Root, InCgroup, &ssh_reads_key, Allowed)
        .row(Loaded, Root, InCgroup, &read_public, Allowed)
        .run();
}

/// Loaded for the whole machine (its rules tell containers by their cgroup): root's
/// bpf(MAP_CREATE), with CAP_SYS_ADMIN, is refused in a cgroup named as Docker names a
/// container's and let through on the host, in a service's cgroup, and after unload.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn no_admin_powers_in_containers() {
    let dir = TempDir::new();
    let slice = Cgroup::new();
    let container = slice.child_named(
        "docker-4f3c2b1a09e8d7c6b5a4938271605f4e3d2c1b0a99887766554433221100ffee.scope",
    );
    let service = slice.child_named("app.service");
    let policy = Policy::load_source(
        &dir,
        standard_policy!("no-admin-powers-in-containers"),
        None,
    );
    assert_call_ok(call_as(Root, None, create_map), "bpf on the host");
    assert_call_ok(
        call_as(Root, Some(&service), create_map),
        "bpf in a service's cgroup",
    );
    assert_call_denied(
        call_as(Root, Some(&container), create_map),
        EPERM,
        "bpf in the container",
    );
    policy.stop();
    assert_call_ok(
        call_as(Root, Some(&container), create_map),
        "bpf in the container after unload",
    );
    drop(container);
    drop(service);
    drop(slice);
}
