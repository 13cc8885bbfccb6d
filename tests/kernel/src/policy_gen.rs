//! A deterministic generator of random well-typed policies, for sweeping the kernel verifier:
//! every policy the checker accepts must load. Seeded, so a failing seed reproduces anywhere.
//! Rules are drawn over the events the caller passes (the verifier sweep passes every event of
//! the catalog the kernel has) and test attributes drawn from each event's catalog entry by
//! their type, so an event or attribute added to the catalog is swept without a change here.

use lang::catalog::{Attribute, Event, ValueType};

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

const INT_VALUES: &[&str] = &[
    "0",
    "1",
    "22",
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
const ADDRESSES: &[&str] = &[
    "127.0.0.1",
    "169.254.169.254",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "0.0.0.0/0",
    "::1",
    "fd00::/8",
    "2001:db8::/33",
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

/// Tests on `container.id`: in a container or not, a given one, a short id's prefix.
const CONTAINER_ID_ATOMS: &[&str] = &[
    "!= \"\"",
    "== \"\"",
    "== \"4f3c2b1a09e8d7c6b5a4938271605f4e3d2c1b0a99887766554433221100ffee\"",
    "~ \"4f3c2b1a09e8*\"",
    "in [\"\", \"00aa11bb22cc33dd44ee55ff6677889900aa11bb22cc33dd44ee55ff66778899\"]",
];

/// Tests on `pod.uid` as rules write them.
const POD_UID_ATOMS: &[&str] = &[
    "!= \"\"",
    "== \"7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f\"",
    "~ \"7c1d2e3f-*\"",
    "in [\"\", \"00000000-1111-2222-3333-444444444444\"]",
];

/// Globs on `cgroup` as rules write them.
const CGROUP_GLOBS: &[&str] = &[
    "/kubepods.slice/**",
    "/system.slice/docker-*.scope",
    "/**/{docker,cri-containerd,crio,libpod}-*.scope",
    "/machine.slice/libpod-*.scope/**",
    "/",
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
    // A glob on `ancestor.exe` lists exact paths and directories only (it is never scanned).
    if attribute == lang::lineage::ANCESTOR_EXE {
        let path = literal_path(rng);
        let dir = format!("{}/**", rng.pick(DIRS));
        return match rng.below(4) {
            0 => format!("{attribute} == \"{path}\""),
            1 => format!("not {attribute} in [\"{path}\", \"/usr/sbin/sshd\"]"),
            2 => format!("{attribute} ~ \"{dir}\""),
            _ => format!("{attribute} ~ [\"{path}\", \"{dir}\"]"),
        };
    }
    let atom = any_string_atom(rng, attribute, is_path);
    // `!=` and `!~` on an ancestor are refused: "no ancestor ..." is `not` of `==` or `~`.
    if attribute == lang::lineage::ANCESTOR_COMM {
        for (op, positive) in [(" != ", " == "), (" !~ ", " ~ ")] {
            if atom.contains(op) {
                let positive = atom.replacen(op, positive, 1);
                let positive = positive.replacen(" == [", " in [", 1);
                return format!("not ({positive})");
            }
        }
    }
    atom
}

fn any_string_atom(rng: &mut Rng, attribute: &str, is_path: bool) -> String {
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

fn enum_atom(rng: &mut Rng, attribute: &str, names: &[(&str, u64)]) -> String {
    let name = |rng: &mut Rng| names[rng.below(names.len())].0;
    match rng.below(3) {
        0 => format!("{attribute} == {}", name(rng)),
        1 => format!("{attribute} != {}", name(rng)),
        _ => format!("{attribute} in [{}, {}]", name(rng), name(rng)),
    }
}

fn addr_atom(rng: &mut Rng, attribute: &str) -> String {
    match rng.below(3) {
        0 => format!("{attribute} == {}", rng.pick(&ADDRESSES[..2])),
        1 => format!("{attribute} in {}", rng.pick(ADDRESSES)),
        _ => format!(
            "{attribute} in [{}, {}]",
            rng.pick(ADDRESSES),
            rng.pick(ADDRESSES)
        ),
    }
}

fn capability_atom(rng: &mut Rng, attribute: &str) -> String {
    let names = lang::catalog::CAPABILITIES.values;
    let name = |rng: &mut Rng| names[rng.below(names.len())].0;
    match rng.below(3) {
        0 => format!("{} in {attribute}", name(rng)),
        1 => format!("[{}, {}] in {attribute}", name(rng), name(rng)),
        _ => format!("not ({} in {attribute})", name(rng)),
    }
}

/// A test of one attribute of `event`, of a form its type allows.
fn atom(rng: &mut Rng, event: &Event) -> String {
    // Not the command line: its rules, written by `command_line_rule`, may only kill or
    // audit. On an event with such a hook (`exec`), not what changes there either (E0215:
    // the command-line rules and the allow rules may not test it), so that any rule of the
    // policy may sit beside a command-line rule.
    let late = event.late_variant().is_some();
    let attributes: Vec<&Attribute> = event
        .attributes()
        .filter(|a| !a.source.is_late())
        .filter(|a| !(late && lang::catalog::MOVED_AT_COMMIT.contains(&a.name)))
        .collect();
    let attribute = attributes[rng.below(attributes.len())];
    let name = attribute.name;
    match attribute.ty {
        ValueType::Int => {
            if rng.chance(20) {
                format!(
                    "{name} in [{}, {}]",
                    rng.pick(INT_VALUES),
                    rng.pick(INT_VALUES)
                )
            } else {
                format!("{name} {} {}", rng.pick(INT_OPS), rng.pick(INT_VALUES))
            }
        }
        _ if name == lang::catalog::CONTAINER_ID => {
            let atom = rng.pick(CONTAINER_ID_ATOMS);
            format!("{name} {atom}")
        }
        _ if name == lang::catalog::POD_UID => {
            let atom = rng.pick(POD_UID_ATOMS);
            format!("{name} {atom}")
        }
        _ if name == lang::catalog::CGROUP_PATH && rng.chance(50) => {
            format!("{name} ~ {}", quoted(rng.pick(CGROUP_GLOBS)))
        }
        ValueType::Str => string_atom(rng, name, false),
        ValueType::Path => string_atom(rng, name, true),
        ValueType::Bool if rng.chance(50) => name.to_string(),
        ValueType::Bool => format!("not {name}"),
        ValueType::Enum(names) => enum_atom(rng, name, names.values),
        ValueType::Addr => addr_atom(rng, name),
        ValueType::CapabilitySet => capability_atom(rng, name),
    }
}

fn condition(rng: &mut Rng, event: &Event, depth: usize) -> String {
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

/// A `kill` or `audit` rule on `event`'s late value (`cmdline`, `argv[i]`, `argv`), sometimes
/// with another test.
fn command_line_rule(rng: &mut Rng, event: &Event) -> String {
    let Some(line) = event.attributes().find(|a| a.source.is_late()) else {
        return String::new();
    };
    let action = if rng.chance(50) { "kill" } else { "audit" };
    // The line, one argument, or any argument (`!=` and `!~` on any argument are refused).
    let test = match rng.below(3) {
        0 => string_atom(rng, line.name, false),
        1 => {
            let (index, is_path) = (rng.pick(&["0", "1", "2", "31"]), rng.chance(50));
            string_atom(rng, &format!("argv[{index}]"), is_path)
        }
        _ => {
            // Not the path globs: a list of them on any argument needs an automaton past the
            // 48 KiB table (E0207; seed 12 once did), which the checker refuses.
            let atom = string_atom(rng, "argv", false);
            match atom.replacen(" != ", " == ", 1).replacen(" !~ ", " ~ ", 1) {
                positive if positive != atom => {
                    format!("not ({})", positive.replacen(" == [", " in [", 1))
                }
                _ => atom,
            }
        }
    };
    if rng.chance(50) {
        format!(
            "{action} {} where {test} and {}\n",
            event.name,
            condition(rng, event, 1)
        )
    } else {
        format!("{action} {} where {test}\n", event.name)
    }
}

/// One policy: a few rules over `events` (at least one), mostly `deny`, some `allow` and
/// `kill`.
pub fn policy(seed: u64, events: &[&Event]) -> String {
    let mut rng = Rng::new(seed);
    let event = |rng: &mut Rng| events[rng.below(events.len())];
    let mut source = format!("# generated policy, seed {seed}\n");
    for _ in 0..1 + rng.below(3) {
        let event = event(&mut rng);
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
        source.push_str(&format!(
            "{action} {} where {condition}{errno}\n",
            event.name
        ));
    }
    // A rule on the command line (`cmdline` of `exec`), which compiles into the event's
    // second program: kill or audit only (E0214).
    if let Some(event) = events.iter().find(|e| e.late_variant().is_some()) {
        if rng.chance(30) {
            source.push_str(&command_line_rule(&mut rng, event));
        }
    }
    // Allow rules alone compile to nothing: make sure something is enforced.
    let last = event(&mut rng);
    source.push_str(&format!(
        "deny {} where {}\n",
        last.name,
        atom(&mut rng, last)
    ));
    source
}
