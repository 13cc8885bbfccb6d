//! Pinned policies: a policy that stays enforced after krsic exits.
//!
//! A pinned policy is a directory of BPF objects under the bpffs root (default `/sys/fs/bpf`):
//!
//! ```text
//! krsi/<name>/link_<symbol>   one pinned BPF link per program; the pin keeps it attached
//! krsi/<name>/events          the report ring buffer, read by `krsic follow`
//! krsi/<name>/drops           per-CPU counts of reports the programs could not send
//! krsi/<name>/record          an array map holding the policy's record (see below)
//! ```
//!
//! bpffs refuses names with a `.` (`bpf_lookup` in kernel/bpf/inode.c returns EPERM), hence
//! the `_` separators and policy names without dots. bpffs holds only BPF objects, never
//! regular files, so what `krsic list` shows (source hash,
//! compiler version, load time, ...) lives in a map of its own. The runtime stores the record
//! as opaque bytes behind a small header carrying [`PIN_LAYOUT`]; its meaning belongs to krsic.
//!
//! Every version of a policy carries a version number (its `version` map) and every program
//! checks, before deciding anything, that the policy's gate (the `gate` map, one `u64` shared
//! by all versions of the policy) holds that number; otherwise it allows, as if it were not
//! attached. Switching the gate is one map update, atomic for every program of the policy at
//! once, so the kernel enforces either all of a version or none of it. The gate update is the
//! commit point of every operation:
//!
//! - load or replace: the new version is attached disarmed, its pins are written to a staging
//!   directory (`_new_<name>`), the gate is switched to its number (commit: the new version
//!   is in force and the old one, if any, is not), the old directory is renamed to
//!   `_old_<name>`, the staging directory to `<name>`, the old pins are removed, and the new
//!   version's flags are cleared (below);
//! - unload: the version is flagged, the gate is set to 0, which no version has (commit:
//!   nothing is in force), the directory is renamed to `_old_<name>` and its pins are removed.
//!
//! The gate is read only by a flagged program: the version word's high half
//! ([`VERSION_FLAGS`]) is set on every version but one armed alone, which is the steady
//! state, and whose programs then read the flags alone, one load where the gate and the
//! version took two and their compare.
//! So a version is flagged before anything that disarms it: [`PinRoot::stage`] flags the
//! version in force before the new one is attached, a staged version is created flagged, and
//! an unload flags the version before it sets the gate to 0. Its flags are cleared once it is
//! the only version attached: after a commit, the old version's pins removed; and the version
//! in force when a staging ends without a commit.
//!
//! While a replacement is under way a hook runs both versions' programs on one event, the
//! newer first, and each reads the gate itself; a commit between the two reads would leave the
//! event to neither. So the versions also share a `handover` map (a hash by thread): a staged
//! program records what it read from the gate, and the older program decides when the newer
//! one read the older one's number. [`PinRoot::stage`] empties the map; an armed program that
//! is flagged (another version is attached) removes its thread's entry on every event, so none
//! outlives it. [`PinRoot::recover`] clears the flags a crash left on the version in force.
//! The compiler's `version_gate` has the programs' side.
//!
//! krsic may die at any step (`KRSI_CRASH_AT` injects it, see crash.rs). Whatever it leaves,
//! the version in force is the directory whose version the gate holds, and the next command
//! on that name first finishes the job ([`PinRoot::recover`]): an armed staging directory is
//! renamed into place, a disarmed one removed, retired pins removed. `krsic list` reads the
//! same rule without changing anything. Everything holds the pin root's lock (`flock`), so
//! two krsic processes never interleave their steps.
//!
//! Only root can reach any of it: krsi's directories are mode 0700 and bpffs creates pins
//! with mode 0600, so a user can neither open a pinned map (BPF_OBJ_GET checks the path's
//! permissions) nor read another user's reports.

use crate::crash::crash_point;
use crate::{error_chain, EnforcedPolicy, EventStream, GateMaps, RuntimeError};
use aya::maps::{Array, HashMap, Map, MapData, PerCpuArray, RingBuf};
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::{loaded_programs, Lsm};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// The version of the directory layout above. A pin with another layout was made by a krsic
/// this one cannot read, and is never replaced or followed blindly.
/// Layout 2 added the gate and version maps; a layout-1 policy cannot be switched atomically
/// and is never replaced (unload it with the krsic that pinned it).
pub const PIN_LAYOUT: u32 = 2;

/// `BPF_FS_MAGIC` from include/uapi/linux/magic.h.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// The record map's value: a fixed chunk size, so the map is an ordinary array of chunks.
const RECORD_CHUNK: usize = 4096;
type RecordChunk = [u8; RECORD_CHUNK];
/// Prefix of the record's first chunk: magic, layout version, record length.
const RECORD_MAGIC: &[u8; 8] = b"krsipin\0";
const RECORD_HEADER: usize = 16;
/// `BPF_MAP_TYPE_ARRAY`.
const MAP_TYPE_ARRAY: u32 = 2;

const LINK_PREFIX: &str = "link_";
/// Prefixes of the directories of a replacement in progress; policy names cannot start with
/// `_`, so these never clash with one.
const STAGING_PREFIX: &str = "_new_";
const RETIRING_PREFIX: &str = "_old_";
const EVENTS_PIN: &str = "events";
const DROPS_PIN: &str = "drops";
const RECORD_PIN: &str = "record";
const GATE_PIN: &str = "gate";
const VERSION_PIN: &str = "version";
const HANDOVER_PIN: &str = "handover";
/// A version number is the version word's low half, which the gate holds.
const VERSION_MASK: u64 = 0xffff_ffff;
/// The version word's high half, the flags: set on every version of a policy but one armed
/// alone, whose programs then read the gate (the steady state reads the flags only). The
/// compiler's `codegen::VERSION_FLAGS`, which krsic checks is the same.
pub const VERSION_FLAGS: u64 = !VERSION_MASK;
/// The mode of krsi's directories on bpffs: root only.
const DIR_MODE: u32 = 0o700;

/// The `krsi` directory of a mounted bpffs: every pinned policy lives below it.
pub struct PinRoot {
    dir: PathBuf,
}

/// A program of a pinned policy, as the kernel reports it now.
#[derive(Clone, Debug)]
pub struct PinnedProgram {
    pub symbol: String,
    pub link_id: u32,
    pub program_id: u32,
    /// Runs and run time the kernel counted while `kernel.bpf_stats_enabled` was 1.
    pub run_count: u64,
    pub run_time_ns: u64,
}

/// A policy found under the pin root.
pub struct PinnedPolicy {
    pub name: String,
    dir: PathBuf,
    /// The gate holds this version's number: its programs decide. False only for the pins an
    /// interrupted operation left, which no program of enforces.
    pub enforced: bool,
    /// A krsic died while loading, replacing or unloading this name; the next `krsic load`
    /// or `krsic unload` of it finishes the job.
    pub interrupted: bool,
}

/// What [`PinRoot::pin`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinOutcome {
    Pinned,
    /// A policy of the same name was enforced; it is now detached.
    Replaced,
}

/// A new version of a policy on its way in: holds the pin root's lock from before the version
/// is loaded until [`PinRoot::pin`] has committed it, so that no other krsic reads the same
/// gate and picks the same version number.
pub struct Staging {
    _lock: File,
    name: String,
    /// The gate of the version in force, which the new version shares.
    shared_gate: Option<PathBuf>,
    /// The handover map of the version in force, which the new version shares.
    shared_handover: Option<PathBuf>,
    /// The version pin of the version in force, flagged while this one is staged: cleared
    /// again when the staging ends without a commit.
    flagged: Option<PathBuf>,
    committed: bool,
    version: u64,
    /// What the shared gate holds (the version in force), or 0 for a new name.
    gate_in_force: u64,
}

impl Drop for Staging {
    fn drop(&mut self) {
        // A staging that never committed leaves the version in force as it found it. (A
        // krsic that dies here leaves the flag to the next command's `recover`; meanwhile
        // it costs the armed version a map deletion per event, nothing more.)
        if let (false, Some(version)) = (self.committed, &self.flagged) {
            let _ = clear_flag(version);
        }
    }
}

impl Staging {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pinned gate map the new version's programs must use, when there is one already.
    pub(crate) fn shared_gate(&self) -> Option<&Path> {
        self.shared_gate.as_deref()
    }

    /// The pinned handover map the new version's programs must use, when the version in
    /// force has one (a policy pinned before the handover has none: its programs would not
    /// read it, and the new version gets a map of its own).
    pub(crate) fn shared_handover(&self) -> Option<&Path> {
        self.shared_handover.as_deref()
    }

    /// The new version's number: one past the gate's, so that the commit switches to it.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// What the gate the new version shares holds until the commit: the version in force, or
    /// 0 (no version decides) for a name pinned for the first time.
    pub(crate) fn gate_in_force(&self) -> u64 {
        self.gate_in_force
    }

    /// The new version's word: its number, flagged until [`PinRoot::pin`] has made it the
    /// only version attached.
    pub(crate) fn version_word(&self) -> u64 {
        self.version | VERSION_FLAGS
    }
}

/// Whether a pin directory's version is the one its gate holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GateState {
    Armed,
    Disarmed,
    /// No gate or version pin: a directory whose writing was cut short, or one pinned by a
    /// krsic of layout 1, which had no gate.
    Ungated,
}

impl PinRoot {
    /// The pin root under the bpffs mounted at `bpffs`; fails when no bpffs is mounted there.
    /// Nothing is created: a bpffs without krsi's directory simply has no pinned policy.
    pub fn open(bpffs: &Path) -> Result<PinRoot, RuntimeError> {
        if !is_bpffs(bpffs) {
            return Err(RuntimeError::BpffsNotMounted {
                path: bpffs.to_path_buf(),
            });
        }
        Ok(PinRoot {
            dir: bpffs.join("krsi"),
        })
    }

    /// Like [`PinRoot::open`], creating krsi's directory when it is missing (root only, also
    /// when an older krsic created it open to everyone).
    pub fn create(bpffs: &Path) -> Result<PinRoot, RuntimeError> {
        let root = PinRoot::open(bpffs)?;
        // Two krsics pinning their first policies at once both find the directory missing:
        // the one that loses the race to create it finds it made, which is all it wanted.
        match std::fs::create_dir(&root.dir) {
            Err(e) if !(e.kind() == std::io::ErrorKind::AlreadyExists && root.dir.is_dir()) => {
                return Err(pin_error(&root.dir, e.to_string()));
            }
            _ => {}
        }
        restrict(&root.dir)?;
        Ok(root)
    }

    /// Every policy with pins under the root, by name: the version in force, or what an
    /// interrupted operation left when nothing of that name is in force.
    pub fn policies(&self) -> Result<Vec<PinnedPolicy>, RuntimeError> {
        if !self.dir.is_dir() {
            return Ok(Vec::new());
        }
        let _lock = self.lock(libc::LOCK_SH)?;
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| pin_error(&self.dir, e.to_string()))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| pin_error(&self.dir, e.to_string()))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let name = file
                .strip_prefix(STAGING_PREFIX)
                .or_else(|| file.strip_prefix(RETIRING_PREFIX))
                .unwrap_or(&file);
            if check_name(name).is_ok() && entry.path().is_dir() {
                names.push(name.to_string());
            }
        }
        names.sort();
        names.dedup();
        let mut policies = Vec::new();
        for name in names {
            policies.extend(self.resolve(&name)?);
        }
        Ok(policies)
    }

    /// The pinned policy `name`: its version in force, or its leftovers.
    pub fn policy(&self, name: &str) -> Result<Option<PinnedPolicy>, RuntimeError> {
        check_name(name)?;
        if !self.dir.is_dir() {
            return Ok(None);
        }
        let _lock = self.lock(libc::LOCK_SH)?;
        self.resolve(name)
    }

    /// The version of `name` in force, or an error saying nothing of that name is.
    pub fn pinned(&self, name: &str) -> Result<PinnedPolicy, RuntimeError> {
        match self.policy(name)? {
            Some(policy) if policy.enforced => Ok(policy),
            _ => Err(RuntimeError::NotPinned {
                name: name.to_string(),
                root: self.dir.clone(),
            }),
        }
    }

    /// What of `name` is under the root, read by the rule the module documentation gives,
    /// without changing anything. The caller holds the lock.
    fn resolve(&self, name: &str) -> Result<Option<PinnedPolicy>, RuntimeError> {
        let [target, staging, retiring] = self.dirs(name);
        let interrupted = staging.is_dir() || retiring.is_dir();
        let found = |dir: &Path, enforced: bool| PinnedPolicy {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            enforced,
            interrupted,
        };
        if staging.is_dir() && gate_state(&staging)? == GateState::Armed {
            return Ok(Some(found(&staging, true)));
        }
        if target.is_dir() {
            // An ungated target is a layout-1 policy, enforced as it always was.
            let enforced = gate_state(&target)? != GateState::Disarmed;
            return Ok(Some(found(&target, enforced)));
        }
        Ok(interrupted.then(|| {
            let leftover = if staging.is_dir() { staging } else { retiring };
            found(&leftover, false)
        }))
    }

    /// The directories of `name`: in force, staging, retiring.
    fn dirs(&self, name: &str) -> [PathBuf; 3] {
        [
            self.dir.join(name),
            self.dir.join(format!("{STAGING_PREFIX}{name}")),
            self.dir.join(format!("{RETIRING_PREFIX}{name}")),
        ]
    }

    /// Finishes what a krsic that died while loading, replacing or unloading `name` left
    /// undone, so that afterwards at most the directory `name` remains, armed. The caller holds
    /// the lock exclusively. Only steps after a commit are redone; before it, the new version
    /// was never in force and its pins are removed.
    fn recover(&self, name: &str) -> Result<(), RuntimeError> {
        let [target, staging, retiring] = self.dirs(name);
        if staging.is_dir() {
            if gate_state(&staging)? == GateState::Armed {
                if target.is_dir() {
                    rename(&target, &retiring)?;
                }
                rename(&staging, &target)?;
            } else {
                remove_pins(&staging)?;
            }
        }
        remove_pins(&retiring)?;
        // Disarmed and in place: an unload died after its commit.
        if target.is_dir() && gate_state(&target)? == GateState::Disarmed {
            remove_pins(&target)?;
        }
        // Armed and flagged: a replacement died before its commit, or after it before the
        // new version's flags were cleared, or an unload before its commit.
        let version = target.join(VERSION_PIN);
        if target.is_dir() && version.exists() {
            clear_flag(&version)?;
        }
        Ok(())
    }

    /// Starts a new version of `name`: takes the lock (held until [`PinRoot::pin`] returns or
    /// the [`Staging`] is dropped), finishes an interrupted operation on `name`, and picks the
    /// new version's number and the gate it shares. Load the policy with it, then pin it.
    /// Fails, before anything is loaded, when `name` is pinned by a krsic whose pin layout this
    /// one does not know: such a pin must not be replaced blindly.
    pub fn stage(&self, name: &str, gate: &GateMaps) -> Result<Staging, RuntimeError> {
        check_name(name)?;
        let lock = self.lock(libc::LOCK_EX)?;
        self.recover(name)?;
        let target = self.dir.join(name);
        let (shared_gate, gate_in_force, version) = if target.is_dir() {
            let existing = PinnedPolicy {
                name: name.to_string(),
                dir: target.clone(),
                enforced: true,
                interrupted: false,
            };
            existing.record()?;
            let gate = target.join(GATE_PIN);
            let current = read_u64(&gate)?;
            let next = current
                .checked_add(1)
                .filter(|next| *next <= VERSION_MASK)
                .ok_or_else(|| pin_error(&gate, "the gate holds the last version".into()))?;
            (Some(gate), current, next)
        } else {
            (None, 0, 1)
        };
        let mut staging = Staging {
            _lock: lock,
            name: name.to_string(),
            shared_gate,
            shared_handover: None,
            flagged: None,
            committed: false,
            version,
            gate_in_force,
        };
        // The version in force takes part in the handover (see the compiler's
        // `version_gate`): no entry is in flight (nothing is staged), so any left is stale
        // and goes; then it is flagged, before the new version is attached, so that its
        // programs read the gate and the commit disarms them.
        let (handover, version_pin) = (target.join(HANDOVER_PIN), target.join(VERSION_PIN));
        if handover.exists() && gate.handover.is_some() {
            clear_entries(&handover)?;
            staging.shared_handover = Some(handover);
        }
        if version_pin.exists() {
            flag(&version_pin)?;
            staging.flagged = Some(version_pin);
        }
        Ok(staging)
    }

    /// Pins `policy`, loaded with `staging`, as the staging's name: its links, its report maps
    /// (`maps`: ring buffer and drop counter, when the object has them), its gate and version
    /// maps and `record`; then commits it and retires the version it replaces (see the module
    /// documentation). A failure before the commit removes the new pins and leaves the old
    /// version in force; after it, the new version is in force and the next command on the
    /// name finishes the renames.
    pub fn pin(
        &self,
        mut staging: Staging,
        mut policy: EnforcedPolicy,
        events_map: &str,
        drops_map: &str,
        record: &[u8],
    ) -> Result<PinOutcome, RuntimeError> {
        let [target, staging_dir, retiring] = self.dirs(&staging.name);
        std::fs::create_dir(&staging_dir).map_err(|e| pin_error(&staging_dir, e.to_string()))?;
        let written = restrict(&staging_dir)
            .and_then(|()| write_pins(&staging_dir, &mut policy, events_map, drops_map, record));
        if let Err(error) = written {
            // Dropping the pins detaches the new programs; the old version is untouched.
            let _ = remove_pins(&staging_dir);
            return Err(error);
        }
        if let Err(error) = policy.arm() {
            // Not committed: the new programs go (a staged version left attached would keep
            // writing handover entries that nothing takes once the flag is cleared).
            let _ = remove_pins(&staging_dir);
            return Err(error);
        }
        staging.committed = true;
        crash_point("armed");
        let replaced = target.is_dir();
        if replaced {
            rename(&target, &retiring)?;
            crash_point("retired");
        }
        rename(&staging_dir, &target)?;
        crash_point("renamed");
        remove_pins(&retiring)?;
        // The only version attached: its programs no longer read the gate.
        clear_flag(&target.join(VERSION_PIN))?;
        drop(staging);
        Ok(if replaced {
            PinOutcome::Replaced
        } else {
            PinOutcome::Pinned
        })
    }

    /// Removes the pinned policy `name`: disarms it (every program at once), then removes its
    /// pins, which detaches the programs. Finishing an unload that a dead krsic left halfway
    /// counts as unloading.
    pub fn unload(&self, name: &str) -> Result<(), RuntimeError> {
        check_name(name)?;
        let not_pinned = || RuntimeError::NotPinned {
            name: name.to_string(),
            root: self.dir.clone(),
        };
        if !self.dir.is_dir() {
            return Err(not_pinned());
        }
        let _lock = self.lock(libc::LOCK_EX)?;
        let [target, staging, retiring] = self.dirs(name);
        let leftovers = staging.is_dir() || retiring.is_dir() || target.is_dir();
        self.recover(name)?;
        if !target.is_dir() {
            return if leftovers { Ok(()) } else { Err(not_pinned()) };
        }
        let (gate, version) = (target.join(GATE_PIN), target.join(VERSION_PIN));
        if gate.exists() {
            // Flagged first: an unflagged program does not read the gate.
            if version.exists() {
                flag(&version)?;
            }
            write_u64(&gate, 0)?;
            crash_point("disarmed");
        }
        rename(&target, &retiring)?;
        crash_point("retired");
        remove_pins(&retiring)
    }

    /// An advisory lock on the pin root, so that two krsic processes never replace or remove
    /// the same policy at once (flock works on any directory, bpffs included).
    fn lock(&self, operation: libc::c_int) -> Result<File, RuntimeError> {
        let dir = File::open(&self.dir).map_err(|e| pin_error(&self.dir, e.to_string()))?;
        // SAFETY: flock on a file descriptor we own; it has no memory effects.
        if unsafe { libc::flock(dir.as_raw_fd(), operation) } != 0 {
            let error = std::io::Error::last_os_error();
            return Err(pin_error(&self.dir, format!("cannot lock: {error}")));
        }
        Ok(dir)
    }
}

/// Whether `dir`'s version is the one its gate holds.
fn gate_state(dir: &Path) -> Result<GateState, RuntimeError> {
    let (gate, version) = (dir.join(GATE_PIN), dir.join(VERSION_PIN));
    if !gate.exists() || !version.exists() {
        return Ok(GateState::Ungated);
    }
    Ok(if read_u64(&gate)? == read_u64(&version)? & VERSION_MASK {
        GateState::Armed
    } else {
        GateState::Disarmed
    })
}

/// Index 0 of the pinned one-entry `u64` array at `path` (a gate or version map).
fn read_u64(path: &Path) -> Result<u64, RuntimeError> {
    let map = MapData::from_pin(path).map_err(|e| pin_error(path, error_chain(&e)))?;
    let array = Array::<MapData, u64>::try_from(Map::Array(map))
        .map_err(|e| pin_error(path, error_chain(&e)))?;
    array
        .get(&0, 0)
        .map_err(|e| pin_error(path, error_chain(&e)))
}

fn write_u64(path: &Path, value: u64) -> Result<(), RuntimeError> {
    let map = MapData::from_pin(path).map_err(|e| pin_error(path, error_chain(&e)))?;
    let mut array = Array::<MapData, u64>::try_from(Map::Array(map))
        .map_err(|e| pin_error(path, error_chain(&e)))?;
    array
        .set(0, value, 0)
        .map_err(|e| pin_error(path, error_chain(&e)))
}

/// Flags the version pin at `path`: its programs read the gate from their next event on.
fn flag(path: &Path) -> Result<(), RuntimeError> {
    let word = read_u64(path)?;
    write_u64(path, word | VERSION_FLAGS)
}

/// Clears the flags of the version pin at `path`, when set.
fn clear_flag(path: &Path) -> Result<(), RuntimeError> {
    let word = read_u64(path)?;
    if word & VERSION_FLAGS != 0 {
        write_u64(path, word & VERSION_MASK)?;
    }
    Ok(())
}

/// Removes every entry of the pinned handover map at `path`.
fn clear_entries(path: &Path) -> Result<(), RuntimeError> {
    let map = MapData::from_pin(path).map_err(|e| pin_error(path, error_chain(&e)))?;
    let mut entries = HashMap::<MapData, u64, [u64; 2]>::try_from(Map::HashMap(map))
        .map_err(|e| pin_error(path, error_chain(&e)))?;
    let keys = entries
        .keys()
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|e| pin_error(path, error_chain(&e)))?;
    for key in keys {
        // An entry gone in between is as good as removed.
        let _ = entries.remove(&key);
    }
    Ok(())
}

/// Makes `dir` reachable by root only, whatever the umask made of it.
fn restrict(dir: &Path) -> Result<(), RuntimeError> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
        .map_err(|e| pin_error(dir, format!("cannot make it private: {e}")))
}

impl PinnedPolicy {
    /// The record krsic stored when it pinned the policy.
    pub fn record(&self) -> Result<Vec<u8>, RuntimeError> {
        let path = self.dir.join(RECORD_PIN);
        let other = |found: String| RuntimeError::PinnedByOtherVersion {
            name: self.name.clone(),
            found,
        };
        let map = MapData::from_pin(&path)
            .map_err(|e| other(format!("no record: {}", error_chain(&e))))?;
        let map = Map::from_map_data(map).map_err(|e| other(error_chain(&e)))?;
        let chunks = Array::<MapData, RecordChunk>::try_from(map)
            .map_err(|e| other(format!("the record is not krsi's: {}", error_chain(&e))))?;
        let mut bytes = Vec::new();
        for chunk in chunks.iter() {
            let chunk = chunk.map_err(|e| pin_error(&path, error_chain(&e)))?;
            bytes.extend_from_slice(&chunk);
        }
        if bytes.len() < RECORD_HEADER || &bytes[..8] != RECORD_MAGIC {
            return Err(other("the record is not krsi's".into()));
        }
        let layout = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if layout != PIN_LAYOUT {
            return Err(other(format!("pin layout {layout}")));
        }
        let len = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
        let record = bytes
            .get(RECORD_HEADER..RECORD_HEADER + len)
            .ok_or_else(|| other("a truncated record".into()))?;
        Ok(record.to_vec())
    }

    /// The policy's programs, found through their pinned links.
    pub fn programs(&self) -> Result<Vec<PinnedProgram>, RuntimeError> {
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| pin_error(&self.dir, e.to_string()))?;
        let mut links = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| pin_error(&self.dir, e.to_string()))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(symbol) = file.strip_prefix(LINK_PREFIX) else {
                continue;
            };
            let link = PinnedLink::from_pin(entry.path())
                .map_err(|e| pin_error(&entry.path(), error_chain(&e)))?;
            let info = FdLink::from(link)
                .info()
                .map_err(|e| pin_error(&entry.path(), error_chain(&e)))?;
            links.push((symbol.to_string(), info.id(), info.program_id()));
        }
        // One walk over the kernel's programs for all of the policy's, not one per program.
        let wanted: Vec<u32> = links.iter().map(|&(_, _, id)| id).collect();
        let infos: Vec<_> = loaded_programs()
            .filter_map(Result::ok)
            .filter(|p| wanted.contains(&p.id()))
            .collect();
        let mut programs = Vec::new();
        for (symbol, link_id, program_id) in links {
            let info = infos.iter().find(|p| p.id() == program_id);
            programs.push(PinnedProgram {
                symbol,
                link_id,
                program_id,
                run_count: info.map_or(0, |i| i.run_count()),
                run_time_ns: info.map_or(0, |i| i.run_time().as_nanos() as u64),
            });
        }
        programs.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(programs)
    }

    /// The report stream of the pinned ring buffer, if the policy has one.
    pub fn events(&self) -> Result<Option<EventStream>, RuntimeError> {
        let path = self.dir.join(EVENTS_PIN);
        if !path.exists() {
            return Ok(None);
        }
        let map = MapData::from_pin(&path).map_err(|e| pin_error(&path, error_chain(&e)))?;
        let ring =
            RingBuf::try_from(Map::RingBuf(map)).map_err(|e| pin_error(&path, error_chain(&e)))?;
        Ok(Some(EventStream { ring }))
    }

    /// The pinned drop counters, opened once for as many reads as the caller makes; `None`
    /// when the policy has none.
    pub fn drop_counters(&self) -> Result<Option<DropCounters>, RuntimeError> {
        let path = self.dir.join(DROPS_PIN);
        if !path.exists() {
            return Ok(None);
        }
        let map = MapData::from_pin(&path).map_err(|e| pin_error(&path, error_chain(&e)))?;
        Ok(Some(DropCounters(Map::PerCpuArray(map))))
    }
}

/// A pinned policy's per-CPU counts of reports its programs could not send.
pub struct DropCounters(Map);

impl DropCounters {
    /// The sum over CPUs of the counter at `index`.
    pub fn total(&self, index: u32) -> Result<u64, RuntimeError> {
        per_cpu_sum(&self.0, index)
    }
}

/// The sum over CPUs of the `u64` at `index` of a per-CPU array.
pub(crate) fn per_cpu_sum(map: &Map, index: u32) -> Result<u64, RuntimeError> {
    let array =
        PerCpuArray::<_, u64>::try_from(map).map_err(|e| RuntimeError::Object(error_chain(&e)))?;
    let values = array
        .get(&index, 0)
        .map_err(|e| RuntimeError::Object(error_chain(&e)))?;
    Ok(values.iter().sum())
}

fn write_pins(
    dir: &Path,
    policy: &mut EnforcedPolicy,
    events_map: &str,
    drops_map: &str,
    record: &[u8],
) -> Result<(), RuntimeError> {
    for (symbol, link_id) in std::mem::take(&mut policy.links) {
        let path = dir.join(format!("{LINK_PREFIX}{symbol}"));
        let program: &mut Lsm = policy
            .ebpf
            .program_mut(&symbol)
            .ok_or_else(|| RuntimeError::MissingProgram(symbol.clone()))?
            .try_into()
            .map_err(|e| pin_error(&path, error_chain(&e)))?;
        let link = program
            .take_link(link_id)
            .map_err(|e| pin_error(&path, error_chain(&e)))?;
        let link = FdLink::from(link);
        // The returned handle only closes our descriptor when dropped; the pin holds the link.
        link.pin(&path)
            .map_err(|e| pin_error(&path, error_chain(&e)))?;
        crash_point("link");
    }
    let handover = policy.gate.handover.clone();
    let gate = [
        (policy.gate.gate_map.as_str(), GATE_PIN),
        (policy.gate.version_map.as_str(), VERSION_PIN),
    ]
    .into_iter()
    .chain(handover.as_deref().map(|map| (map, HANDOVER_PIN)));
    for (map, pin) in [(events_map, EVENTS_PIN), (drops_map, DROPS_PIN)]
        .into_iter()
        .chain(gate)
    {
        if let Some(map) = policy.ebpf.map(map) {
            let path = dir.join(pin);
            map.pin(&path)
                .map_err(|e| pin_error(&path, error_chain(&e)))?;
        }
    }
    crash_point("maps");
    write_record(&dir.join(RECORD_PIN), record)?;
    crash_point("record");
    Ok(())
}

fn write_record(path: &Path, record: &[u8]) -> Result<(), RuntimeError> {
    let mut bytes = Vec::with_capacity(RECORD_HEADER + record.len());
    bytes.extend_from_slice(RECORD_MAGIC);
    bytes.extend_from_slice(&PIN_LAYOUT.to_le_bytes());
    let len = u32::try_from(record.len())
        .map_err(|_| pin_error(path, "the policy record is larger than 4 GiB".into()))?;
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(record);
    let chunks = bytes.len().div_ceil(RECORD_CHUNK);
    let def = aya_obj::maps::bpf_map_def {
        map_type: MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: RECORD_CHUNK as u32,
        max_entries: chunks as u32,
        ..Default::default()
    };
    let obj = aya_obj::Map::Legacy(aya_obj::maps::LegacyMap {
        def,
        inner_def: None,
        section_index: 0,
        section_kind: aya_obj::EbpfSectionKind::Maps,
        symbol_index: None,
        data: Vec::new(),
    });
    let map =
        MapData::create(obj, "krsi_record", None).map_err(|e| pin_error(path, error_chain(&e)))?;
    map.pin(path)
        .map_err(|e| pin_error(path, error_chain(&e)))?;
    let mut array = Array::<MapData, RecordChunk>::try_from(Map::Array(map))
        .map_err(|e| pin_error(path, error_chain(&e)))?;
    for (index, piece) in bytes.chunks(RECORD_CHUNK).enumerate() {
        let mut chunk = [0u8; RECORD_CHUNK];
        chunk[..piece.len()].copy_from_slice(piece);
        array
            .set(index as u32, chunk, 0)
            .map_err(|e| pin_error(path, error_chain(&e)))?;
    }
    Ok(())
}

/// Removes a pin directory and everything in it, one pin at a time; removing a link's pin
/// detaches its program.
fn remove_pins(dir: &Path) -> Result<(), RuntimeError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(pin_error(dir, e.to_string())),
    };
    for entry in entries {
        let path = entry.map_err(|e| pin_error(dir, e.to_string()))?.path();
        std::fs::remove_file(&path).map_err(|e| pin_error(&path, e.to_string()))?;
        crash_point("removed");
    }
    std::fs::remove_dir(dir).map_err(|e| pin_error(dir, e.to_string()))
}

fn rename(from: &Path, to: &Path) -> Result<(), RuntimeError> {
    std::fs::rename(from, to)
        .map_err(|e| pin_error(from, format!("cannot rename it to `{}`: {e}", to.display())))
}

/// A policy name is one path component of the pin root: letters, digits, `_` and `-`, not
/// starting with `_` (krsic's own staging directories do) and without `.` (bpffs refuses it).
fn check_name(name: &str) -> Result<(), RuntimeError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(RuntimeError::BadPolicyName(name.to_string()))
    }
}

fn is_bpffs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into the zeroed struct we pass and reads the NUL-terminated path.
    unsafe {
        let mut fs: libc::statfs = std::mem::zeroed();
        libc::statfs(c_path.as_ptr(), &mut fs) == 0 && fs.f_type as i64 == BPF_FS_MAGIC
    }
}

fn pin_error(path: &Path, message: String) -> RuntimeError {
    RuntimeError::Pin {
        path: path.to_path_buf(),
        message,
    }
}
