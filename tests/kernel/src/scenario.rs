//! Kernel tests as tables: a [`Scenario`] is one policy and the rows that say who does what
//! where, and what must come of it. [`Scenario::run`] does what every such test needs once:
//! checks that it runs in a guest, makes the cgroup (and a child cgroup when a row asks for
//! one), runs the rows of [`Phase::Before`], loads the policy for the cgroup, runs the rows of
//! [`Phase::Loaded`], unloads it (checking that krsic exits cleanly and leaves no program
//! behind), then runs the rows of [`Phase::Unloaded`].
//!
//! ```ignore
//! let raw = Op::call("raw inet socket", || open_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
//! Scenario::for_cgroup("deny socket where family == inet and type == raw and uid != 0\n")
//!     .row(Before, RealUser(USER), InCgroup, &raw, Allowed)
//!     .row(Loaded, RealUser(USER), InCgroup, &raw, Denied(EPERM))
//!     .row(Loaded, Root, InCgroup, &raw, Allowed)
//!     .row(Loaded, RealUser(USER), TestCgroup, &raw, Allowed)
//!     .row(Unloaded, RealUser(USER), InCgroup, &raw, Allowed)
//!     .run();
//! ```

use crate::{
    assert_call_denied, assert_call_fails_not_with, assert_call_ok, call_as, open_as,
    require_guest, run_as, Cgroup, Identity, Policy, TempDir,
};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// When a row runs: before the policy is loaded, while it is loaded, or once it is unloaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Before,
    Loaded,
    Unloaded,
}

/// Which cgroup the process making the call is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The scenario's cgroup, the one the policy is loaded for.
    InCgroup,
    /// A child of the scenario's cgroup: the policy covers descendants too.
    ChildCgroup,
    /// The cgroup the test itself runs in: outside the policy's cgroup (or, for a policy
    /// loaded without a cgroup, simply where the test runs).
    TestCgroup,
}

/// What must come of a row's call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Refused with this errno (the rule's).
    Denied(i32),
    /// Done: the call succeeded (an exec ran and exited 0).
    Allowed,
    /// Refused by the kernel itself with an errno other than `not` (the rule's), for an
    /// operation that cannot succeed in a guest. The kernel's errno for one [`Op`] must be the
    /// same in every such row of the scenario: the rule did not decide any of them.
    KernelRefuses { not: i32 },
}

type Attempt<'a> = Box<dyn Fn(Identity, Option<&Cgroup>) -> io::Result<libc::c_long> + 'a>;

/// One operation a row makes a process do, with a name for the failure messages. Each row
/// makes it afresh in its own process.
pub struct Op<'a> {
    name: String,
    attempt: Attempt<'a>,
}

impl<'a> Op<'a> {
    /// A system call made in a forked child ([`call_as`]). `make` runs in the test process
    /// before the fork, so it may prepare what the call needs; the closure it returns runs in
    /// the child, which must only make async-signal-safe calls and not allocate, and returns
    /// the call's raw result (negative: failed with `errno`).
    pub fn call<F>(name: impl Into<String>, make: impl Fn() -> F + 'a) -> Op<'a>
    where
        F: FnOnce() -> libc::c_long,
    {
        Op {
            name: name.into(),
            attempt: Box::new(move |who, cgroup| call_as(who, cgroup, make())),
        }
    }

    /// Executes `path` with no arguments ([`run_as`]); allowed means it ran and exited 0.
    pub fn exec(name: impl Into<String>, path: impl AsRef<Path>) -> Op<'a> {
        let path: PathBuf = path.as_ref().to_owned();
        Op::program(name, move |who, cgroup| run_as(&path, &[], who, cgroup))
    }

    /// Runs a program some other way (e.g. from a working directory `run` enters first);
    /// allowed means it ran and exited 0, an exec the LSM refused is `Err` with its errno.
    pub fn program(
        name: impl Into<String>,
        run: impl Fn(Identity, Option<&Cgroup>) -> io::Result<std::process::ExitStatus> + 'a,
    ) -> Op<'a> {
        Op::custom(name, move |who, cgroup| {
            exit_status_as_call(run(who, cgroup))
        })
    }

    /// Opens `path` with `flags` ([`open_as`]).
    pub fn open(name: impl Into<String>, path: impl AsRef<Path>, flags: libc::c_int) -> Op<'a> {
        let path: PathBuf = path.as_ref().to_owned();
        Op::custom(name, move |who, cgroup| {
            open_as(&path, flags, who, cgroup).map(|()| 0)
        })
    }

    /// Any other way of making the attempt as `who` in `cgroup`; `Ok` when it succeeded,
    /// `Err(e)` with the errno otherwise.
    pub fn custom(
        name: impl Into<String>,
        attempt: impl Fn(Identity, Option<&Cgroup>) -> io::Result<libc::c_long> + 'a,
    ) -> Op<'a> {
        Op {
            name: name.into(),
            attempt: Box::new(attempt),
        }
    }
}

/// A program that ran counts as a successful call when it exited 0, and as a failure (without
/// an errno) otherwise.
fn exit_status_as_call(result: io::Result<std::process::ExitStatus>) -> io::Result<libc::c_long> {
    match result {
        Ok(status) if status.success() => Ok(0),
        Ok(status) => Err(io::Error::other(format!(
            "the program ran and exited with {status}"
        ))),
        Err(e) => Err(e),
    }
}

/// What a step written as a closure ([`Scenario::step`]) can see.
pub struct Steps<'s> {
    cgroup: Option<&'s Cgroup>,
    policy: Option<&'s Policy>,
}

impl Steps<'_> {
    /// The scenario's cgroup.
    pub fn cgroup(&self) -> &Cgroup {
        self.cgroup
            .expect("the scenario's policy is loaded for a cgroup (Scenario::for_cgroup)")
    }

    /// The report lines the loaded policy printed so far.
    pub fn reports(&self) -> Vec<String> {
        self.policy
            .expect("reports exist while the policy is loaded (Phase::Loaded)")
            .events()
    }
}

enum Step<'a> {
    Row {
        who: Identity,
        place: Place,
        op: &'a Op<'a>,
        expect: Expect,
    },
    Closure(Box<dyn FnOnce(&Steps<'_>) + 'a>),
}

/// One policy, loaded for a fresh cgroup or for the whole system, and what must happen
/// before, while and after it is loaded. See the module documentation.
pub struct Scenario<'a> {
    source: String,
    for_cgroup: bool,
    options: Vec<String>,
    reset: Option<Box<dyn Fn() + 'a>>,
    steps: Vec<(Phase, Step<'a>)>,
}

impl<'a> Scenario<'a> {
    /// `source` loaded with `--cgroup` for a fresh cgroup.
    pub fn for_cgroup(source: impl Into<String>) -> Scenario<'a> {
        Scenario::new(source.into(), true)
    }

    /// `source` loaded without a cgroup: it applies to every process.
    pub fn global(source: impl Into<String>) -> Scenario<'a> {
        Scenario::new(source.into(), false)
    }

    fn new(source: String, for_cgroup: bool) -> Scenario<'a> {
        Scenario {
            source,
            for_cgroup,
            options: Vec::new(),
            reset: None,
            steps: Vec::new(),
        }
    }

    /// More `krsic load` options (`--report-rate 5`, `--mode audit`).
    pub fn options(mut self, options: &[&str]) -> Scenario<'a> {
        self.options.extend(options.iter().map(|o| (*o).to_owned()));
        self
    }

    /// Puts the files back before every row (a denied or allowed call may change them).
    pub fn reset(mut self, reset: impl Fn() + 'a) -> Scenario<'a> {
        self.reset = Some(Box::new(reset));
        self
    }

    /// A row: in `phase`, a process that is `who`, in `place`, does `op`, and `expect` must
    /// come of it. Rows of one phase run in the order they were added.
    pub fn row(
        mut self,
        phase: Phase,
        who: impl Into<Identity>,
        place: Place,
        op: &'a Op<'a>,
        expect: Expect,
    ) -> Scenario<'a> {
        let who = who.into();
        self.steps.push((
            phase,
            Step::Row {
                who,
                place,
                op,
                expect,
            },
        ));
        self
    }

    /// The rows nearly every rule has: while loaded, `op` by `who` in the cgroup is denied
    /// with `errno` and allowed outside it; once unloaded it is allowed in the cgroup again.
    pub fn denies(self, who: impl Into<Identity>, op: &'a Op<'a>, errno: i32) -> Scenario<'a> {
        let who = who.into();
        self.row(
            Phase::Loaded,
            who,
            Place::InCgroup,
            op,
            Expect::Denied(errno),
        )
        .row(Phase::Loaded, who, Place::TestCgroup, op, Expect::Allowed)
        .row(Phase::Unloaded, who, Place::InCgroup, op, Expect::Allowed)
    }

    /// A step no row can say (a check on a process's state, a wait), run in `phase` in its
    /// place among the rows.
    pub fn step(mut self, phase: Phase, step: impl FnOnce(&Steps<'_>) + 'a) -> Scenario<'a> {
        self.steps.push((phase, Step::Closure(Box::new(step))));
        self
    }

    /// While loaded: waits until the policy printed `count` report lines (up to 20 s), then
    /// half a second more, so that a report too many would show up.
    pub fn wait_for_reports(self, count: usize) -> Scenario<'a> {
        self.step(Phase::Loaded, move |steps| {
            let deadline = Instant::now() + Duration::from_secs(20);
            while steps.reports().len() < count && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_millis(500));
        })
    }

    /// Runs the scenario; returns the report lines the policy printed while it was loaded.
    pub fn run(self) -> Vec<String> {
        require_guest();
        let Scenario {
            source,
            for_cgroup,
            options,
            reset,
            mut steps,
        } = self;
        let cgroup = for_cgroup.then(Cgroup::new);
        let wants_child = steps.iter().any(|(_, step)| {
            matches!(
                step,
                Step::Row {
                    place: Place::ChildCgroup,
                    ..
                }
            )
        });
        // Declared after its parent, so dropped (removed) before it.
        let child = match (&cgroup, wants_child) {
            (Some(cg), true) => Some(cg.child()),
            (None, true) => panic!("a child cgroup needs a scenario for a cgroup"),
            _ => None,
        };
        steps.sort_by_key(|(phase, _)| *phase);
        let mut rows = Rows {
            cgroup: cgroup.as_ref(),
            child: child.as_ref(),
            reset: reset.as_deref(),
            kernel_errors: HashMap::new(),
        };
        let mut steps = steps.into_iter().peekable();
        while let Some((_, step)) = steps.next_if(|(phase, _)| *phase == Phase::Before) {
            rows.take(Phase::Before, step, None);
        }

        let policy_dir = TempDir::new();
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        let policy = Policy::load_source_with(&policy_dir, &source, cgroup.as_ref(), &options);
        while let Some((_, step)) = steps.next_if(|(phase, _)| *phase == Phase::Loaded) {
            rows.take(Phase::Loaded, step, Some(&policy));
        }
        let reports = policy.events();
        policy.stop();

        for (_, step) in steps {
            rows.take(Phase::Unloaded, step, None);
        }
        if let Some(reset) = rows.reset {
            reset();
        }
        reports
    }
}

/// What running the rows needs, and the kernel's own errors seen so far, by operation.
struct Rows<'s> {
    cgroup: Option<&'s Cgroup>,
    child: Option<&'s Cgroup>,
    reset: Option<&'s (dyn Fn() + 's)>,
    kernel_errors: HashMap<String, i32>,
}

impl Rows<'_> {
    fn take(&mut self, phase: Phase, step: Step<'_>, policy: Option<&Policy>) {
        match step {
            Step::Row {
                who,
                place,
                op,
                expect,
            } => self.check(phase, who, place, op, expect),
            Step::Closure(step) => step(&Steps {
                cgroup: self.cgroup,
                policy,
            }),
        }
    }

    fn check(&mut self, phase: Phase, who: Identity, place: Place, op: &Op<'_>, expect: Expect) {
        if let Some(reset) = self.reset {
            reset();
        }
        let cgroup = match place {
            Place::InCgroup => Some(
                self.cgroup
                    .expect("a row in the cgroup needs a scenario for a cgroup"),
            ),
            Place::ChildCgroup => self.child,
            Place::TestCgroup => None,
        };
        let what = self.describe(phase, who, place, op);
        let result = (op.attempt)(who, cgroup);
        match expect {
            Expect::Denied(errno) => assert_call_denied(result, errno, &what),
            Expect::Allowed => {
                assert_call_ok(result, &what);
            }
            Expect::KernelRefuses { not } => {
                let errno = assert_call_fails_not_with(result, not, &what);
                let first = *self.kernel_errors.entry(op.name.clone()).or_insert(errno);
                assert_eq!(
                    errno, first,
                    "{what}: the kernel's own error was {first} in an earlier row"
                );
            }
        }
    }

    /// `raw inet socket, real uid 1000 in the cgroup, after unload`.
    fn describe(&self, phase: Phase, who: Identity, place: Place, op: &Op<'_>) -> String {
        let who = match who {
            Identity::Root => "uid 0".to_owned(),
            Identity::User(uid) => format!("uid {uid}"),
            Identity::RealUser(uid) => format!("real uid {uid}"),
        };
        let place = match place {
            Place::InCgroup => " in the cgroup",
            Place::ChildCgroup => " in a child of the cgroup",
            Place::TestCgroup if self.cgroup.is_some() => " outside the cgroup",
            Place::TestCgroup => "",
        };
        let phase = match phase {
            Phase::Before => ", before load",
            Phase::Loaded => "",
            Phase::Unloaded => ", after unload",
        };
        format!("{}, {who}{place}{phase}", op.name)
    }
}
