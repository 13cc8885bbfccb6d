//! Network events: `socket`, `connect`, `bind`, `listen` on loopback. A process in the
//! policy's cgroup doing the operation fails with the rule's errno; the same operation
//! succeeds (or fails with the kernel's own error, for a destination a guest cannot reach)
//! outside the cgroup, for a process or address the rule does not cover, and after unload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::ops::{connect_to, open_socket, Listener};
use kernel_tests::Expect::{Allowed, Denied, KernelRefuses};
use kernel_tests::Identity::{RealUser, Root, User};
use kernel_tests::Phase::{Before, Loaded, Unloaded};
use kernel_tests::Place::{InCgroup, TestCgroup};
use kernel_tests::{loopback_up, Op, Scenario, SockAddr, USER};
use libc::{EACCES, EPERM};
use std::net::Ipv6Addr;

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn raw_inet_socket_denied_for_non_root_uid_in_cgroup_only() {
    let raw = Op::call("raw inet socket", || {
        open_socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP)
    });
    let dgram = Op::call("dgram inet socket", || {
        open_socket(libc::AF_INET, libc::SOCK_DGRAM, 0)
    });
    let raw6 = Op::call("raw inet6 socket", || {
        open_socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6)
    });
    let user = RealUser(USER);
    Scenario::for_cgroup("deny socket where family == inet and type == raw and uid != 0\n")
        .row(Before, user, InCgroup, &raw, Allowed)
        .row(Loaded, user, InCgroup, &raw, Denied(EPERM))
        .row(Loaded, user, InCgroup, &dgram, Allowed)
        .row(Loaded, user, InCgroup, &raw6, Allowed)
        .row(Loaded, Root, InCgroup, &raw, Allowed)
        .row(Loaded, user, TestCgroup, &raw, Allowed)
        .row(Unloaded, user, InCgroup, &raw, Allowed)
        .run();
}

/// Connecting to `to`, named `name`.
fn connect(name: &str, to: SockAddr) -> Op<'static> {
    Op::call(format!("connect to {name}"), move || connect_to(to))
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn connect_to_10_slash_8_port_4444_denied_in_cgroup_only() {
    loopback_up();
    let far = connect("10.1.2.3:4444", SockAddr::v4([10, 1, 2, 3], 4444));
    let mapped = connect(
        "[::ffff:10.1.2.3]:4444",
        SockAddr::v6("::ffff:10.1.2.3".parse::<Ipv6Addr>().unwrap(), 4444),
    );
    let far_other_port = connect("10.1.2.3:4445", SockAddr::v4([10, 1, 2, 3], 4445));
    let near = connect("127.0.0.1:4444", SockAddr::v4([127, 0, 0, 1], 4444));
    let near6 = connect("[::1]:4446", SockAddr::v6(Ipv6Addr::LOCALHOST, 4446));
    let _listener = Listener::new(SockAddr::v4([127, 0, 0, 1], 4444));
    let _listener6 = Listener::new(SockAddr::v6(Ipv6Addr::LOCALHOST, 4446));
    // Where the guest has no route the kernel refuses with its own error (ENETUNREACH): the
    // rule's EPERM shows only where the rule decides.
    let unreachable = KernelRefuses { not: EPERM };
    Scenario::for_cgroup(
        "deny connect where addr in 10.0.0.0/8 and port == 4444\n\
         deny connect where family == inet6 and port == 4446 errno EACCES\n",
    )
    .row(Before, Root, InCgroup, &far, unreachable)
    // The family, read from the caller's sockaddr.
    .row(Loaded, Root, InCgroup, &near6, Denied(EACCES))
    .row(Loaded, Root, TestCgroup, &near6, Allowed)
    .row(Loaded, Root, InCgroup, &far, Denied(EPERM))
    .row(Loaded, Root, InCgroup, &mapped, Denied(EPERM))
    .row(Loaded, Root, InCgroup, &far_other_port, unreachable)
    .row(Loaded, User(USER), InCgroup, &near, Allowed)
    .row(Loaded, Root, TestCgroup, &far, unreachable)
    .row(Unloaded, Root, InCgroup, &far, unreachable)
    .run();
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
    loopback_up();
    let bind = |name: &str, at: SockAddr| Op::call(format!("bind {name}"), move || bind_to(at));
    let low = bind("127.0.0.1:80", SockAddr::v4([127, 0, 0, 1], 80));
    let low6 = bind("[::1]:81", SockAddr::v6(Ipv6Addr::LOCALHOST, 81));
    let high = bind("127.0.0.1:8080", SockAddr::v4([127, 0, 0, 1], 8080));
    let unix = Op::call("bind an abstract unix address (no port)", || {
        bind_unix_abstract
    });
    let user = RealUser(USER);
    Scenario::for_cgroup("deny bind where port < 1024 and uid != 0\n")
        .row(Before, user, InCgroup, &low, Allowed)
        .row(Loaded, user, InCgroup, &low, Denied(EPERM))
        .row(Loaded, user, InCgroup, &low6, Denied(EPERM))
        .row(Loaded, User(USER), InCgroup, &high, Allowed)
        .row(Loaded, user, InCgroup, &unix, Allowed)
        .row(Loaded, Root, InCgroup, &low, Allowed)
        .row(Loaded, user, TestCgroup, &low, Allowed)
        .row(Unloaded, user, InCgroup, &low, Allowed)
        .run();
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
    loopback_up();
    let listen =
        |name: &str, at: SockAddr| Op::call(format!("listen on {name}"), move || listen_on(at));
    let v4 = |port| SockAddr::v4([127, 0, 0, 1], port);
    let v6 = |port| SockAddr::v6(Ipv6Addr::LOCALHOST, port);
    let at = listen("127.0.0.1:4445", v4(4445));
    let mapped = listen(
        "[::ffff:127.0.0.1]:4445",
        SockAddr::v6("::ffff:127.0.0.1".parse::<Ipv6Addr>().unwrap(), 4445),
    );
    let (v6_4445, v6_4448, v6_4449) = (
        listen("[::1]:4445", v6(4445)),
        listen("[::1]:4448", v6(4448)),
        listen("[::1]:4449", v6(4449)),
    );
    let (v4_4446, v4_4449) = (
        listen("127.0.0.1:4446", v4(4446)),
        listen("127.0.0.1:4449", v4(4449)),
    );
    let user = User(USER);
    Scenario::for_cgroup(
        "deny listen where addr == 127.0.0.1 and port == 4445 errno EACCES\n\
         deny listen where addr == ::1 and port in [4447, 4448]\n\
         deny listen where family == inet6 and port == 4449\n",
    )
    .row(Loaded, user, InCgroup, &at, Denied(EACCES))
    .row(Loaded, user, InCgroup, &mapped, Denied(EACCES))
    .row(Loaded, user, InCgroup, &v6_4448, Denied(EPERM))
    .row(Loaded, user, InCgroup, &v4_4446, Allowed)
    // The family, read through sock->sk.
    .row(Loaded, user, InCgroup, &v6_4449, Denied(EPERM))
    .row(Loaded, user, InCgroup, &v4_4449, Allowed)
    .row(Loaded, user, InCgroup, &v6_4445, Allowed)
    .row(Loaded, user, TestCgroup, &at, Allowed)
    .row(Unloaded, user, InCgroup, &at, Allowed)
    .run();
}
