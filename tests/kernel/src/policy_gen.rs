//! A deterministic generator of random well-typed policies, for sweeping the kernel verifier:
//! every policy the checker accepts must load. Seeded, so a failing seed reproduces anywhere.

/// xorshift64*: small, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const INT_ATTRIBUTES: &[&str] = &["uid", "gid", "euid", "egid", "pid", "tgid", "parent.pid"];
const INT_VALUES: &[&str] = &[
    "0",
    "1",
    "1000",
    "65534",
    "0x7fffffff",
    "0x80000000",
    "4294967295",
    "18446744073709551615",
];
const INT_OPS: &[&str] = &["==", "!=", "<", "<=", ">", ">="];
const DIRS: &[&str] = &[
    "/tmp", "/usr/bin", "/etc", "/home", "/var/log", "/dev/shm", "/opt/app",
];
const SEGMENTS: &[&str] = &[
    "*", "**", "?", "[a-z]", "[!0-9]", "{a,bc}", "{x,y/z}", "x", "bin", ".ssh", "id_*", "*.so",
    "lib*", "a?c",
];
const NAMES: &[&str] = &[
    "bash",
    "sh",
    "sshd",
    "nginx",
    "python3",
    "a",
    "systemd-journal",
];

/// A glob built from directory and segment pieces, so events can be aimed at it.
fn glob(rng: &mut Rng) -> String {
    let mut pattern = rng.pick(DIRS).to_string();
    for _ in 0..1 + rng.below(3) {
        pattern.push('/');
        pattern.push_str(rng.pick(SEGMENTS));
    }
    pattern
}

fn literal_path(rng: &mut Rng) -> String {
    format!("{}/{}", rng.pick(DIRS), rng.pick(NAMES))
}

fn quoted(text: &str) -> String {
    format!("\"{text}\"")
}

fn string_atom(rng: &mut Rng, attribute: &str, is_path: bool) -> String {
    let value = |rng: &mut Rng| {
        if is_path {
            literal_path(rng)
        } else {
            rng.pick(NAMES).to_string()
        }
    };
    match rng.below(5) {
        0 => format!("{attribute} == {}", quoted(&value(rng))),
        1 => format!("{attribute} != {}", quoted(&value(rng))),
        2 => {
            let items: Vec<String> = (0..1 + rng.below(3)).map(|_| quoted(&value(rng))).collect();
            format!("{attribute} in [{}]", items.join(", "))
        }
        3 if is_path => format!("{attribute} ~ {}", quoted(&glob(rng))),
        3 => format!("{attribute} ~ \"{}*\"", &rng.pick(NAMES)[..1]),
        _ if is_path => {
            let items: Vec<String> = (0..1 + rng.below(3)).map(|_| quoted(&glob(rng))).collect();
            format!("{attribute} !~ [{}]", items.join(", "))
        }
        _ => format!("{attribute} !~ \"*{}\"", &rng.pick(NAMES)[..1]),
    }
}

fn atom(rng: &mut Rng, event: &str) -> String {
    match rng.below(10) {
        0..=2 => format!(
            "{} {} {}",
            rng.pick(INT_ATTRIBUTES),
            rng.pick(INT_OPS),
            rng.pick(INT_VALUES)
        ),
        3..=5 => string_atom(rng, "path", true),
        6 => {
            let attribute = rng.pick(&["comm", "parent.comm"]);
            string_atom(rng, attribute, false)
        }
        7 if event == "exec" => string_atom(rng, "filename", true),
        7 | 8 if event == "open" => rng.pick(&["read", "write", "not write"]).to_string(),
        _ => format!(
            "uid in [{}, {}]",
            rng.pick(INT_VALUES),
            rng.pick(INT_VALUES)
        ),
    }
}

fn condition(rng: &mut Rng, event: &str, depth: usize) -> String {
    if depth == 0 || rng.chance(40) {
        return atom(rng, event);
    }
    match rng.below(3) {
        0 => format!(
            "{} and {}",
            condition(rng, event, depth - 1),
            condition(rng, event, depth - 1)
        ),
        1 => format!(
            "({} or {})",
            condition(rng, event, depth - 1),
            condition(rng, event, depth - 1)
        ),
        _ => format!("not ({})", condition(rng, event, depth - 1)),
    }
}

/// One policy: a few rules over `exec` and `open`, mostly `deny`, some `allow` and `kill`.
pub fn policy(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut source = format!("# generated policy, seed {seed}\n");
    for _ in 0..1 + rng.below(5) {
        let event = rng.pick(&["exec", "open"]);
        let action = match rng.below(100) {
            0..=64 => "deny",
            65..=74 => "kill",
            _ => "allow",
        };
        let condition = condition(&mut rng, event, 3);
        let errno = if action != "allow" && rng.chance(30) {
            " errno EACCES"
        } else {
            ""
        };
        source.push_str(&format!("{action} {event} where {condition}{errno}\n"));
    }
    if rng.chance(50) {
        source.push_str(&operation_rule(&mut rng));
    }
    // Allow rules alone compile to nothing: make sure something is enforced.
    source.push_str(&format!("deny exec where {}\n", atom(&mut rng, "exec")));
    source
}

// ------------------------------------------------------------------ operations (issue 13)

/// The events and attributes that say what the operation is: open flags, socket protocol
/// and type, shared mappings, ptrace access kinds, traceme, prctl, extended attributes,
/// pivot_root, move_mount.
const OPERATION_EVENTS: &[&str] = &[
    "open",
    "connect",
    "bind",
    "listen",
    "mmap",
    "mprotect",
    "ptrace",
    "traceme",
    "prctl",
    "setxattr",
    "removexattr",
    "pivot_root",
    "move_mount",
];

fn operation_atom(rng: &mut Rng, event: &str) -> String {
    match event {
        "open" => rng
            .pick(&[
                "create",
                "exclusive",
                "truncate",
                "append",
                "directory",
                "nofollow",
                "not truncate",
            ])
            .to_string(),
        "connect" | "bind" | "listen" => match rng.below(3) {
            0 => format!(
                "protocol == {}",
                rng.pick(&["tcp", "udp", "icmp", "sctp", "raw"])
            ),
            1 => format!(
                "type in [{}]",
                rng.pick(&["stream", "dgram", "raw, seqpacket"])
            ),
            _ => format!(
                "protocol != tcp and port == {}",
                rng.pick(&["22", "4444", "65535"])
            ),
        },
        "mmap" | "mprotect" => rng
            .pick(&["shared", "shared and write", "not shared and exec"])
            .to_string(),
        "ptrace" => rng
            .pick(&["attach", "inspect", "attach and not inspect"])
            .to_string(),
        "traceme" => match rng.below(2) {
            0 => string_atom(rng, "tracer.comm", false),
            _ => format!("tracer.pid {} {}", rng.pick(INT_OPS), rng.pick(INT_VALUES)),
        },
        "prctl" => format!(
            "option in [{}]",
            rng.pick(&[
                "PR_SET_NAME",
                "PR_SET_DUMPABLE, PR_SET_PTRACER",
                "PR_CAPBSET_DROP"
            ])
        ),
        "setxattr" | "removexattr" => format!(
            "name ~ \"{}\"",
            rng.pick(&[
                "security.*",
                "trusted.overlay.*",
                "user.*",
                "system.posix_acl_*"
            ])
        ),
        "pivot_root" => {
            let attribute = rng.pick(&["path", "put_old"]);
            string_atom(rng, attribute, true)
        }
        _ => {
            let attribute = rng.pick(&["path", "new.path"]);
            string_atom(rng, attribute, true)
        }
    }
}

/// One rule on an operation event, mixing its own attributes with the process's.
fn operation_rule(rng: &mut Rng) -> String {
    let event = rng.pick(OPERATION_EVENTS);
    let mut condition = operation_atom(rng, event);
    if rng.chance(50) {
        let other = if rng.chance(50) {
            operation_atom(rng, event)
        } else {
            format!(
                "{} {} {}",
                rng.pick(INT_ATTRIBUTES),
                rng.pick(INT_OPS),
                rng.pick(INT_VALUES)
            )
        };
        condition = format!("({condition}) {} ({other})", rng.pick(&["and", "or"]));
    }
    let action = if rng.chance(80) { "deny" } else { "audit" };
    format!("{action} {event} where {condition}\n")
}
