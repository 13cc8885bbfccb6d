//! `krsic doctor`: can this machine enforce policies, and if not, what exactly to change.
//!
//! The machine is read once into [`Machine`] (files under /proc, /sys, /boot and /etc, the
//! kernel's BTF, and a real load of one LSM program when everything else says it should
//! work); [`diagnose`] turns those facts into checks without touching anything, so each
//! verdict is tested on the facts of machines krsi was measured on.

use crate::error::Error;
use lang::catalog;
use lang::kernel::KernelTypes;
use serde_json::json;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

/// What one check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Enforcing cannot work until this is fixed.
    Problem,
    /// Works, with a limit worth knowing (some events unavailable, facts unreadable).
    Note,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do, when the status is not `Ok`.
    pub fix: Option<String>,
}

/// The facts `doctor` reads.
#[derive(Clone, Debug)]
pub struct Machine {
    /// `uname -r`.
    pub release: String,
    /// The kernel's build configuration (`/boot/config-RELEASE` or `/proc/config.gz`), as
    /// `CONFIG_X=value` lines, and where it was read.
    pub config: Option<(String, String)>,
    /// `/proc/cmdline`.
    pub cmdline: String,
    /// `/sys/kernel/security/lsm`; `None` when securityfs is not mounted.
    pub active_lsms: Option<String>,
    /// Whether the kernel's BTF was read, or why not.
    pub btf: Result<(), String>,
    /// Per event, its hooks the kernel's BTF lacks (empty: all there). Empty without BTF.
    pub missing_hooks: Vec<(&'static str, Vec<&'static str>)>,
    /// Whether a bpffs is mounted at /sys/fs/bpf.
    pub bpffs: bool,
    pub root: bool,
    /// `/etc/default/grub`, when there is one.
    pub grub_defaults: Option<String>,
    /// Loading a one-rule LSM program: `None` when not tried (not root, or known to fail).
    pub probe: Option<Result<(), String>>,
}

/// The lowest kernel with BPF LSM.
const FIRST_BPF_LSM_KERNEL: (u32, u32) = (5, 7);

pub fn diagnose(machine: &Machine) -> Vec<Check> {
    let mut checks = Vec::new();
    let ok = |name, detail: String| Check {
        name,
        status: Status::Ok,
        detail,
        fix: None,
    };

    // Kernel version.
    let version = kernel_version(&machine.release);
    checks.push(match version {
        Some(v) if v >= FIRST_BPF_LSM_KERNEL => ok("kernel", format!("Linux {}", machine.release)),
        Some(_) => Check {
            name: "kernel",
            status: Status::Problem,
            detail: format!(
                "Linux {} is older than 5.7, the first with BPF LSM",
                machine.release
            ),
            fix: Some("boot a kernel 5.7 or newer (an LTS: 6.1, 6.6, 6.12)".into()),
        },
        None => Check {
            name: "kernel",
            status: Status::Note,
            detail: format!("cannot read the version of `{}`", machine.release),
            fix: None,
        },
    });

    // Build configuration.
    let config = machine.config.as_ref();
    let option = |name: &str| config.and_then(|(text, _)| config_value(text, name));
    match config {
        Some((_, source)) => {
            for (name, what) in [
                ("CONFIG_BPF_SYSCALL", "the bpf() system call"),
                ("CONFIG_BPF_LSM", "BPF LSM"),
                ("CONFIG_DEBUG_INFO_BTF", "the kernel's own types (BTF)"),
            ] {
                checks.push(match option(name).as_deref() {
                    Some("y") => ok("config", format!("{name}=y ({source})")),
                    _ => Check {
                        name: "config",
                        status: Status::Problem,
                        detail: format!("{name} is not set in {source}: this kernel has no {what}"),
                        fix: Some(format!(
                            "use a kernel built with {name}=y (Debian, Ubuntu, Fedora and Arch kernels are)"
                        )),
                    },
                });
            }
        }
        None => checks.push(Check {
            name: "config",
            status: Status::Note,
            detail: format!(
                "no /boot/config-{} or /proc/config.gz: the build options are unknown",
                machine.release
            ),
            fix: None,
        }),
    }

    // Is `bpf` among the active LSMs?
    let cmdline_lsms = machine
        .cmdline
        .split_whitespace()
        .find_map(|arg| arg.strip_prefix("lsm="))
        .map(String::from);
    let built_in = option("CONFIG_LSM").map(|v| v.trim_matches('"').to_string());
    match &machine.active_lsms {
        Some(active) if has_bpf(active) => checks.push(ok(
            "lsm",
            format!("`bpf` is an active LSM ({})", active.trim()),
        )),
        Some(active) => {
            let order = cmdline_lsms
                .clone()
                .unwrap_or_else(|| active.trim().to_string());
            let origin = match (&cmdline_lsms, &built_in) {
                (Some(_), _) => "the `lsm=` boot parameter leaves it out".to_string(),
                (None, Some(built_in)) => format!(
                    "the kernel's built-in order CONFIG_LSM=\"{built_in}\" leaves it out and no \
                     `lsm=` boot parameter adds it"
                ),
                (None, None) => "no `lsm=` boot parameter adds it".to_string(),
            };
            checks.push(Check {
                name: "lsm",
                status: Status::Problem,
                detail: format!(
                    "`bpf` is not an active LSM (active: {}): {origin}",
                    active.trim()
                ),
                fix: Some(grub_fix(&order, machine.grub_defaults.as_deref())),
            });
        }
        None => checks.push(Check {
            name: "lsm",
            status: Status::Note,
            detail: "securityfs is not mounted, so the active LSMs cannot be read".into(),
            fix: Some("mount -t securityfs securityfs /sys/kernel/security".into()),
        }),
    }

    // BTF and the hooks each event needs.
    match &machine.btf {
        Ok(()) => {
            checks.push(ok("btf", crate::target::KERNEL_BTF.to_string()));
            let missing: Vec<String> = machine
                .missing_hooks
                .iter()
                .filter(|(_, hooks)| !hooks.is_empty())
                .map(|(event, hooks)| format!("{event} ({})", hooks.join(", ")))
                .collect();
            let total = catalog::all_events().count();
            checks.push(if missing.is_empty() {
                ok("events", format!("all {total} events have their LSM hooks"))
            } else {
                Check {
                    name: "events",
                    status: Status::Note,
                    detail: format!(
                        "{} of {total} events lack hooks on this kernel: {}",
                        missing.len(),
                        missing.join("; ")
                    ),
                    fix: Some("policies using them get E0301; a newer kernel has them".into()),
                }
            });
        }
        Err(error) => checks.push(Check {
            name: "btf",
            status: Status::Problem,
            detail: error.clone(),
            fix: Some("use a kernel built with CONFIG_DEBUG_INFO_BTF=y".into()),
        }),
    }

    checks.push(if machine.bpffs {
        ok(
            "bpffs",
            "mounted at /sys/fs/bpf (for `krsic load --pin`)".into(),
        )
    } else {
        Check {
            name: "bpffs",
            status: Status::Note,
            detail: "no bpffs at /sys/fs/bpf: `krsic load --pin` cannot keep policies".into(),
            fix: Some("mount -t bpf bpf /sys/fs/bpf".into()),
        }
    });
    checks.push(if machine.root {
        ok("root", "running as root".into())
    } else {
        Check {
            name: "root",
            status: Status::Problem,
            detail: "not root: loading needs CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN".into(),
            fix: Some("run krsic load (and krsic doctor, to try a load) with sudo".into()),
        }
    });
    checks.push(match &machine.probe {
        Some(Ok(())) => ok(
            "load",
            "the kernel loaded and verified a krsi program".into(),
        ),
        Some(Err(error)) => Check {
            name: "load",
            status: Status::Problem,
            detail: format!("the kernel refused a one-rule krsi program: {error}"),
            fix: Some(
                "this kernel does not run BPF LSM programs (hardening or lockdown that blocks BPF \
                 trampolines); enforce on another kernel, or test policies in a VM"
                    .into(),
            ),
        },
        None => Check {
            name: "load",
            status: Status::Note,
            detail: "no program was loaded to confirm (needs root, BTF and BPF LSM active)".into(),
            fix: None,
        },
    });
    checks
}

/// Ready when nothing is a problem.
pub fn ready(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != Status::Problem)
}

fn has_bpf(lsms: &str) -> bool {
    lsms.trim().split(',').any(|l| l == "bpf")
}

/// The GRUB change that adds `bpf` to `order` (the LSMs in force now, kept in their order).
fn grub_fix(order: &str, grub_defaults: Option<&str>) -> String {
    let mut lsms: Vec<&str> = order.split(',').filter(|l| !l.is_empty()).collect();
    if !lsms.contains(&"bpf") {
        lsms.push("bpf");
    }
    let lsm = format!("lsm={}", lsms.join(","));
    // Keep what the line already holds, replacing an `lsm=` there.
    let existing = grub_defaults
        .and_then(|text| {
            text.lines().find_map(|line| {
                let value = line.trim().strip_prefix("GRUB_CMDLINE_LINUX_DEFAULT=")?;
                Some(value.trim_matches(|c| c == '"' || c == '\'').to_string())
            })
        })
        .unwrap_or_default();
    let mut args: Vec<String> = existing
        .split_whitespace()
        .filter(|a| !a.starts_with("lsm="))
        .map(String::from)
        .collect();
    args.push(lsm);
    format!(
        "in /etc/default/grub write\n    GRUB_CMDLINE_LINUX_DEFAULT=\"{}\"\nthen run `update-grub` \
         (Fedora, RHEL: `grub2-mkconfig -o /boot/grub2/grub.cfg`) and reboot",
        args.join(" ")
    )
}

/// `(major, minor)` of a release such as `6.1.0-57-amd64`.
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn config_value(config: &str, name: &str) -> Option<String> {
    config.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix('=')?;
        Some(value.to_string())
    })
}

impl Machine {
    /// Reads this machine. Nothing is changed; the probe loads one program, verifies it and
    /// unloads it without attaching it.
    pub fn read() -> Machine {
        let release = uname_release();
        let config = std::fs::read_to_string(format!("/boot/config-{release}"))
            .ok()
            .map(|text| (text, format!("/boot/config-{release}")))
            .or_else(|| {
                let file = std::fs::File::open("/proc/config.gz").ok()?;
                let mut text = String::new();
                flate2::read::GzDecoder::new(file)
                    .read_to_string(&mut text)
                    .ok()?;
                Some((text, "/proc/config.gz".to_string()))
            });
        let kernel = crate::target::kernel_types(None);
        let missing_hooks = match &kernel {
            Ok(kernel) => catalog::all_events()
                .map(|event| {
                    // The hooks the event needs: its own and its required variants'. A hook
                    // newer kernels added is attached where present and needed nowhere.
                    let needed = std::iter::once(event.hook).chain(
                        event
                            .variants
                            .iter()
                            .filter(|v| v.availability == catalog::Availability::Required)
                            .map(|v| v.hook),
                    );
                    let missing = needed
                        .filter(|hook| kernel.hook_params(hook).is_none())
                        .collect();
                    (event.name, missing)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let active_lsms = std::fs::read_to_string("/sys/kernel/security/lsm").ok();
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        // The load is the decisive test; it is skipped only where it is known to fail. An
        // unreadable LSM list (securityfs not mounted) does not stop it.
        let bpf_inactive = active_lsms.as_deref().is_some_and(|a| !has_bpf(a));
        let probe = match &kernel {
            Ok(kernel) if root && !bpf_inactive => Some(probe(kernel)),
            _ => None,
        };
        Machine {
            release,
            config,
            cmdline: std::fs::read_to_string("/proc/cmdline").unwrap_or_default(),
            active_lsms,
            btf: kernel.map(drop).map_err(|e| e.to_string()),
            missing_hooks,
            bpffs: runtime::PinRoot::open(Path::new("/sys/fs/bpf")).is_ok(),
            root,
            grub_defaults: std::fs::read_to_string("/etc/default/grub").ok(),
            probe,
        }
    }
}

/// Compiles a one-rule policy for this kernel and asks the kernel to load it (verify only).
fn probe(kernel: &compiler::btf::Btf) -> Result<(), String> {
    let source = "deny exec where uid == 4294967295\n";
    let (checked, diagnostics) = lang::front_end(source, kernel);
    let checked = checked.ok_or_else(|| {
        let codes: Vec<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
        format!(
            "the probe policy does not check on this kernel ({})",
            codes.join(", ")
        )
    })?;
    let object = compiler::compile(
        &checked,
        compiler::ir::Target::new(compiler::ir::Scope::Global),
    )
    .map_err(|e| e.to_string())?;
    let targets = crate::rejection::program_targets(&object.spec);
    runtime::verify(&object.elf, &targets, runtime::VerifierLog::Stats)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn uname_release() -> String {
    // SAFETY: uname fills the zeroed struct we pass; its fields are NUL-terminated.
    unsafe {
        let mut name: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut name) != 0 {
            return String::new();
        }
        std::ffi::CStr::from_ptr(name.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// `krsic doctor [--json]`: exit 0 when ready, 1 when something must change.
pub fn doctor(json: bool) -> Result<ExitCode, Error> {
    let machine = Machine::read();
    let checks = diagnose(&machine);
    let ready = ready(&checks);
    if json {
        let checks: Vec<_> = checks
            .iter()
            .map(|c| {
                json!({
                    "check": c.name,
                    "status": match c.status {
                        Status::Ok => "ok",
                        Status::Problem => "problem",
                        Status::Note => "note",
                    },
                    "detail": c.detail,
                    "fix": c.fix,
                })
            })
            .collect();
        let report = json!({"ready": ready, "kernel": machine.release, "checks": checks});
        println!("{report}");
    } else {
        for check in &checks {
            let mark = match check.status {
                Status::Ok => "ok     ",
                Status::Problem => "PROBLEM",
                Status::Note => "note   ",
            };
            println!("{mark} {:<7} {}", check.name, check.detail);
            if let Some(fix) = &check.fix {
                for line in fix.lines() {
                    println!("               {line}");
                }
            }
        }
        println!();
        if ready {
            println!("ready: this machine can enforce krsi policies");
        } else {
            println!("not ready: fix each PROBLEM above, in order");
        }
    }
    Ok(if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// A Debian machine whose kernel was measured: 6.1 with BPF LSM built in but left out of
    /// the default order, booted without `lsm=`.
    fn debian_without_bpf() -> Machine {
        Machine {
            release: "6.1.0-57-amd64".into(),
            config: Some((
                "CONFIG_BPF_SYSCALL=y\nCONFIG_BPF_LSM=y\nCONFIG_DEBUG_INFO_BTF=y\n\
                 CONFIG_LSM=\"landlock,lockdown,yama,loadpin,safesetid,integrity,apparmor,selinux,smack,tomoyo\"\n"
                    .into(),
                "/boot/config-6.1.0-57-amd64".into(),
            )),
            cmdline: "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet".into(),
            active_lsms: Some("lockdown,capability,landlock,yama,apparmor\n".into()),
            btf: Ok(()),
            missing_hooks: vec![("exec", vec![]), ("bpf_token", vec!["bpf_token_create"])],
            bpffs: true,
            root: true,
            grub_defaults: Some("GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n".into()),
            probe: None,
        }
    }

    fn check<'c>(checks: &'c [Check], name: &str, status: Status) -> &'c Check {
        checks
            .iter()
            .find(|c| c.name == name && c.status == status)
            .unwrap_or_else(|| panic!("no {name} check with {status:?}: {checks:#?}"))
    }

    #[test]
    fn bpf_missing_from_the_active_lsms_names_the_grub_line() {
        let checks = diagnose(&debian_without_bpf());
        assert!(!ready(&checks));
        let lsm = check(&checks, "lsm", Status::Problem);
        assert!(lsm.detail.contains("CONFIG_LSM="), "{}", lsm.detail);
        let fix = lsm.fix.as_deref().unwrap();
        assert!(
            fix.contains(
                "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet lsm=lockdown,capability,landlock,yama,apparmor,bpf\""
            ),
            "{fix}"
        );
        assert!(
            fix.contains("update-grub") && fix.contains("reboot"),
            "{fix}"
        );
        let events = check(&checks, "events", Status::Note);
        assert!(
            events.detail.contains("bpf_token (bpf_token_create)"),
            "{}",
            events.detail
        );
    }

    #[test]
    fn an_lsm_parameter_without_bpf_is_replaced_keeping_its_order() {
        let mut machine = debian_without_bpf();
        machine.cmdline = "ro lsm=landlock,yama,apparmor quiet".into();
        machine.active_lsms = Some("capability,landlock,yama,apparmor".into());
        machine.grub_defaults =
            Some("GRUB_CMDLINE_LINUX_DEFAULT='quiet lsm=landlock,yama,apparmor splash'\n".into());
        let checks = diagnose(&machine);
        let lsm = check(&checks, "lsm", Status::Problem);
        assert!(
            lsm.detail.contains("`lsm=` boot parameter"),
            "{}",
            lsm.detail
        );
        assert!(
            lsm.fix.as_deref().unwrap().contains(
                "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash lsm=landlock,yama,apparmor,bpf\""
            ),
            "{:?}",
            lsm.fix
        );
    }

    #[test]
    fn a_machine_with_bpf_active_and_a_successful_load_is_ready() {
        let mut machine = debian_without_bpf();
        machine.active_lsms = Some("lockdown,capability,landlock,yama,bpf".into());
        machine.probe = Some(Ok(()));
        let checks = diagnose(&machine);
        assert!(ready(&checks), "{checks:#?}");
        check(&checks, "load", Status::Ok);
    }

    /// This project's own build machines: everything looks right, and the kernel still
    /// refuses every LSM program.
    #[test]
    fn a_kernel_that_refuses_the_load_is_not_ready() {
        let mut machine = debian_without_bpf();
        machine.active_lsms = Some("lockdown,capability,landlock,bpf".into());
        machine.probe = Some(Err("Operation not permitted (os error 1)".into()));
        let checks = diagnose(&machine);
        assert!(!ready(&checks));
        let load = check(&checks, "load", Status::Problem);
        assert!(load.fix.as_deref().unwrap().contains("VM"));
    }

    #[test]
    fn old_kernels_missing_options_and_no_root_are_problems() {
        let mut machine = debian_without_bpf();
        machine.release = "5.4.0-150-generic".into();
        machine.config = Some((
            "CONFIG_BPF_SYSCALL=y\n# CONFIG_BPF_LSM is not set\n".into(),
            "/boot/config-5.4".into(),
        ));
        machine.root = false;
        machine.btf = Err("no BTF".into());
        let checks = diagnose(&machine);
        check(&checks, "kernel", Status::Problem);
        let config: Vec<&Check> = checks
            .iter()
            .filter(|c| c.name == "config" && c.status == Status::Problem)
            .collect();
        assert_eq!(config.len(), 2, "{config:#?}");
        check(&checks, "root", Status::Problem);
        check(&checks, "btf", Status::Problem);
    }

    #[test]
    fn versions_are_read_from_releases() {
        assert_eq!(kernel_version("6.12.95+bpo-amd64"), Some((6, 12)));
        assert_eq!(kernel_version("5.7.0"), Some((5, 7)));
        assert_eq!(kernel_version("weird"), None);
    }
}
