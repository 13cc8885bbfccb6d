//! Values: every value the rules read, computed once into its stack slot or buffer.
//!
//! Cheap values (helpers that copy a word, loads through BTF pointers) are computed in the
//! prologue. A costly one (a resolved or walked path, a string or an endpoint read from the
//! kernel) is computed after them, and only when some rule that reads it can still match: each
//! such rule's cheap conjuncts (its gate) are tested first, and when no gate holds the value
//! is left unknown without being computed. No rule reads it then: its tests come after its
//! gate (see `ProgramGen::cond`). So `deny open where path ~ "/etc/**" and uid != 0` spares a
//! root process the `bpf_d_path`.

use super::screen::Screen;
use super::walk::WalkOutput;
use super::{
    offset, size_of, Buffer, ProgramGen, ADDR_ABSENT, ADDR_UNKNOWN, ADDR_V4, ADDR_V6, ARGV_MAX,
    KEY_SLOT, PORT_ABSENT, PORT_UNKNOWN, SCRATCH_MAP, STRING_CAP,
};
use crate::bpf::helper::{
    D_PATH, GET_CURRENT_COMM, GET_CURRENT_PID_TGID, GET_CURRENT_UID_GID, MAP_LOOKUP_ELEM,
    PROBE_READ_KERNEL, PROBE_READ_KERNEL_STR, PROBE_READ_USER_STR,
};
use crate::bpf::{AluOp, ByteOrder, JmpCond, Label, Reg, Size};
use crate::ir::{Cond, ValueId, ValueKind};
use lang::checked::{Access, AccessBase, Endpoint, PathWalk};
use std::collections::HashSet;

/// The gates in front of a costly value.
struct Gates {
    /// The distinct gates of the rules that read it.
    conds: Vec<Cond>,
    /// Some rule reads it with no gate: it is always computed.
    always: bool,
    /// Every rule that reports reads it: with no gate holding, the event is allowed.
    decides: bool,
}

/// `AF_INET` and `AF_INET6` (include/linux/socket.h), the families with ports and addresses.
const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;

impl ProgramGen<'_> {
    /// The prologue: compute every value once, and look the scratch buffers up (a failed
    /// lookup goes to `fail_closed`). Cheap values without a buffer come first, then the gates
    /// that decide the event alone (see [`Self::lazy_value`]), so that an event they allow
    /// costs no more than those values and tests, then whether the program is in force
    /// ([`Self::in_force`]), then the scratch buffers and what needs them.
    pub(super) fn values(&mut self, fail_closed: Label) {
        let kinds: Vec<&ValueKind> = self.program.values.iter().map(|v| &v.kind).collect();
        let slot_of = |want: &ValueKind| kinds.iter().position(|k| *k == want);
        // One helper call serves both halves.
        for (pair, helper) in [
            ((ValueKind::Uid, ValueKind::Gid), GET_CURRENT_UID_GID),
            ((ValueKind::Pid, ValueKind::Tgid), GET_CURRENT_PID_TGID),
        ] {
            let (lo, hi) = (slot_of(&pair.0), slot_of(&pair.1));
            if lo.is_none() && hi.is_none() {
                continue;
            }
            let positions: Vec<usize> = lo.into_iter().chain(hi).collect();
            self.asm.set_origin(self.first_reader(&positions));
            self.asm.call_helper(helper);
            if let Some(i) = lo {
                // A 32-bit move zero-extends: the low half.
                self.asm.alu32_reg(AluOp::Mov, Reg::R1, Reg::R0).store_reg(
                    Size::DW,
                    Reg::R10,
                    self.layout.slots[i],
                    Reg::R1,
                );
            }
            if let Some(i) = hi {
                self.asm.alu64_imm(AluOp::Rsh, Reg::R0, 32).store_reg(
                    Size::DW,
                    Reg::R10,
                    self.layout.slots[i],
                    Reg::R0,
                );
            }
        }
        let buffered = |i: usize| self.layout.buffers[i].is_some();
        let (mut cheap, mut cheap_buffered) = (Vec::new(), Vec::new());
        for (i, kind) in kinds.iter().enumerate() {
            match (kind.costly(), buffered(i)) {
                (false, false) => cheap.push(i),
                (false, true) => cheap_buffered.push(i),
                (true, _) => {}
            }
        }
        // Names a glob scans come first when there are any. Their scans are long and branch
        // free: the verifier walks them once per state it arrives in, and the cheap values
        // branch (a NULL `real_parent` on the way reads 0), so that after eight levels'
        // `ancestor.N.pid` it arrives in hundreds of states that do not prune (measured:
        // 1,000,000 processed instructions on 6.1 for `ancestor.comm ~ "krsi-g*"`).
        // So do the paths walked for every rule that reads them (no gate to skip the walk),
        // for the same reason: a walk is a loop the verifier follows once per state it
        // arrives in, and eight levels' `ancestor.N.exe` walks behind the levels' pid reads
        // took 6.1 past 1,000,000 processed instructions.
        let walks_first: Vec<usize> = (0..kinds.len())
            .filter(|&i| matches!(kinds[i], ValueKind::WalkedPath(_)) && self.gates(i).always)
            .collect();
        let names_first = cheap_buffered
            .iter()
            .any(|&i| self.layout.scans.get(i).is_some_and(Option::is_some));
        if names_first || !walks_first.is_empty() {
            self.in_force();
            self.scratch_lookup(fail_closed);
            for i in std::mem::take(&mut cheap_buffered) {
                let unused = self.asm.new_label();
                self.value(i, unused);
            }
            for &i in &walks_first {
                self.asm.set_origin(self.first_reader(&[i]));
                let unknown = self.asm.new_label();
                self.value(i, unknown);
            }
        }
        for i in cheap {
            let unused = self.asm.new_label();
            self.value(i, unused);
        }
        self.early_allows(false);
        for (i, kind) in kinds.iter().enumerate() {
            if !kind.costly() {
                continue;
            }
            let gates = self.gates(i);
            // Only gates on the values computed so far: none in a buffer.
            let ready = gates.conds.iter().all(|gate| {
                gate.values()
                    .iter()
                    .all(|v| self.layout.buffers[v.0 as usize].is_none())
            });
            if ready && gates.decides && !gates.always && !gates.conds.is_empty() {
                self.asm.set_origin(self.first_reader(&[i]));
                let pass = self.asm.new_label();
                for (at, gate) in gates.conds.iter().enumerate() {
                    // The last gate fails to the allow exit itself, and passes by falling
                    // through: `uid != 0` is one branch to the exit.
                    if at + 1 == gates.conds.len() {
                        self.cond_else(gate, self.allow);
                    } else {
                        let next = self.asm.new_label();
                        self.cond(gate, pass, next);
                        self.asm.bind(next);
                    }
                }
                self.asm.bind(pass);
                self.know(&gates.conds);
            }
        }
        self.asm.set_origin(None);
        // The first costly value's screen, made once: for the lookup below and its value.
        let mut first_screen = None;
        if !names_first && walks_first.is_empty() {
            self.in_force();
            // A screen that compares names where their dentries keep them needs no buffer,
            // and a path it rules out allows the event: when it comes first, an event it
            // rules out is spared the lookup (a helper call and six instructions), which is
            // made where the path is resolved.
            first_screen = (0..kinds.len())
                .find(|&i| kinds[i].costly())
                .and_then(|i| Some((i, self.screen_of(i)?)));
            let screened_first = first_screen
                .as_ref()
                .is_some_and(|(_, screen)| !self.levels_copy(screen.levels()));
            if cheap_buffered.is_empty() && screened_first {
                self.scratch_pending = Some(fail_closed);
            } else {
                self.scratch_lookup(fail_closed);
            }
        }
        for i in cheap_buffered {
            let unused = self.asm.new_label();
            self.value(i, unused);
        }
        self.early_allows(true);
        for (i, kind) in kinds.iter().enumerate() {
            if kind.costly() && !walks_first.contains(&i) {
                let screen = match first_screen.take_if(|(first, _)| *first == i) {
                    Some((_, screen)) => Some(screen),
                    None => self.screen_of(i),
                };
                self.lazy_value(i, screen);
            }
        }
        self.asm.set_origin(None);
    }

    /// Allows at once when an allow rule's cheap tests let it match: an allowed event needs
    /// nothing more, so `allow open where uid == 5` (or `uid == 5 or path ~ ...`) spares uid 5
    /// every costly value, and the version gate and the scratch lookup too, as a gate that
    /// fails does (see `values`). Tested are a rule's whole condition when it reads only the
    /// values computed so far, else the items of its `or` that do; twice: first on the values
    /// with no buffer, then (`buffered`) on the cheap strings too (`comm`), which need the
    /// scratch buffers. Not when the program has audit rules: they report whatever the
    /// decision, and come first. A rule tested whole does not match past that point, so the
    /// allow runs leave it out ([`ProgramGen::decided_early`]).
    fn early_allows(&mut self, buffered: bool) {
        let program = self.program;
        if !program.audit.is_empty() {
            return;
        }
        let ready = |gen: &Self, cond: &Cond| gen.computed_first(cond, buffered);
        // Tested by the first round already.
        let tested = |gen: &Self, cond: &Cond| buffered && gen.computed_first(cond, false);
        for rule in &program.allow {
            if self.decided_early.contains(&rule.index) {
                continue;
            }
            let test = if ready(self, &rule.cond) {
                self.decided_early.insert(rule.index);
                rule.cond.clone()
            } else if let Cond::Or(items) = &rule.cond {
                let mut cheap: Vec<Cond> = items
                    .iter()
                    .filter(|item| ready(self, item) && !tested(self, item))
                    .cloned()
                    .collect();
                match cheap.len() {
                    0 => continue,
                    1 => cheap.remove(0),
                    _ => Cond::Or(cheap),
                }
            } else {
                continue;
            };
            self.asm.set_origin(Some(rule.index));
            let next = self.asm.new_label();
            self.cond(&test, self.allow, next);
            self.asm.bind(next);
        }
        self.asm.set_origin(None);
    }

    /// Whether `cond` reads only values the prologue computes before any costly one: no
    /// costly value, and (unless `buffered`) none in a buffer.
    fn computed_first(&self, cond: &Cond, buffered: bool) -> bool {
        cond.values().iter().all(|v| {
            let i = v.0 as usize;
            !self.program.values[i].kind.costly() && (buffered || self.layout.buffers[i].is_none())
        })
    }

    /// r7 = the scratch buffers, when the program has any (a failed lookup goes to
    /// `fail_closed`).
    fn scratch_lookup(&mut self, fail_closed: Label) {
        if self.layout.scratch_size > 0 {
            self.asm
                .store_imm(Size::W, Reg::R10, KEY_SLOT, 0)
                .mov64_reg(Reg::R2, Reg::R10)
                .alu64_imm(AluOp::Add, Reg::R2, i32::from(KEY_SLOT))
                .ld_map_fd(Reg::R1, SCRATCH_MAP)
                .call_helper(MAP_LOOKUP_ELEM)
                .jump_imm(JmpCond::Eq, Reg::R0, 0, fail_closed)
                .mov64_reg(Reg::R7, Reg::R0);
        }
    }

    /// The gates of the rules that read costly value `i` (see [`Self::lazy_value`]).
    fn gates(&self, i: usize) -> Gates {
        let id = ValueId(i as u32);
        let program = self.program;
        let mut gates = Gates {
            conds: Vec::new(),
            always: false,
            // When every rule that reports reads the value, none can match without it.
            decides: program.reporters_read(id),
        };
        let mut seen = HashSet::new();
        for rule in program.readers(id) {
            match self.gate(&rule.cond) {
                None => {
                    gates.always = true;
                    break;
                }
                Some(gate) => {
                    if seen.insert(format!("{gate:?}")) {
                        gates.conds.push(gate);
                    }
                }
            }
        }
        gates
    }

    /// Past a test of `gates`, the one gate they are holds (nothing is known of several).
    fn know(&mut self, gates: &[Cond]) {
        let known: Vec<Cond> = match gates {
            [Cond::And(items)] => items.clone(),
            [gate] => vec![gate.clone()],
            _ => Vec::new(),
        };
        for cond in known {
            if !self.known_true.contains(&cond) {
                self.known_true.push(cond);
            }
        }
    }

    /// Computes costly value `i` when some gate of a rule that reads it holds; else jumps to
    /// the value's own unknown exit, so that both ways leave it in one state. When every
    /// reporting rule reads the value, no gate holding allows at once (the prologue tested
    /// that already), and past this point a gate they all share holds. `screen` is the
    /// value's ([`Self::screen_of`]).
    fn lazy_value(&mut self, i: usize, screen: Option<Screen>) {
        let (compute, unknown) = (self.asm.new_label(), self.asm.new_label());
        let gates = self.gates(i);
        self.asm.set_origin(self.first_reader(&[i]));
        let known = |gate: &Cond| match gate {
            Cond::And(items) => items.iter().all(|c| self.known_true.contains(c)),
            other => self.known_true.contains(other),
        };
        let tested = gates.conds.iter().any(known);
        if !gates.always && !gates.conds.is_empty() && !tested {
            let skip = if gates.decides { self.allow } else { unknown };
            for (at, gate) in gates.conds.iter().enumerate() {
                // The last gate fails to `skip` itself, as above.
                let next = if at + 1 == gates.conds.len() {
                    skip
                } else {
                    self.asm.new_label()
                };
                self.cond(gate, compute, next);
                if next != skip {
                    self.asm.bind(next);
                }
            }
            if gates.decides {
                self.know(&gates.conds);
            }
        }
        self.asm.bind(compute);
        if let Some(screen) = screen {
            // A path the screen rules out matches no rule that reads it, and every rule that
            // reports or refuses reads it (`screen_of`): the event is allowed.
            let resolve = self.asm.new_label();
            self.screen(i, &screen, resolve, self.allow);
            self.asm.bind(resolve);
            if let Some(fail_closed) = self.scratch_pending.take() {
                self.scratch_lookup(fail_closed);
            }
        }
        self.value(i, unknown);
    }

    /// The cheap conjuncts of a rule's condition: a necessary condition for the rule to
    /// match that reads no costly value. `None` when it has none.
    fn gate(&self, cond: &Cond) -> Option<Cond> {
        let Cond::And(items) = cond else {
            return None;
        };
        let mut cheap = items
            .iter()
            .filter(|item| !self.reads_costly(item))
            .cloned();
        let first = cheap.next()?;
        Some(match cheap.next() {
            None => first,
            Some(second) => Cond::And([first, second].into_iter().chain(cheap).collect()),
        })
    }

    /// Whether `cond` tests a value that is computed lazily.
    pub(super) fn reads_costly(&self, cond: &Cond) -> bool {
        cond.values().iter().any(|v| {
            self.program
                .values
                .get(v.0 as usize)
                .is_some_and(|value| value.kind.costly())
        })
    }

    /// Computes value `i` into its slot (and buffer). A costly value binds `unknown` at the
    /// code that marks it unknown.
    fn value(&mut self, i: usize, unknown: Label) {
        {
            let program = self.program;
            let kind = &program.values[i].kind;
            // A rejection in this code is told on the first rule that reads the value.
            self.asm.set_origin(self.first_reader(&[i]));
            let slot = self.layout.slots[i];
            let buffer = self.layout.buffers[i];
            match (kind, buffer) {
                (ValueKind::Field(access), _) if access.base == AccessBase::Context => {
                    self.load_field(access, Reg::R1);
                    self.asm.store_reg(Size::DW, Reg::R10, slot, Reg::R1);
                }
                (ValueKind::Field(access), _) if access.index.is_some() => {
                    self.indexed_field(access, slot);
                }
                (ValueKind::Field(access), _) => {
                    // A NULL pointer on the way reads as 0, as a faulting load through a
                    // kernel pointer does.
                    let (null, done) = (self.asm.new_label(), self.asm.new_label());
                    self.pointer_to_checked(access, Reg::R1, null);
                    self.asm
                        .load(
                            size_of(access.size),
                            Reg::R1,
                            Reg::R1,
                            offset(access.offset),
                        )
                        .store_reg(Size::DW, Reg::R10, slot, Reg::R1)
                        .jump(done)
                        .bind(null)
                        .store_imm(Size::DW, Reg::R10, slot, 0)
                        .bind(done);
                }
                (ValueKind::Flag { access, mask }, _) => {
                    self.load_field(access, Reg::R1);
                    self.load_constant(Reg::R2, *mask);
                    self.asm.alu64_reg(AluOp::And, Reg::R1, Reg::R2).store_reg(
                        Size::DW,
                        Reg::R10,
                        slot,
                        Reg::R1,
                    );
                }
                (ValueKind::ResolvedPath(access), Some(b)) => {
                    // bpf_d_path(&<struct path>, buf, size): the length with the NUL, or a
                    // negative error (-ENAMETOOLONG when the buffer is too small).
                    self.pointer_to(access, Reg::R1);
                    self.add_offset(Reg::R1, access.offset);
                    self.asm.mov64_reg(Reg::R2, Reg::R7);
                    self.add_offset(Reg::R2, b.offset);
                    self.asm
                        .mov64_imm(Reg::R3, b.cap as i32)
                        .call_helper(D_PATH);
                    self.store_length(slot, b.cap, false, unknown);
                }
                (ValueKind::KernelString(access), Some(b)) => {
                    self.pointer_to(access, Reg::R3);
                    self.asm
                        .load(Size::DW, Reg::R3, Reg::R3, offset(access.offset));
                    self.asm.mov64_reg(Reg::R1, Reg::R7);
                    self.add_offset(Reg::R1, b.offset);
                    self.asm
                        .mov64_imm(Reg::R2, b.cap as i32)
                        .call_helper(PROBE_READ_KERNEL_STR);
                    // A full buffer may be a truncated string: unknown.
                    self.store_length(slot, b.cap, true, unknown);
                }
                (ValueKind::Comm, Some(b)) => {
                    // 6.1's bpf_get_current_comm copies with strscpy, which does not pad:
                    // the bytes after the NUL would be the last event's (found by a guest
                    // test on 6.1; 6.12 pads). Zero the buffer first, for word compares.
                    for at in (0..b.cap).step_by(8) {
                        self.asm
                            .store_imm(Size::DW, Reg::R7, offset(b.offset + at), 0);
                    }
                    self.asm.mov64_reg(Reg::R1, Reg::R7);
                    self.add_offset(Reg::R1, b.offset);
                    self.asm
                        .mov64_imm(Reg::R2, b.cap as i32)
                        .call_helper(GET_CURRENT_COMM);
                }
                (ValueKind::Chars(access), Some(b)) => {
                    self.pointer_to(access, Reg::R3);
                    self.add_offset(Reg::R3, access.offset);
                    self.asm.mov64_reg(Reg::R1, Reg::R7);
                    self.add_offset(Reg::R1, b.offset);
                    self.asm
                        .mov64_imm(Reg::R2, access.size as i32)
                        .call_helper(PROBE_READ_KERNEL);
                    // Bytes between the array's end and the 8-byte-rounded buffer stay as the
                    // last event left them; zero them so word compares see padding.
                    let mut at = access.size;
                    while at < b.cap {
                        self.asm.mov64_reg(Reg::R1, Reg::R7).store_imm(
                            Size::B,
                            Reg::R1,
                            offset(b.offset + at),
                            0,
                        );
                        at += 1;
                    }
                }
                (ValueKind::WalkedPath(walk), Some(b)) => {
                    if let Some(area) = self.layout.work {
                        self.walk(walk, WalkOutput::Path, area, b, slot, unknown);
                    }
                }
                (ValueKind::WorkloadId(workload, walk), Some(b)) => {
                    if let Some(area) = self.layout.work {
                        let walk = PathWalk::Kernfs(walk.clone());
                        let output = WalkOutput::Workload(*workload);
                        self.walk(&walk, output, area, b, slot, unknown);
                    }
                }
                (ValueKind::CommandLine { strings, count }, Some(b)) => {
                    self.command_line(strings, count, b, slot, unknown);
                }
                (ValueKind::Port(endpoint), _) => self.port(endpoint, slot, unknown),
                // Never computed: -1 reads as an unknown length or an out-of-range port,
                // and no test reads it (lowering made each test on it false).
                (ValueKind::Absent(_), _) => {
                    self.asm.store_imm(Size::DW, Reg::R10, slot, -1);
                }
                (ValueKind::Const(value), _) => {
                    self.load_constant(Reg::R1, *value);
                    self.asm.store_reg(Size::DW, Reg::R10, slot, Reg::R1);
                }
                (ValueKind::Addr(endpoint), Some(b)) => self.address(endpoint, slot, b, unknown),
                // Helper-pair values were stored above. Every string has a buffer
                // (`Layout::new`), so no costly value reaches here: were one to, its unknown
                // exit would be left unbound, and the assembler refuses the program.
                _ => {}
            }
        }
        self.scan(i);
        self.asm.set_origin(None);
    }

    /// The first rule, in source order, that reads any of the values at `positions`.
    fn first_reader(&self, positions: &[usize]) -> Option<u32> {
        let program = self.program;
        program
            .audit
            .iter()
            .chain(&program.allow)
            .chain(&program.deny)
            .filter(|rule| {
                let read = rule.cond.values();
                positions.iter().any(|&i| read.contains(&ValueId(i as u32)))
            })
            .map(|rule| rule.index)
            .min()
    }

    /// `r9` = the start of the object holding `endpoint`; `r1` = its family, 0 when a
    /// pointer on the way is NULL (a socket without `sk`). Clobbers r0–r5.
    fn endpoint_family(&mut self, endpoint: &Endpoint) {
        let (null, done) = (self.asm.new_label(), self.asm.new_label());
        self.pointer_to_checked(&endpoint.object, Reg::R9, null);
        self.add_offset(Reg::R9, endpoint.object.offset);
        // A direct load: the family is a 2-byte member of the typed object.
        self.asm
            .load(Size::H, Reg::R1, Reg::R9, offset(endpoint.family))
            .jump(done)
            .bind(null)
            .mov64_imm(Reg::R1, 0)
            .bind(done);
    }

    /// The port in `slot`, host byte order, or [`PORT_ABSENT`] / [`PORT_UNKNOWN`]. The port
    /// is copied with `bpf_probe_read_kernel`: in a `struct sockaddr` it lies inside
    /// `sa_data`, where typed loads are not allowed.
    fn port(&mut self, endpoint: &Endpoint, slot: i16, fault: Label) {
        let (v4, v6, read, done) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        self.endpoint_family(endpoint);
        self.asm
            .jump_imm(JmpCond::Eq, Reg::R1, AF_INET, v4)
            .jump_imm(JmpCond::Eq, Reg::R1, AF_INET6, v6)
            .store_imm(Size::DW, Reg::R10, slot, PORT_ABSENT)
            .jump(done)
            .bind(v4)
            .mov64_reg(Reg::R3, Reg::R9);
        self.add_offset(Reg::R3, endpoint.v4_port);
        self.asm.jump(read).bind(v6).mov64_reg(Reg::R3, Reg::R9);
        self.add_offset(Reg::R3, endpoint.v6_port);
        self.asm
            .bind(read)
            .store_imm(Size::DW, Reg::R10, slot, 0)
            .mov64_reg(Reg::R1, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R1, i32::from(slot))
            .mov64_imm(Reg::R2, 2)
            .call_helper(PROBE_READ_KERNEL);
        self.asm
            .jump_imm(JmpCond::Ne, Reg::R0, 0, fault)
            .load(Size::H, Reg::R1, Reg::R10, slot);
        if endpoint.port_network_order {
            self.asm.endian(ByteOrder::Be, Reg::R1, Size::H);
        }
        self.asm
            .store_reg(Size::DW, Reg::R10, slot, Reg::R1)
            .jump(done)
            .bind(fault)
            .store_imm(Size::DW, Reg::R10, slot, PORT_UNKNOWN)
            .bind(done);
    }

    /// The address's 16 bytes in buffer `b` (an IPv4 address in the first 4, the rest zero)
    /// and its kind in `slot`: [`ADDR_V4`], [`ADDR_V6`], [`ADDR_ABSENT`], [`ADDR_UNKNOWN`].
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) becomes its IPv4 address, so one rule
    /// covers both ways of reaching an IPv4 peer.
    fn address(&mut self, endpoint: &Endpoint, slot: i16, b: Buffer, fault: Label) {
        let (v4, v6, done) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        self.endpoint_family(endpoint);
        self.asm
            .store_imm(Size::DW, Reg::R7, offset(b.offset), 0)
            .store_imm(Size::DW, Reg::R7, offset(b.offset + 8), 0)
            .jump_imm(JmpCond::Eq, Reg::R1, AF_INET, v4)
            .jump_imm(JmpCond::Eq, Reg::R1, AF_INET6, v6)
            .store_imm(Size::DW, Reg::R10, slot, ADDR_ABSENT)
            .jump(done);
        for (label, at, len, kind) in [
            (v4, endpoint.v4_addr, 4, ADDR_V4),
            (v6, endpoint.v6_addr, 16, ADDR_V6),
        ] {
            self.asm.bind(label).mov64_reg(Reg::R3, Reg::R9);
            self.add_offset(Reg::R3, at);
            self.asm.mov64_reg(Reg::R1, Reg::R7);
            self.add_offset(Reg::R1, b.offset);
            self.asm
                .mov64_imm(Reg::R2, len)
                .call_helper(PROBE_READ_KERNEL)
                .jump_imm(JmpCond::Ne, Reg::R0, 0, fault)
                .store_imm(Size::DW, Reg::R10, slot, kind);
            if kind == ADDR_V4 {
                self.asm.jump(done);
            }
        }
        // IPv4-mapped: ten zero bytes, two 0xff, then the IPv4 address.
        self.asm
            .load(Size::DW, Reg::R1, Reg::R7, offset(b.offset))
            .jump_imm(JmpCond::Ne, Reg::R1, 0, done)
            .load(Size::W, Reg::R1, Reg::R7, offset(b.offset + 8))
            .mov64_imm(Reg::R2, 0)
            .alu64_imm(AluOp::Sub, Reg::R2, 0x1_0000)
            .alu32_reg(AluOp::Mov, Reg::R2, Reg::R2)
            .jump_reg(JmpCond::Ne, Reg::R1, Reg::R2, done)
            .load(Size::W, Reg::R1, Reg::R7, offset(b.offset + 12))
            .store_imm(Size::DW, Reg::R7, offset(b.offset + 8), 0)
            .store_imm(Size::DW, Reg::R7, offset(b.offset), 0)
            .store_reg(Size::W, Reg::R7, offset(b.offset), Reg::R1)
            .store_imm(Size::DW, Reg::R10, slot, ADDR_V4)
            .jump(done)
            .bind(fault)
            .store_imm(Size::DW, Reg::R10, slot, ADDR_UNKNOWN)
            .bind(done);
    }

    /// The command line into buffer `b` and its length into `slot` (-1 unknown): one
    /// unrolled step per argument up to [`ARGV_MAX`] reads the next string of user memory
    /// from `*strings` (`bprm->p`) at the end of the line so far, keeping its NUL as the
    /// separator (`lang::cmdline`: a `cmdline` test reads it as a space, an `argv` test as
    /// the end of an argument, so an argument holding a space stays one). More than [`ARGV_MAX`] arguments, a line that does not fit [`STRING_CAP`] with
    /// its NUL, or a failed read make it unknown (the shape measured in
    /// tests/kernel/tests/argv.rs). The count waits in `slot` while r8 holds the next
    /// string's address and r9 the bytes joined so far. Clobbers r0–r5, r8, r9.
    fn command_line(
        &mut self,
        strings: &Access,
        count: &Access,
        b: Buffer,
        slot: i16,
        unknown: Label,
    ) {
        let (joined, done) = (self.asm.new_label(), self.asm.new_label());
        self.load_field(count, Reg::R1);
        self.asm.store_reg(Size::DW, Reg::R10, slot, Reg::R1);
        self.pointer_to(strings, Reg::R8);
        self.asm
            .load(Size::DW, Reg::R8, Reg::R8, offset(strings.offset))
            .mov64_imm(Reg::R9, 0);
        for i in 0..ARGV_MAX {
            let counted = self.asm.new_label();
            self.asm
                .load(Size::DW, Reg::R1, Reg::R10, slot)
                .jump_imm(JmpCond::Le, Reg::R1, i as i32, joined)
                // What the length check below ensures, said so the verifier knows it.
                .alu64_imm(AluOp::And, Reg::R9, (STRING_CAP - 1) as i32)
                .mov64_reg(Reg::R1, Reg::R7)
                .alu64_reg(AluOp::Add, Reg::R1, Reg::R9);
            self.add_offset(Reg::R1, b.offset);
            self.asm
                .mov64_imm(Reg::R2, STRING_CAP as i32)
                .mov64_reg(Reg::R3, Reg::R8)
                .call_helper(PROBE_READ_USER_STR)
                .jump_imm(JmpCond::Slt, Reg::R0, 0, unknown)
                // An empty argument reads as 0 (mm/maccess.c, strncpy_from_user_nofault adds
                // the NUL to a positive length only); its NUL is one byte all the same.
                .jump_imm(JmpCond::Ne, Reg::R0, 0, counted)
                .mov64_imm(Reg::R0, 1)
                .bind(counted)
                .alu64_reg(AluOp::Add, Reg::R8, Reg::R0)
                .alu64_reg(AluOp::Add, Reg::R9, Reg::R0)
                // Full with the NUL is unknown: it may be cut.
                .jump_imm(JmpCond::Ge, Reg::R9, STRING_CAP as i32, unknown);
            self.end_of_line(b, 0);
        }
        self.asm
            .load(Size::DW, Reg::R1, Reg::R10, slot)
            .jump_imm(JmpCond::Gt, Reg::R1, ARGV_MAX as i32, unknown)
            .bind(joined)
            // The last separator is the line's end: length = joined - 1. A count of 0 (no
            // kernel gives one since 5.18) joins nothing: unknown.
            .jump_imm(JmpCond::Eq, Reg::R9, 0, unknown)
            .alu64_imm(AluOp::And, Reg::R9, (STRING_CAP - 1) as i32);
        self.end_of_line(b, 0);
        self.asm
            .alu64_imm(AluOp::Sub, Reg::R9, 1)
            // Through map memory and back: the verifier then knows nothing of the length, so
            // the string's scan starts in one state whichever step ended the join (each step
            // leaves other ranges). Whether it saves processed instructions is not measured;
            // with it the programs of `command_line_policies_verify` verify in both guests.
            .store_reg(Size::DW, Reg::R7, offset(b.offset + STRING_CAP), Reg::R9)
            .load(Size::DW, Reg::R9, Reg::R7, offset(b.offset + STRING_CAP))
            .store_reg(Size::DW, Reg::R10, slot, Reg::R9)
            .jump(done)
            .bind(unknown)
            .store_imm(Size::DW, Reg::R10, slot, -1)
            .bind(done);
    }

    /// Writes `byte` over the last byte joined, the NUL at `r9 - 1` in buffer `b` (r9 is at
    /// least 1 there). The verifier does not learn `r9 != 0` from a test (6.1 rejected the
    /// store at `r9 - 1` as off=-1), so the position is masked into the buffer. Clobbers r1.
    fn end_of_line(&mut self, b: Buffer, byte: u8) {
        self.asm
            .mov64_reg(Reg::R1, Reg::R9)
            .alu64_imm(AluOp::Sub, Reg::R1, 1)
            .alu64_imm(AluOp::And, Reg::R1, (STRING_CAP - 1) as i32)
            .alu64_reg(AluOp::Add, Reg::R1, Reg::R7)
            .store_imm(Size::B, Reg::R1, offset(b.offset), i32::from(byte));
    }

    /// `r0` holds a string helper's result (length with NUL, or negative error); store the
    /// string's length, or -1 when it is unknown.
    fn store_length(&mut self, slot: i16, cap: u32, full_is_unknown: bool, unknown: Label) {
        let done = self.asm.new_label();
        self.asm.jump_imm(JmpCond::Slt, Reg::R0, 1, unknown);
        if full_is_unknown {
            self.asm
                .jump_imm(JmpCond::Sge, Reg::R0, cap as i32, unknown);
        }
        self.asm
            .alu64_imm(AluOp::Sub, Reg::R0, 1)
            .store_reg(Size::DW, Reg::R10, slot, Reg::R0)
            .jump(done)
            .bind(unknown)
            .store_imm(Size::DW, Reg::R10, slot, -1)
            .bind(done);
    }
}
