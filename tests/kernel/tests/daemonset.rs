//! The Kubernetes DaemonSet's agent, as a node runs it: the command line and the mounts are
//! read from deploy/kubernetes/daemonset.yaml (embedded at build time, never copied here), the
//! policies from the ConfigMap in deploy/kubernetes/policies.yaml. Every host mount of the
//! DaemonSet is mounted at its own host path, so the guest's own /sys/fs/bpf, /sys/fs/cgroup,
//! /sys/kernel/btf and /sys/kernel/security are exactly what the container sees; the ConfigMap
//! becomes files in the directory it is mounted at.
//!
//! What a cluster operator relies on: the agent becomes ready (`/healthz`), a policy rolled
//! out in audit mode reports and refuses nothing, the same policy without `mode audit`
//! refuses (uid 1000, EPERM) and lets root through, and stopping the agent (a pod restart)
//! leaves the policies enforced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kernel_tests::{
    assert_exec_denied, assert_ran, dir_with_true, krsic, krsic_run, lsm_program_ids,
    require_guest, run_as, wait_lsm_programs_gone,
};
use libc::EPERM;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DAEMONSET: &str = include_str!("../../../deploy/kubernetes/daemonset.yaml");
const POLICIES: &str = include_str!("../../../deploy/kubernetes/policies.yaml");

/// The lines of `yaml` that are not blank or comments, with their indentation.
fn lines(yaml: &str) -> Vec<(usize, &str)> {
    yaml.lines()
        .map(|l| (l.len() - l.trim_start().len(), l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The block under the first `key:` line: the lines indented deeper than it.
fn block<'y>(yaml: &'y str, key: &str) -> Vec<(usize, &'y str)> {
    let all = lines(yaml);
    let at = all
        .iter()
        .position(|(_, l)| *l == format!("{key}:"))
        .unwrap_or_else(|| panic!("no `{key}:` in the manifest"));
    let base = all[at].0;
    all[at + 1..]
        .iter()
        .take_while(|(indent, _)| *indent > base)
        .copied()
        .collect()
}

/// The scalars of a block sequence (`- item` lines).
fn scalars(yaml: &str, key: &str) -> Vec<String> {
    block(yaml, key)
        .iter()
        .filter_map(|(_, l)| l.strip_prefix("- "))
        .map(|s| s.trim_matches('"').to_string())
        .collect()
}

/// The mappings of a block sequence, nested keys joined with `.` (`hostPath.path`).
fn mappings(yaml: &str, key: &str) -> Vec<BTreeMap<String, String>> {
    let mut items: Vec<BTreeMap<String, String>> = Vec::new();
    let mut parents: Vec<(usize, String)> = Vec::new();
    for (indent, line) in block(yaml, key) {
        let (indent, line) = match line.strip_prefix("- ") {
            Some(rest) => {
                items.push(BTreeMap::new());
                parents.clear();
                (indent + 2, rest)
            }
            None => (indent, line),
        };
        parents.retain(|(at, _)| *at < indent);
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let mut name: Vec<&str> = parents.iter().map(|(_, p)| p.as_str()).collect();
        name.push(k);
        let (name, value) = (name.join("."), v.trim().trim_matches('"').to_string());
        if value.is_empty() {
            parents.push((indent, k.to_string()));
        } else if let Some(item) = items.last_mut() {
            item.insert(name, value);
        }
    }
    items
}

/// The ConfigMap's files: each key under `data:` with its block scalar (`|`).
fn config_map_files(yaml: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    let data = block(yaml, "data");
    let key_indent = data.first().map(|(i, _)| *i).unwrap_or(0);
    for (indent, line) in data {
        if indent == key_indent {
            let name = line.trim_end_matches('|').trim().trim_end_matches(':');
            files.push((name.to_string(), String::new()));
        } else if let Some((_, text)) = files.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    files
}

/// `GET path` on `addr`: the status line.
fn http_get(addr: &str, path: &str) -> String {
    http_response(addr, path)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// `GET path` on `addr`: the whole response, or "" when nothing listens.
fn http_response(addr: &str, path: &str) -> String {
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

/// The agent's command line from the manifest, and the address its `/healthz` answers on.
fn agent_command() -> (Vec<String>, String) {
    let command = scalars(DAEMONSET, "command");
    let metrics = command
        .iter()
        .position(|a| a == "--metrics")
        .and_then(|at| command.get(at + 1))
        .expect("--metrics ADDR")
        .replace("0.0.0.0", "127.0.0.1");
    (command, metrics)
}

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn the_daemonsets_command_and_mounts_enforce_the_configmaps_policies() {
    require_guest();
    let baseline = lsm_program_ids().unwrap();

    let command = scalars(DAEMONSET, "command");
    assert_eq!(
        command.get(1).map(String::as_str),
        Some("serve"),
        "{command:?}"
    );
    let volumes = mappings(DAEMONSET, "volumes");
    let mounts = mappings(DAEMONSET, "volumeMounts");
    let mount_of = |volume: &str| {
        mounts
            .iter()
            .find(|m| m.get("name").map(String::as_str) == Some(volume))
            .and_then(|m| m.get("mountPath").cloned())
            .unwrap_or_else(|| panic!("volume {volume} is not mounted"))
    };
    let mut host_paths = Vec::new();
    let mut policy_dir = None;
    for volume in &volumes {
        let name = &volume["name"];
        if let Some(host) = volume.get("hostPath.path") {
            // Mounted where the node has it: the guest's own mount is what the pod sees.
            assert_eq!(&mount_of(name), host, "volume {name}");
            assert!(Path::new(host).is_dir(), "the guest has no {host}");
            host_paths.push(host.clone());
        } else if volume.contains_key("configMap.name") {
            policy_dir = Some(mount_of(name));
        }
    }
    for needed in [
        "/sys/fs/bpf",
        "/sys/fs/cgroup",
        "/sys/kernel/btf",
        "/sys/kernel/security",
    ] {
        assert!(
            host_paths.iter().any(|p| p == needed),
            "{needed} is not mounted: {host_paths:?}"
        );
    }
    let policy_dir = policy_dir.expect("the ConfigMap is mounted");
    assert_eq!(
        command.get(2),
        Some(&policy_dir),
        "serve reads the ConfigMap's directory"
    );
    let (_, metrics) = agent_command();

    // The ConfigMap as the kubelet lays it out.
    let dir = Path::new(&policy_dir);
    assert!(!dir.exists(), "{policy_dir} exists before the test");
    std::fs::create_dir_all(dir).unwrap();
    let files = config_map_files(POLICIES);
    let audited = "no-exec-from-world-writable.krsi";
    assert!(files
        .iter()
        .any(|(name, text)| name == audited && text.starts_with("mode audit\n")));
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
    }

    // The exact command line; only the binary is where the guest has it.
    let mut agent = Command::new(krsic())
        .args(&command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (reports_tx, reports) = mpsc::channel::<String>();
    let stdout = agent.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = reports_tx.send(line);
        }
    });
    let (log_tx, log) = mpsc::channel::<String>();
    let stderr = agent.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = log_tx.send(line);
        }
    });

    // Ready once the first apply is done.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let ready = std::net::TcpStream::connect(&metrics).is_ok()
            && http_get(&metrics, "/healthz").contains(" 200");
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent never became ready; its log:\n{}",
            log.try_iter().collect::<Vec<_>>().join("\n")
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Audit mode: uid 1000 runs a program from /tmp, and the agent reports it would deny.
    let (bin, truth) = dir_with_true();
    assert!(truth.starts_with("/tmp/"), "{}", truth.display());
    assert_ran(
        run_as(&truth, &[], Some(1000), None),
        "audit mode refuses nothing",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let reported = loop {
        match reports.recv_timeout(Duration::from_secs(1)) {
            Ok(line) if line.contains("would-deny") && line.contains(&*truth.to_string_lossy()) => {
                break true
            }
            _ if Instant::now() > deadline => break false,
            _ => {}
        }
    };
    assert!(reported, "no would-deny report for {}", truth.display());

    // The rollout's second step: the same policy without `mode audit`.
    let enforced: String = files
        .iter()
        .find(|(name, _)| name == audited)
        .map(|(_, text)| text.replacen("mode audit\n", "", 1))
        .unwrap();
    std::fs::write(dir.join(audited), enforced).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while run_as(&truth, &[], Some(1000), None).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the enforced version never took over"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_exec_denied(
        run_as(&truth, &[], Some(1000), None),
        EPERM,
        "uid 1000 from /tmp",
    );
    assert_ran(run_as(&truth, &[], None, None), "root from /tmp");

    // A pod restart: the agent stops, the policies stay enforced.
    // SAFETY: the agent is our child and has not been waited for.
    unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
    let status = agent.wait().unwrap();
    assert!(status.success(), "the agent exits 0 on SIGTERM: {status}");
    assert_exec_denied(
        run_as(&truth, &[], Some(1000), None),
        EPERM,
        "enforced with the agent stopped",
    );

    // Nothing left behind: the empty directory applied unloads what it managed.
    for (name, _) in &files {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    let (status, stdout, stderr) = krsic_run(&["apply", &policy_dir]);
    assert!(status.success(), "{stdout}\n{stderr}");
    std::fs::remove_dir(dir).unwrap();
    drop(bin);
    let left = wait_lsm_programs_gone(&baseline);
    assert!(left.is_empty(), "programs left loaded: {left:?}");
}

/// What the pod's readiness says on this kernel: ready where BPF LSM is active; where it is not
/// (the guest booted without `bpf` in `lsm=`, as `scripts/test-all` runs it), the agent stays
/// up, `/healthz` answers 503 with the reason, and the pod stays unready instead of
/// restarting in a loop.
#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn the_agents_readiness_says_whether_the_node_can_enforce() {
    require_guest();
    let lsms = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap();
    let bpf_active = lsms.trim().split(',').any(|l| l == "bpf");
    let (command, metrics) = agent_command();
    let dir = Path::new(&command[2]);
    assert!(!dir.exists(), "{} exists before the test", dir.display());
    // An empty ConfigMap: readiness is about the node, not the policies.
    std::fs::create_dir_all(dir).unwrap();
    let mut agent = Command::new(krsic())
        .args(&command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The agent says `krsic: serving DIR` once it has looked at the node (and applied the
    // directory where it can): `/healthz` has its verdict from then on.
    let (log_tx, log_lines) = mpsc::channel::<String>();
    let stderr = agent.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = log_tx.send(line);
        }
    });
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    while !log.iter().any(|l: &String| l.starts_with("krsic: serving")) {
        if let Ok(line) = log_lines.recv_timeout(Duration::from_millis(500)) {
            log.push(line);
        }
        assert!(
            agent.try_wait().unwrap().is_none(),
            "the agent exited ({lsms}):\n{}",
            log.join("\n")
        );
        assert!(
            Instant::now() < deadline,
            "the agent never served:\n{}",
            log.join("\n")
        );
    }
    let response = http_response(&metrics, "/healthz");
    let status = response.lines().next().unwrap_or("");
    if bpf_active {
        assert!(status.contains(" 200"), "{lsms}: {response}");
    } else {
        assert!(status.contains(" 503"), "{lsms}: {response}");
        assert!(
            response.contains("not ready: ") && response.contains("lsm:"),
            "{response}"
        );
        // Unready, not crashing: a pod that restarts in a loop hides the reason.
        std::thread::sleep(Duration::from_secs(3));
        assert!(agent.try_wait().unwrap().is_none(), "the agent stays up");
        assert!(http_get(&metrics, "/healthz").contains(" 503"));
    }
    // SAFETY: the agent is our child and has not been waited for.
    unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
    let exit = agent.wait().unwrap();
    log.extend(log_lines.try_iter());
    let log = log.join("\n");
    assert!(
        exit.success(),
        "the agent exits 0 on SIGTERM: {exit}\n{log}"
    );
    if !bpf_active {
        assert!(log.contains("cannot enforce here"), "{log}");
    }
    std::fs::remove_dir(dir).unwrap();
}

/// The manifest reader above, on the manifests themselves (no kernel needed).
#[test]
fn the_manifest_reader_finds_the_command_mounts_and_policies() {
    let command = scalars(DAEMONSET, "command");
    assert_eq!(
        command[..3],
        ["/usr/bin/krsic", "serve", "/etc/krsi/policies.d"]
    );
    let volumes = mappings(DAEMONSET, "volumes");
    let bpffs = volumes
        .iter()
        .find(|v| v.get("hostPath.path").map(String::as_str) == Some("/sys/fs/bpf"))
        .expect("a bpffs volume");
    assert_eq!(
        bpffs.get("hostPath.type").map(String::as_str),
        Some("Directory")
    );
    let mounts = mappings(DAEMONSET, "volumeMounts");
    assert!(mounts.iter().any(|m| m.get("mountPath").map(String::as_str)
        == Some("/etc/krsi/policies.d")
        && m.get("readOnly").map(String::as_str) == Some("true")));
    let files = config_map_files(POLICIES);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["no-exec-from-world-writable.krsi", "no-kernel-modules.krsi"]
    );
    assert!(
        files[1]
            .1
            .starts_with("deny kmod_load where kind == memory\n"),
        "{files:?}"
    );
}
