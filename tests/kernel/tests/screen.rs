//! Paths are screened before they are resolved (`codegen::screen`): exact paths by their
//! last names, directory rules by their first directories. A file whose names no listed path
//! has there is let through without `bpf_d_path`, and the screen must never let through a
//! listed path. The
//! names a dentry holds are not always the path's: a bind mount shows a file under another
//! name, a rename changes it, a hard link gives it two. Each case is checked against the
//! resolved path's meaning, for open and exec, by a non-root user in the policy's cgroup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_call_ok, assert_exec_denied, assert_open_denied, assert_opened, assert_ran, c_path,
    call_as, open_as, require_guest, run_as, Cgroup, Identity, Policy, TempDir, USER,
};
use libc::{EACCES, EPERM, O_RDONLY};
use std::path::Path;

/// A bind mount of `source` on `target`, undone when dropped.
struct Bind(std::ffi::CString);

impl Bind {
    fn new(source: &Path, target: &Path) -> Bind {
        let (s, t) = (c_path(source), c_path(target));
        // SAFETY: NUL-terminated paths; a bind mount takes no type or data.
        let r = unsafe {
            libc::mount(
                s.as_ptr(),
                t.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        assert_eq!(r, 0, "bind mount of {source:?} on {target:?}");
        Bind(t)
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        // SAFETY: a NUL-terminated path this value mounted on.
        unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
    }
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn listed_paths_are_refused_and_others_let_through_by_their_names() {
    require_guest();
    let dir = TempDir::new();
    dir.mkdirs(&[
        "a", "a/bin", "a/lib", "b", "b/bin", "bb", "bb/bin", "c", "c/lib", "x", "x/bin", "mnt",
    ]);
    let listed_a = dir.write("a/bin/tool", "data\n", 0o644);
    let listed_b = dir.write("b/bin/tool", "data\n", 0o644);
    let listed_c = dir.write("c/lib/conf", "data\n", 0o644);
    // The same name in an unlisted directory, a listed directory's other file, a directory
    // whose name is as long as a listed one's.
    let same_name = dir.write("x/bin/tool", "data\n", 0o644);
    let other_file = dir.write("a/bin/tool2", "data\n", 0o644);
    let other_dir = dir.write("a/lib/tool", "data\n", 0o644);
    let long_dir = dir.write("bb/bin/tool", "data\n", 0o644);
    let source = format!(
        "deny open where path in [\"{}\", \"{}\", \"{}\"] and uid != 0 errno EACCES\n",
        listed_a.display(),
        listed_b.display(),
        listed_c.display()
    );
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));
    let open = |path: &Path| open_as(path, O_RDONLY, Some(USER), Some(&cg));
    for listed in [&listed_a, &listed_b, &listed_c] {
        assert_open_denied(open(listed), EACCES, "a listed path");
    }
    assert_opened(
        open_as(&listed_a, O_RDONLY, None, Some(&cg)),
        "a listed path opened by root",
    );
    for (path, what) in [
        (&same_name, "a listed name in an unlisted directory"),
        (&other_file, "another file in a listed directory"),
        (&other_dir, "a listed name under another parent"),
        (&long_dir, "a parent as long as a listed one"),
    ] {
        assert_opened(open(path), what);
    }

    // A bind mount: the dentry is the mount's root, whose name is the source's. The path
    // is where it is mounted.
    let unlisted_source = dir.write("x/bin/source", "data\n", 0o644);
    {
        let _bind = Bind::new(&unlisted_source, &listed_b);
        assert_open_denied(
            open(&listed_b),
            EACCES,
            "an unlisted file bind-mounted on a listed path",
        );
    }
    let target = dir.write("mnt/target", "data\n", 0o644);
    {
        let _bind = Bind::new(&listed_a, &target);
        assert_opened(
            open(&target),
            "a listed file bind-mounted on an unlisted path",
        );
        assert_open_denied(open(&listed_a), EACCES, "the listed file at its own path");
    }

    // A hard link: the path of the name opened.
    let link = dir.join("x/bin/link");
    std::fs::hard_link(&listed_c, &link).unwrap();
    assert_opened(
        open(&link),
        "a hard link to a listed file at an unlisted path",
    );
    assert_open_denied(
        open(&listed_c),
        EACCES,
        "the listed file with a second link",
    );

    // A rename: the name the dentry has now.
    let renamed = dir.join("x/bin/renamed");
    std::fs::rename(&listed_c, &renamed).unwrap();
    assert_opened(open(&renamed), "a listed file renamed away");
    std::fs::rename(&renamed, &listed_c).unwrap();
    assert_open_denied(open(&listed_c), EACCES, "a file renamed to a listed path");

    policy.stop();
    assert_opened(open(&listed_a), "a listed path after unload");
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn listed_executables_are_refused_and_others_run() {
    require_guest();
    let dir = TempDir::new();
    dir.mkdirs(&[
        "app1",
        "app1/bin",
        "app2",
        "app2/bin",
        "appx",
        "appx/bin",
        "other",
        "other/bin",
    ]);
    let listed: Vec<_> = (1..=2)
        .map(|i| dir.copy("/bin/true", format!("app{i}/bin/tool"), 0o755))
        .collect();
    let same_name = dir.copy("/bin/true", "appx/bin/tool", 0o755);
    let other_parent = dir.copy("/bin/true", "other/bin/tool", 0o755);
    let source = format!(
        "deny exec where path in [\"{}\", \"{}\"] and uid != 0\n",
        listed[0].display(),
        listed[1].display()
    );
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));
    for exe in &listed {
        assert_exec_denied(
            run_as(exe, &[], Some(USER), Some(&cg)),
            EPERM,
            "a listed executable",
        );
    }
    assert_ran(
        run_as(&same_name, &[], Some(USER), Some(&cg)),
        "a directory as long as a listed one's",
    );
    assert_ran(
        run_as(&other_parent, &[], Some(USER), Some(&cg)),
        "a listed name in an unlisted directory",
    );
    {
        let _bind = Bind::new(&same_name, &listed[1]);
        assert_exec_denied(
            run_as(&listed[1], &[], Some(USER), Some(&cg)),
            EPERM,
            "an unlisted executable bind-mounted on a listed path",
        );
    }
    policy.stop();
    assert_ran(
        run_as(&listed[0], &[], Some(USER), Some(&cg)),
        "a listed executable after unload",
    );
}

/// Directory rules are screened by the path's first directories, read on the way up from
/// the file to the process's root, when the file is on the root's own mount (the guest's
/// root file system, not the tmpfs on /tmp): a file under no listed directory is let
/// through without `bpf_d_path`, and a listed one is never let through. Bind mounts, a
/// rename, a chroot and a path deeper than the screen climbs each make the walk's names
/// differ from the resolved path or end it early; each case is checked against the
/// resolved path's meaning.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn directory_rules_are_screened_by_the_first_directories() {
    require_guest();
    let dir = TempDir::on_root_mount();
    let deep = "deep/1/2/3/4/5/6/7/8/9/10/11/12/13";
    let mut dirs: Vec<String> = [
        "srv",
        "srv/app1",
        "srv/app1/bin",
        "srv/app22",
        "srv/app22/bin",
        "srv/appx",
        "srv/appx/bin",
        "srv/app3",
        "srv/app3/bin",
        "srv/app5",
        "srv/app5/bin",
        "etc",
        "etc/app1",
        "mnt",
    ]
    .map(String::from)
    .to_vec();
    // `deep`, `deep/1`, ... each a parent before its child.
    let names: Vec<&str> = deep.split('/').collect();
    dirs.extend((1..=names.len()).map(|n| names[..n].join("/")));
    let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
    dir.mkdirs(&dirs);
    let listed_1 = dir.write("srv/app1/bin/tool", "data\n", 0o644);
    let listed_22 = dir.write("srv/app22/bin/tool", "data\n", 0o644);
    let listed_deep = dir.write(format!("{deep}/tool"), "data\n", 0o644);
    let near = dir.write("srv/appx/bin/tool", "data\n", 0o644);
    let other_top = dir.write("etc/app1/tool", "data\n", 0o644);
    let unlisted_3 = dir.write("srv/app3/bin/tool", "data\n", 0o644);
    let top = dir.path().display();
    let source = format!(
        "deny open where path ~ [\"{top}/srv/app1/**\", \"{top}/srv/app22/**\", \"{top}/deep/**\"] and uid != 0 errno EACCES\n\
         deny exec where path ~ \"{top}/srv/app5/**\" and uid != 0\n"
    );
    let cg = Cgroup::new();
    let policy_dir = TempDir::new();
    let policy = Policy::load_source(&policy_dir, &source, Some(&cg));
    let open = |path: &Path| open_as(path, O_RDONLY, Some(USER), Some(&cg));
    for listed in [&listed_1, &listed_22] {
        assert_open_denied(open(listed), EACCES, "a file under a listed directory");
    }
    assert_open_denied(
        open(&listed_deep),
        EACCES,
        "a file under a listed directory, deeper than the screen climbs",
    );
    assert_opened(
        open_as(&listed_1, O_RDONLY, None, Some(&cg)),
        "a listed directory's file opened by root",
    );
    for (path, what) in [
        (
            &near,
            "a directory beside listed ones, with a letter where they have digits",
        ),
        (&other_top, "a listed directory's name under another parent"),
        (&unlisted_3, "a directory as long as a listed one"),
    ] {
        assert_opened(open(path), what);
    }

    // Bind mounts: below a mount other than the root's, the path goes on at its mount
    // point, and the screen resolves it.
    {
        let _bind = Bind::new(&dir.join("srv/appx"), &dir.join("srv/app1"));
        let shown = dir.join("srv/app1/bin/tool");
        assert_open_denied(
            open(&shown),
            EACCES,
            "an unlisted directory bind-mounted on a listed one",
        );
    }
    {
        let _bind = Bind::new(&dir.join("srv/app1"), &dir.join("mnt"));
        assert_opened(
            open(&dir.join("mnt/bin/tool")),
            "a listed directory bind-mounted on an unlisted one",
        );
        assert_open_denied(
            open(&listed_1),
            EACCES,
            "the listed directory at its own path",
        );
    }

    // A rename: the names the dentries have now.
    let renamed = dir.join("srv/appy");
    std::fs::rename(dir.join("srv/app1"), &renamed).unwrap();
    assert_opened(
        open(&renamed.join("bin/tool")),
        "a listed directory renamed away",
    );
    std::fs::rename(&renamed, dir.join("srv/app1")).unwrap();
    assert_open_denied(
        open(&listed_1),
        EACCES,
        "a directory renamed to a listed name",
    );

    // A chroot into the listed tree: `bpf_d_path` resolves the path from the process's
    // root, where it no longer begins with the listed directories.
    let inside = c_path(Path::new("/app1/bin/tool"));
    let root = c_path(&dir.join("srv"));
    let chrooted_open = || {
        // SAFETY: NUL-terminated paths; the child only makes system calls.
        unsafe {
            if libc::chroot(root.as_ptr()) != 0 {
                return -1;
            }
            libc::c_long::from(libc::open(inside.as_ptr(), O_RDONLY))
        }
    };
    assert_call_ok(
        call_as(Identity::RealUser(USER), Some(&cg), chrooted_open),
        "a listed file opened inside a chroot, where its path is /app1/bin/tool",
    );

    // Exec: the same screen on `bprm->file` (under a directory the open rule does not list:
    // an exec opens its file first).
    let listed_exe = dir.copy("/bin/true", "srv/app5/bin/true", 0o755);
    let near_exe = dir.copy("/bin/true", "srv/appx/bin/true", 0o755);
    assert_exec_denied(
        run_as(&listed_exe, &[], Some(USER), Some(&cg)),
        EPERM,
        "an executable under a listed directory",
    );
    assert_ran(
        run_as(&near_exe, &[], Some(USER), Some(&cg)),
        "an executable under an unlisted directory",
    );

    policy.stop();
    assert_opened(open(&listed_1), "a listed directory's file after unload");
}
