//! Network events: `socket`, `connect`, `bind`, `listen` on loopback. A process in the
//! policy's cgroup doing the operation fails with the rule's errno; the same operation
//! succeeds (or fails with the kernel's own error, for a destination a guest cannot reach)
//! outside the cgroup, for a process or address the rule does not cover, and after unload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_call_denied, assert_call_fails_not_with, assert_call_ok, call_as, loopback_up,
    require_guest, Cgroup, Identity, Policy, SockAddr, TempDir, USER,
};
use libc::{EACCES, EPERM};
use std::net::Ipv6Addr;

/// socket(family, type, protocol), closed again.
fn open_socket(
    family: libc::c_int,
    kind: libc::c_int,
    protocol: libc::c_int,
) -> impl FnOnce() -> libc::c_long {
    // SAFETY: plain syscalls on a descriptor this closure owns.
    move || unsafe {
        let fd = libc::socket(family, kind | libc::SOCK_CLOEXEC, protocol);
        if fd < 0 {
            return -1;
        }
        libc::close(fd);
        0
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn raw_inet_socket_denied_for_non_root_uid_in_cgroup_only() {
    require_guest();
    let cg = Cgroup::new();
    let raw_icmp = || open_socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP);
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), raw_icmp()),
        "raw inet socket, real uid 1000 in the cgroup, before load",
    );
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny socket where family == inet and type == raw and uid != 0\n",
        Some(&cg),
    );
    assert_call_denied(
        call_as(Identity::RealUser(USER), Some(&cg), raw_icmp()),
        EPERM,
        "raw inet socket, real uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(
            Identity::RealUser(USER),
            Some(&cg),
            open_socket(libc::AF_INET, libc::SOCK_DGRAM, 0),
        ),
        "dgram inet socket, real uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(
            Identity::RealUser(USER),
            Some(&cg),
            open_socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6),
        ),
        "raw inet6 socket, real uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::Root, Some(&cg), raw_icmp()),
        "raw inet socket, uid 0 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::RealUser(USER), None, raw_icmp()),
        "raw inet socket, real uid 1000 outside the cgroup",
    );
    policy.stop();
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), raw_icmp()),
        "raw inet socket, real uid 1000 in the cgroup, after unload",
    );
}

/// A non-blocking TCP connect to `to`: 0 or EINPROGRESS-free success on loopback, the
/// kernel's error (ENETUNREACH) where the guest has no route.
fn connect_to(to: SockAddr) -> impl FnOnce() -> libc::c_long {
    // SAFETY: plain syscalls; `to` lives in the closure.
    move || unsafe {
        let fd = libc::socket(
            to.family(),
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return -1;
        }
        let (addr, len) = to.raw();
        let r = libc::connect(fd, addr, len);
        let errno = *libc::__errno_location();
        libc::close(fd);
        if r < 0 && errno != libc::EINPROGRESS {
            *libc::__errno_location() = errno;
            return -1;
        }
        0
    }
}

/// A TCP socket of the test process listening on `at` until dropped.
struct Listener(libc::c_int);

impl Listener {
    fn new(at: SockAddr) -> Listener {
        // SAFETY: plain syscalls on a fresh descriptor.
        unsafe {
            let fd = libc::socket(at.family(), libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0);
            let one: libc::c_int = 1;
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                (&one as *const libc::c_int).cast(),
                4,
            );
            let (addr, len) = at.raw();
            assert_eq!(libc::bind(fd, addr, len), 0, "bind the test's listener");
            assert_eq!(libc::listen(fd, 16), 0, "listen");
            Listener(fd)
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // SAFETY: our descriptor.
        unsafe { libc::close(self.0) };
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn connect_to_10_slash_8_port_4444_denied_in_cgroup_only() {
    require_guest();
    loopback_up();
    let cg = Cgroup::new();
    let far = SockAddr::v4([10, 1, 2, 3], 4444);
    let mapped = SockAddr::v6("::ffff:10.1.2.3".parse::<Ipv6Addr>().unwrap(), 4444);
    let _listener = Listener::new(SockAddr::v4([127, 0, 0, 1], 4444));
    let kernel_error = assert_call_fails_not_with(
        call_as(Identity::Root, Some(&cg), connect_to(far)),
        EPERM,
        "10.1.2.3:4444 from the cgroup, before load",
    );

    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny connect where addr in 10.0.0.0/8 and port == 4444\n\
         deny connect where family == inet6 and port == 4446 errno EACCES\n",
        Some(&cg),
    );
    // The family, read from the caller's sockaddr.
    let _listener6 = Listener::new(SockAddr::v6(Ipv6Addr::LOCALHOST, 4446));
    assert_call_denied(
        call_as(
            Identity::Root,
            Some(&cg),
            connect_to(SockAddr::v6(Ipv6Addr::LOCALHOST, 4446)),
        ),
        EACCES,
        "[::1]:4446 from the cgroup",
    );
    assert_call_ok(
        call_as(
            Identity::Root,
            None,
            connect_to(SockAddr::v6(Ipv6Addr::LOCALHOST, 4446)),
        ),
        "[::1]:4446 from outside the cgroup",
    );
    assert_call_denied(
        call_as(Identity::Root, Some(&cg), connect_to(far)),
        EPERM,
        "10.1.2.3:4444 from the cgroup",
    );
    assert_call_denied(
        call_as(Identity::Root, Some(&cg), connect_to(mapped)),
        EPERM,
        "[::ffff:10.1.2.3]:4444 from the cgroup",
    );
    assert_call_fails_not_with(
        call_as(
            Identity::Root,
            Some(&cg),
            connect_to(SockAddr::v4([10, 1, 2, 3], 4445)),
        ),
        EPERM,
        "10.1.2.3:4445 from the cgroup",
    );
    assert_call_ok(
        call_as(
            Identity::User(USER),
            Some(&cg),
            connect_to(SockAddr::v4([127, 0, 0, 1], 4444)),
        ),
        "127.0.0.1:4444 from the cgroup",
    );
    assert_call_fails_not_with(
        call_as(Identity::Root, None, connect_to(far)),
        EPERM,
        "10.1.2.3:4444 from outside the cgroup",
    );
    policy.stop();
    let after = assert_call_fails_not_with(
        call_as(Identity::Root, Some(&cg), connect_to(far)),
        EPERM,
        "10.1.2.3:4444 from the cgroup, after unload",
    );
    assert_eq!(after, kernel_error);
}

/// bind(2) of a fresh TCP socket to `at`, then closed (which frees the port again).
fn bind_to(at: SockAddr) -> impl FnOnce() -> libc::c_long {
    // SAFETY: plain syscalls; `at` lives in the closure.
    move || unsafe {
        let fd = libc::socket(at.family(), libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return -1;
        }
        let (addr, len) = at.raw();
        let r = libc::bind(fd, addr, len);
        let errno = *libc::__errno_location();
        libc::close(fd);
        *libc::__errno_location() = errno;
        r.into()
    }
}

/// bind(2) of a unix socket to an abstract address: a socket without a port.
fn bind_unix_abstract() -> libc::c_long {
    // SAFETY: plain syscalls on a zeroed sockaddr_un.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return -1;
        }
        let mut sa: libc::sockaddr_un = std::mem::zeroed();
        sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let name = b"\0krsi-net-test";
        for (i, b) in name.iter().enumerate() {
            sa.sun_path[i] = *b as libc::c_char;
        }
        let len = (std::mem::size_of::<libc::sa_family_t>() + name.len()) as libc::socklen_t;
        let r = libc::bind(fd, (&sa as *const libc::sockaddr_un).cast(), len);
        let errno = *libc::__errno_location();
        libc::close(fd);
        *libc::__errno_location() = errno;
        r.into()
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn bind_below_1024_denied_for_non_root_uid_in_cgroup_only() {
    require_guest();
    loopback_up();
    let cg = Cgroup::new();
    let low = SockAddr::v4([127, 0, 0, 1], 80);
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), bind_to(low)),
        "127.0.0.1:80, real uid 1000 in the cgroup, before load",
    );
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny bind where port < 1024 and uid != 0\n",
        Some(&cg),
    );
    assert_call_denied(
        call_as(Identity::RealUser(USER), Some(&cg), bind_to(low)),
        EPERM,
        "127.0.0.1:80, real uid 1000 in the cgroup",
    );
    assert_call_denied(
        call_as(
            Identity::RealUser(USER),
            Some(&cg),
            bind_to(SockAddr::v6(Ipv6Addr::LOCALHOST, 81)),
        ),
        EPERM,
        "[::1]:81, real uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(
            Identity::User(USER),
            Some(&cg),
            bind_to(SockAddr::v4([127, 0, 0, 1], 8080)),
        ),
        "127.0.0.1:8080, uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), bind_unix_abstract),
        "abstract unix address (no port), real uid 1000 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::Root, Some(&cg), bind_to(low)),
        "127.0.0.1:80, uid 0 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::RealUser(USER), None, bind_to(low)),
        "127.0.0.1:80, real uid 1000 outside the cgroup",
    );
    policy.stop();
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), bind_to(low)),
        "127.0.0.1:80, real uid 1000 in the cgroup, after unload",
    );
}

/// bind(2) to `at`, then listen(2); the listen's result.
fn listen_on(at: SockAddr) -> impl FnOnce() -> libc::c_long {
    // SAFETY: plain syscalls; `at` lives in the closure.
    move || unsafe {
        let fd = libc::socket(at.family(), libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return -1;
        }
        let (addr, len) = at.raw();
        if libc::bind(fd, addr, len) != 0 {
            // Not the call under test: report it as a setup failure the caller can see.
            libc::close(fd);
            *libc::__errno_location() = libc::EADDRNOTAVAIL;
            return -1;
        }
        let r = libc::listen(fd, 4);
        let errno = *libc::__errno_location();
        libc::close(fd);
        *libc::__errno_location() = errno;
        r.into()
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn listen_on_loopback_port_denied_in_cgroup_only() {
    require_guest();
    loopback_up();
    let cg = Cgroup::new();
    let at = SockAddr::v4([127, 0, 0, 1], 4445);
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(
        &policy_dir,
        "deny listen where addr == 127.0.0.1 and port == 4445 errno EACCES\n\
         deny listen where addr == ::1 and port in [4447, 4448]\n\
         deny listen where family == inet6 and port == 4449\n",
        Some(&cg),
    );
    assert_call_denied(
        call_as(Identity::User(USER), Some(&cg), listen_on(at)),
        EACCES,
        "listen on 127.0.0.1:4445 in the cgroup",
    );
    assert_call_denied(
        call_as(
            Identity::User(USER),
            Some(&cg),
            listen_on(SockAddr::v6(
                "::ffff:127.0.0.1".parse::<Ipv6Addr>().unwrap(),
                4445,
            )),
        ),
        EACCES,
        "listen on [::ffff:127.0.0.1]:4445 in the cgroup",
    );
    assert_call_denied(
        call_as(
            Identity::User(USER),
            Some(&cg),
            listen_on(SockAddr::v6(Ipv6Addr::LOCALHOST, 4448)),
        ),
        EPERM,
        "listen on [::1]:4448 in the cgroup",
    );
    assert_call_ok(
        call_as(
            Identity::User(USER),
            Some(&cg),
            listen_on(SockAddr::v4([127, 0, 0, 1], 4446)),
        ),
        "listen on 127.0.0.1:4446 in the cgroup",
    );
    // The family, read through sock->sk.
    assert_call_denied(
        call_as(
            Identity::User(USER),
            Some(&cg),
            listen_on(SockAddr::v6(Ipv6Addr::LOCALHOST, 4449)),
        ),
        EPERM,
        "listen on [::1]:4449 in the cgroup",
    );
    assert_call_ok(
        call_as(
            Identity::User(USER),
            Some(&cg),
            listen_on(SockAddr::v4([127, 0, 0, 1], 4449)),
        ),
        "listen on 127.0.0.1:4449 in the cgroup",
    );
    assert_call_ok(
        call_as(
            Identity::User(USER),
            Some(&cg),
            listen_on(SockAddr::v6(Ipv6Addr::LOCALHOST, 4445)),
        ),
        "listen on [::1]:4445 in the cgroup",
    );
    assert_call_ok(
        call_as(Identity::User(USER), None, listen_on(at)),
        "listen on 127.0.0.1:4445 outside the cgroup",
    );
    policy.stop();
    assert_call_ok(
        call_as(Identity::User(USER), Some(&cg), listen_on(at)),
        "listen on 127.0.0.1:4445 in the cgroup, after unload",
    );
}
