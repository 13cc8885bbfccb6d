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
//! Replacing a pinned policy never leaves a moment with neither version enforced: the new
//! programs are verified and attached while the old ones still are, their pins are written to
//! a staging directory (`_new_<name>`), the staging directory is renamed into place, and only then are the old
//! pins removed, which detaches the old programs. A failure before the rename removes the
//! staging pins (detaching the new programs) and leaves the old policy as it was.

use crate::{error_chain, EnforcedPolicy, EventStream, RuntimeError};
use aya::maps::{Array, Map, MapData, PerCpuArray, RingBuf};
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::{loaded_programs, Lsm};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The version of the directory layout above. A pin with another layout was made by a krsic
/// this one cannot read, and is never replaced or followed blindly.
pub const PIN_LAYOUT: u32 = 1;

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
}

/// What [`PinRoot::pin`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinOutcome {
    Pinned,
    /// A policy of the same name was enforced; it is now detached.
    Replaced,
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

    /// Like [`PinRoot::open`], creating krsi's directory when it is missing.
    pub fn create(bpffs: &Path) -> Result<PinRoot, RuntimeError> {
        let root = PinRoot::open(bpffs)?;
        if !root.dir.is_dir() {
            std::fs::create_dir(&root.dir).map_err(|e| pin_error(&root.dir, e.to_string()))?;
        }
        Ok(root)
    }

    /// Every pinned policy, by name.
    pub fn policies(&self) -> Result<Vec<PinnedPolicy>, RuntimeError> {
        if !self.dir.is_dir() {
            return Ok(Vec::new());
        }
        let _lock = self.lock(libc::LOCK_SH)?;
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| pin_error(&self.dir, e.to_string()))?;
        let mut policies = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| pin_error(&self.dir, e.to_string()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // The staging and retiring directories of a replacement start with `_`.
            if name.starts_with('_') || !entry.path().is_dir() {
                continue;
            }
            policies.push(PinnedPolicy {
                name,
                dir: entry.path(),
            });
        }
        policies.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(policies)
    }

    /// The pinned policy `name`, if there is one.
    pub fn policy(&self, name: &str) -> Result<Option<PinnedPolicy>, RuntimeError> {
        check_name(name)?;
        let dir = self.dir.join(name);
        Ok(dir.is_dir().then(|| PinnedPolicy {
            name: name.to_string(),
            dir,
        }))
    }

    /// The pinned policy `name`, or an error saying it is not pinned.
    pub fn pinned(&self, name: &str) -> Result<PinnedPolicy, RuntimeError> {
        self.policy(name)?.ok_or_else(|| RuntimeError::NotPinned {
            name: name.to_string(),
            root: self.dir.clone(),
        })
    }

    /// Fails when `name` is pinned by a krsic whose pin layout this one does not know, before
    /// anything is loaded: such a pin must not be replaced blindly.
    pub fn check_replaceable(&self, name: &str) -> Result<(), RuntimeError> {
        match self.policy(name)? {
            Some(existing) => existing.record().map(drop),
            None => Ok(()),
        }
    }

    /// Pins `policy` as `name`: its links, its report maps (`maps`: ring buffer and drop
    /// counter, when the object has them) and `record`. An enforced policy of the same name is
    /// replaced without a gap (see the module documentation).
    pub fn pin(
        &self,
        name: &str,
        policy: EnforcedPolicy,
        events_map: &str,
        drops_map: &str,
        record: &[u8],
    ) -> Result<PinOutcome, RuntimeError> {
        check_name(name)?;
        let _lock = self.lock(libc::LOCK_EX)?;
        self.check_replaceable(name)?;
        let staging = self.dir.join(format!("{STAGING_PREFIX}{name}"));
        let retiring = self.dir.join(format!("{RETIRING_PREFIX}{name}"));
        // Left over by a krsic that died halfway; the staging pins were never in place, and a
        // retiring directory's policy was already replaced.
        remove_pins(&staging)?;
        remove_pins(&retiring)?;
        std::fs::create_dir(&staging).map_err(|e| pin_error(&staging, e.to_string()))?;
        if let Err(error) = write_pins(&staging, policy, events_map, drops_map, record) {
            // Dropping the pins detaches the new programs; the old policy is untouched.
            let _ = remove_pins(&staging);
            return Err(error);
        }
        let target = self.dir.join(name);
        let replaced = target.exists();
        if replaced {
            rename(&target, &retiring)?;
        }
        if let Err(error) = rename(&staging, &target) {
            if replaced {
                let _ = rename(&retiring, &target);
            }
            let _ = remove_pins(&staging);
            return Err(error);
        }
        // The new programs are attached and pinned; removing the old pins detaches the old.
        remove_pins(&retiring)?;
        Ok(if replaced {
            PinOutcome::Replaced
        } else {
            PinOutcome::Pinned
        })
    }

    /// Removes the pinned policy `name`, detaching its programs.
    pub fn unload(&self, name: &str) -> Result<(), RuntimeError> {
        self.pinned(name)?;
        let _lock = self.lock(libc::LOCK_EX)?;
        // Looked up again under the lock: another krsic may have removed it meanwhile.
        let policy = self.pinned(name)?;
        remove_pins(&policy.dir)
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
    mut policy: EnforcedPolicy,
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
    }
    for (map, pin) in [(events_map, EVENTS_PIN), (drops_map, DROPS_PIN)] {
        if let Some(map) = policy.ebpf.map(map) {
            let path = dir.join(pin);
            map.pin(&path)
                .map_err(|e| pin_error(&path, error_chain(&e)))?;
        }
    }
    write_record(&dir.join(RECORD_PIN), record)
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

/// Removes a pin directory and everything in it; removing a link's pin detaches its program.
fn remove_pins(dir: &Path) -> Result<(), RuntimeError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(pin_error(dir, e.to_string())),
    }
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
