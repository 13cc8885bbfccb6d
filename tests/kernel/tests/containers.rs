//! Workload identity: rules on the current process's cgroup (`cgroup.id`, its path `cgroup`,
//! the `container.id` and `pod.uid` derived from it, `container`) and namespaces (`ns.mnt`, `ns.pid`, ...) in one policy
//! loaded for the whole machine, next to the host. A process in a cgroup named the way containerd's CRI plugin names a container AND in
//! new pid and mount namespaces (unshare(2), then fork, as a container runtime does) is
//! refused; the same binary run by a process on the host, or in only one of the two, is let
//! through by the rule that does not apply to it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_call_denied, assert_call_ok, c_path, call_as, dir_with_true, require_guest,
    verifier_stats, Cgroup, Identity, Policy, TempDir,
};
use libc::{EACCES, EPERM};
use std::ffi::CString;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// A container id as container runtimes make them: 64 hex digits.
const CONTAINER_ID: &str = "4f3c2b1a09e8d7c6b5a4938271605f4e3d2c1b0a99887766554433221100ffee";

/// New pid and mount namespaces, as a container runtime makes them (with others).
const CONTAINER_NAMESPACES: libc::c_int = libc::CLONE_NEWNS | libc::CLONE_NEWPID;

/// Runs `exe` in a grandchild of a process that joined `cgroup` (None: the test's own) and
/// made the new namespaces `unshare` (CLONE_NEW* flags; 0 for none) first: with
/// CLONE_NEWPID the grandchild is pid 1 of the new pid namespace, as a container's first
/// process is. `Ok(_)` when the program ran
/// and exited 0, `Err(e)` with the exec's errno when the exec was refused.
fn exec_in(exe: &Path, cgroup: Option<&Cgroup>, unshare: libc::c_int) -> io::Result<libc::c_long> {
    let path: CString = c_path(exe);
    call_as(Identity::Root, cgroup, move || {
        // SAFETY: plain syscalls; the strings were made before the fork, nothing allocates.
        unsafe {
            if unshare != 0 && libc::unshare(unshare) != 0 {
                return -1;
            }
            let pid = libc::fork();
            if pid < 0 {
                return -1;
            }
            if pid == 0 {
                let argv = [path.as_ptr(), std::ptr::null()];
                let envp: [*const libc::c_char; 1] = [std::ptr::null()];
                libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
                // The exec's errno as the exit code, 100 up, which /bin/true never uses.
                libc::_exit(100 + *libc::__errno_location());
            }
            let mut status = 0;
            if libc::waitpid(pid, &mut status, 0) != pid || !libc::WIFEXITED(status) {
                *libc::__errno_location() = libc::ECHILD;
                return -1;
            }
            match libc::WEXITSTATUS(status) {
                0 => 0,
                code if code >= 100 => {
                    *libc::__errno_location() = code - 100;
                    -1
                }
                _ => {
                    *libc::__errno_location() = libc::EPROTO;
                    -1
                }
            }
        }
    })
}

/// The reports `policy` has printed once there are `count` of them, or after 20 s those
/// there are (krsic prints each as it reads it from the ring buffer).
fn reports_of(policy: &Policy, count: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reports: Vec<serde_json::Value> = policy
            .events()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        if reports.len() >= count || Instant::now() > deadline {
            return reports;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The inode number of the mount namespace of this test process (the host's).
fn host_mount_namespace() -> u64 {
    std::fs::metadata("/proc/self/ns/mnt").unwrap().ino()
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn container_cgroup_and_namespaces_denied_next_to_host_rules() {
    let (_bin, exe) = dir_with_true();
    let other = exe.with_file_name("other");
    std::fs::copy(&exe, &other).unwrap();
    let slice = Cgroup::new();
    let container = slice.child_named(&format!("cri-containerd-{CONTAINER_ID}.scope"));
    // On cgroup2 a cgroup's id is its directory's inode number (kernfs node id).
    let cgroup_id = std::fs::metadata(container.path()).unwrap().ino();
    let host_mnt = host_mount_namespace();
    let dir = TempDir::new();
    // Host rules and container rules in one file, loaded for the whole machine.
    let source = format!(
        "deny exec where path == \"{exe}\" and ns.mnt != {host_mnt} errno EACCES\n\
         deny exec where path == \"{other}\" and cgroup.id == {cgroup_id} errno EPERM\n",
        exe = exe.display(),
        other = other.display(),
    );
    let policy = Policy::load_source(&dir, &source, None);

    // On the host: neither rule applies.
    assert_call_ok(exec_in(&exe, None, 0), "exe on the host");
    assert_call_ok(exec_in(&other, None, 0), "other on the host");
    // In the container's cgroup, host namespaces: only the cgroup rule applies.
    assert_call_ok(exec_in(&exe, Some(&container), 0), "exe in the cgroup");
    assert_call_denied(
        exec_in(&other, Some(&container), 0),
        EPERM,
        "other in the cgroup",
    );
    // New pid and mount namespaces outside the cgroup: only the namespace rule applies.
    assert_call_denied(
        exec_in(&exe, None, CONTAINER_NAMESPACES),
        EACCES,
        "exe in new namespaces",
    );
    assert_call_ok(
        exec_in(&other, None, CONTAINER_NAMESPACES),
        "other in new namespaces",
    );
    // Both: the container.
    assert_call_denied(
        exec_in(&exe, Some(&container), CONTAINER_NAMESPACES),
        EACCES,
        "exe in the container",
    );
    assert_call_denied(
        exec_in(&other, Some(&container), CONTAINER_NAMESPACES),
        EPERM,
        "other in the container",
    );
    // The cgroup's parent is another cgroup: its id is not the container's.
    assert_call_ok(
        exec_in(&other, Some(&slice), 0),
        "other in the parent cgroup",
    );

    // Four refusals; krsic prints their reports as it reads them from the ring buffer.
    let reports = reports_of(&policy, 4);
    policy.stop();
    // The reports carry the values the rules read: the container's cgroup id, and a mount
    // namespace that is not the host's.
    let attribute = |name: &str| -> Vec<u64> {
        reports
            .iter()
            .filter(|r| r["action"] == "deny")
            .filter_map(|r| r["attributes"][name].as_u64())
            .collect()
    };
    let ids = attribute("cgroup.id");
    assert!(
        ids.len() == 2 && ids.iter().all(|&id| id == cgroup_id),
        "two refusals report cgroup.id {cgroup_id}: {reports:?}"
    );
    let mounts = attribute("ns.mnt");
    assert!(
        mounts.len() == 2 && mounts.iter().all(|&ns| ns != host_mnt && ns != 0),
        "two refusals report a mount namespace other than the host's {host_mnt}: {reports:?}"
    );
    // Cleanup order: the container's cgroup before its parent.
    drop(container);
    drop(slice);
    // After unload the container runs the binary again.
    let slice = Cgroup::new();
    let container = slice.child_named(&format!("cri-containerd-{CONTAINER_ID}.scope"));
    assert_call_ok(
        exec_in(&exe, Some(&container), CONTAINER_NAMESPACES),
        "exe after unload",
    );
    drop(container);
    drop(slice);
}

/// The inode number of the pid namespace of this test process (the host's).
fn host_pid_namespace() -> u64 {
    std::fs::metadata("/proc/self/ns/pid").unwrap().ino()
}

/// `container.id`, `cgroup` and `ns.pid` in one policy: a process in a cgroup named as
/// containerd names a container's, under a Kubernetes-like slice, AND in new pid and mount
/// namespaces is refused by the container rule, where the same binary on the host, in the
/// slice, or in new namespaces only, is let through; a glob on the cgroup path decides for
/// a second binary and the pid namespace rule for a third. The reports carry the container id
/// and the cgroup path.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn container_id_cgroup_path_and_pid_namespace_decide() {
    let (_bin, exe) = dir_with_true();
    let copy = |name: &str| {
        let path = exe.with_file_name(name);
        std::fs::copy(&exe, &path).unwrap();
        path
    };
    let (globbed, pid_ns) = (copy("globbed"), copy("pidns"));
    let slice = Cgroup::new();
    let pods = slice.child_named("kubepods.slice");
    let container = pods.child_named(&format!("cri-containerd-{CONTAINER_ID}.scope"));
    // The cgroup's path from the cgroup2 root, as `/proc/self/cgroup` shows it.
    let in_hierarchy = |c: &Cgroup| {
        format!(
            "/{}",
            c.path().strip_prefix("/sys/fs/cgroup").unwrap().display()
        )
    };
    let slice_path = in_hierarchy(&slice);
    let container_path = in_hierarchy(&container);
    let host_pid = host_pid_namespace();
    let dir = TempDir::new();
    let source = format!(
        "deny exec where path == \"{exe}\" and container.id != \"\" errno EPERM\n\
         deny exec where path == \"{globbed}\" and cgroup ~ \"{slice_path}/kubepods.slice/**\" errno EPERM\n\
         deny exec where path == \"{pid_ns}\" and ns.pid != {host_pid} errno EACCES\n",
        exe = exe.display(),
        globbed = globbed.display(),
        pid_ns = pid_ns.display(),
    );
    let policy = Policy::load_source(&dir, &source, None);

    // The container rule: the container's cgroup decides, namespaces or not.
    assert_call_ok(exec_in(&exe, None, 0), "exe on the host");
    assert_call_ok(exec_in(&exe, Some(&pods), 0), "exe in the pods' slice");
    assert_call_ok(
        exec_in(&exe, None, CONTAINER_NAMESPACES),
        "exe in new namespaces in the host's cgroup",
    );
    assert_call_denied(
        exec_in(&exe, Some(&container), CONTAINER_NAMESPACES),
        EPERM,
        "exe in the container",
    );
    // The glob: below the slice, not the slice itself.
    assert_call_ok(exec_in(&globbed, None, 0), "globbed on the host");
    assert_call_ok(
        exec_in(&globbed, Some(&pods), 0),
        "globbed in the pods' slice",
    );
    assert_call_denied(
        exec_in(&globbed, Some(&container), 0),
        EPERM,
        "globbed in the container's cgroup",
    );
    // The pid namespace: the grandchild after unshare(CLONE_NEWPID) is in the new one; a new
    // mount namespace alone leaves it in the host's.
    assert_call_ok(exec_in(&pid_ns, None, 0), "pidns on the host");
    assert_call_ok(
        exec_in(&pid_ns, Some(&container), libc::CLONE_NEWNS),
        "pidns in the container's cgroup and a new mount namespace",
    );
    assert_call_denied(
        exec_in(&pid_ns, None, CONTAINER_NAMESPACES),
        EACCES,
        "pidns in a new pid namespace",
    );

    let reports = reports_of(&policy, 3);
    policy.stop();
    let of = |binary: &Path| -> Vec<&serde_json::Value> {
        let name = binary.display().to_string();
        reports
            .iter()
            .filter(|r| r["attributes"]["path"] == name.as_str())
            .collect()
    };
    // The container's refusal: the rule's value, and the process's cgroup and container.
    let refused = of(&exe);
    assert!(
        refused.len() == 1
            && refused[0]["attributes"]["container.id"] == CONTAINER_ID
            && refused[0]["process"]["cgroup"] == container_path.as_str()
            && refused[0]["process"]["container_id"] == CONTAINER_ID,
        "the container's refusal reports id {CONTAINER_ID} and cgroup {container_path}: {reports:?}"
    );
    let globbed_reports = of(&globbed);
    assert!(
        globbed_reports.len() == 1
            && globbed_reports[0]["attributes"]["cgroup"] == container_path.as_str(),
        "the glob's refusal reports cgroup {container_path}: {reports:?}"
    );
    let pid_reports = of(&pid_ns);
    assert!(
        pid_reports.len() == 1
            && pid_reports[0]["attributes"]["ns.pid"]
                .as_u64()
                .is_some_and(|ns| ns != host_pid && ns != 0)
            && pid_reports[0]["process"]["container_id"] == "",
        "the pid namespace's refusal reports another pid namespace, no container: {reports:?}"
    );
    drop(container);
    drop(pods);
    drop(slice);
}

/// A pod UID as Kubernetes prints it; the systemd cgroup driver writes its `-` as `_`.
const POD_UID: &str = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";

/// `pod.uid` and `container` in one policy, in the cgroups the kubelet and containerd make
/// with the systemd driver (`kubepods.slice/kubepods-burstable.slice/
/// kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope`): the pod rule refuses its
/// binary in the pod's cgroup and in its container's, and lets it run on the host, in the QoS
/// slice above the pod and in another pod; the `container` rule refuses its binary in a
/// container's cgroup or in a new pid namespace, and lets it run on the host and in the pod's
/// own cgroup. The reports carry the pod UID.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn pod_uid_and_container_decide() {
    let (_bin, exe) = dir_with_true();
    let other = exe.with_file_name("other");
    std::fs::copy(&exe, &other).unwrap();
    let slice = Cgroup::new();
    let pods = slice.child_named("kubepods.slice");
    let qos = pods.child_named("kubepods-burstable.slice");
    let pod = qos.child_named(&format!(
        "kubepods-burstable-pod{}.slice",
        POD_UID.replace('-', "_")
    ));
    let container = pod.child_named(&format!("cri-containerd-{CONTAINER_ID}.scope"));
    let another_pod =
        qos.child_named("kubepods-burstable-pod00000000_1111_2222_3333_444444444444.slice");
    let dir = TempDir::new();
    let source = format!(
        "deny exec where path == \"{exe}\" and pod.uid == \"{POD_UID}\" errno EPERM\n\
         deny exec where path == \"{other}\" and container errno EACCES\n",
        exe = exe.display(),
        other = other.display(),
    );
    let policy = Policy::load_source(&dir, &source, None);

    assert_call_ok(exec_in(&exe, None, 0), "exe on the host");
    assert_call_ok(exec_in(&exe, Some(&qos), 0), "exe in the QoS slice");
    assert_call_ok(exec_in(&exe, Some(&another_pod), 0), "exe in another pod");
    assert_call_denied(
        exec_in(&exe, Some(&pod), 0),
        EPERM,
        "exe in the pod's cgroup",
    );
    assert_call_denied(
        exec_in(&exe, Some(&container), CONTAINER_NAMESPACES),
        EPERM,
        "exe in the pod's container",
    );
    assert_call_ok(exec_in(&other, None, 0), "other on the host");
    assert_call_ok(
        exec_in(&other, Some(&pod), 0),
        "other in the pod's own cgroup",
    );
    assert_call_denied(
        exec_in(&other, Some(&container), 0),
        EACCES,
        "other in the container's cgroup",
    );
    assert_call_denied(
        exec_in(&other, None, CONTAINER_NAMESPACES),
        EACCES,
        "other in a new pid namespace",
    );

    let reports = reports_of(&policy, 4);
    policy.stop();
    let exe_name = exe.display().to_string();
    let pod_refusals: Vec<&serde_json::Value> = reports
        .iter()
        .filter(|r| r["attributes"]["path"] == exe_name.as_str())
        .collect();
    assert!(
        pod_refusals.len() == 2
            && pod_refusals.iter().all(
                |r| r["attributes"]["pod.uid"] == POD_UID && r["process"]["pod_uid"] == POD_UID
            ),
        "both pod refusals report pod UID {POD_UID}: {reports:?}"
    );
    drop(another_pod);
    drop(container);
    drop(pod);
    drop(qos);
    drop(pods);
    drop(slice);
}

/// The host's UTS and IPC namespaces have numbers the kernel fixes (PROC_UTS_INIT_INO,
/// PROC_IPC_INIT_INO): `examples/workload.krsi`'s test for a container, with no number taken
/// from the machine.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn new_uts_and_ipc_namespaces_are_told_from_the_hosts_by_the_kernels_numbers() {
    let (_bin, exe) = dir_with_true();
    let dir = TempDir::new();
    let source = format!(
        "macro in_container = ns.uts != 4026531838 and ns.ipc != 4026531839\n\
         deny exec where path == \"{}\" and in_container errno EACCES\n",
        exe.display()
    );
    let policy = Policy::load_source(&dir, &source, None);
    assert_call_ok(exec_in(&exe, None, 0), "on the host");
    // A private host name only (systemd's ProtectHostname=): not a container.
    assert_call_ok(
        exec_in(&exe, None, libc::CLONE_NEWUTS),
        "new UTS namespace only",
    );
    assert_call_ok(
        exec_in(&exe, None, libc::CLONE_NEWIPC),
        "new IPC namespace only",
    );
    assert_call_denied(
        exec_in(&exe, None, libc::CLONE_NEWUTS | libc::CLONE_NEWIPC),
        EACCES,
        "new UTS and IPC namespaces",
    );
    assert_call_denied(
        exec_in(
            &exe,
            None,
            CONTAINER_NAMESPACES | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC,
        ),
        EACCES,
        "a container's namespaces",
    );
    policy.stop();
    assert_call_ok(
        exec_in(&exe, None, libc::CLONE_NEWUTS | libc::CLONE_NEWIPC),
        "after unload",
    );
}

/// The cgroup walks on this kernel: how many instructions the verifier processes for a rule
/// on `cgroup` (a glob: the walk, then one automaton scan), on `container.id` (the walk with
/// the id's matching on each of its up to 41 steps) and on both with `ns.pid`. The numbers
/// the walk's bound (40 components, as file paths') was chosen from; book/src/architecture.md
/// records them.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn cgroup_walks_verify_within_a_bounded_effort() {
    require_guest();
    for (what, source) in [
        ("cgroup glob", "deny exec where cgroup ~ \"/kubepods.slice/**\"\n"),
        ("container.id", "deny exec where container.id != \"\"\n"),
        (
            "cgroup, container.id and ns.pid",
            "deny exec where container.id != \"\" and cgroup ~ \"/kubepods.slice/**\" and ns.pid != 4026531836\n",
        ),
        ("pod.uid", "deny exec where pod.uid != \"\"\n"),
        (
            "container, pod.uid and cgroup",
            "deny exec where container and pod.uid ~ \"7c1d*\" and cgroup ~ \"/kubepods.slice/**\"\n",
        ),
    ] {
        for (symbol, processed) in verifier_stats(source, compiler::ir::Scope::Global) {
            eprintln!("{what}: {symbol}: the verifier processed {processed:?} instructions");
            if let Some(n) = processed {
                // Measured: at most 292,391 (`container`, `pod.uid` and a `cgroup` glob: the
                // two walks behind the pid namespace's test), on 6.1 and 6.12 alike.
                assert!(n < 400_000, "{what}: {symbol}: {n} instructions processed");
            }
        }
    }
}
