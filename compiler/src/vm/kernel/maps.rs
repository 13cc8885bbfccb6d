//! The machine's BPF maps: arrays with a value region per entry, hash maps that programs
//! update and delete in as the kernel's hash tables answer, cgroup arrays and ring buffers
//! without values, and the object's data sections (the gate and version among them, armed as
//! the runtime arms them).

use super::{EventError, MockKernel, E2BIG, EEXIST, EFAULT, EINVAL, ENOENT, GARBAGE};
use crate::bpf::map_type::{
    ARRAY as BPF_MAP_TYPE_ARRAY, CGROUP_ARRAY as BPF_MAP_TYPE_CGROUP_ARRAY,
    HASH as BPF_MAP_TYPE_HASH, PERCPU_ARRAY as BPF_MAP_TYPE_PERCPU_ARRAY,
    RINGBUF as BPF_MAP_TYPE_RINGBUF,
};
use crate::codegen::{GATE_MAP, VERSION_MAP};
use crate::elf::{DataSection, MapSpec};
use crate::vm::memory::{Memory, RegionKind};
use std::collections::BTreeMap;

/// `bpf_map_update_elem`'s flags (include/uapi/linux/bpf.h).
const BPF_ANY: u64 = 0;
const BPF_NOEXIST: u64 = 1;
const BPF_EXIST: u64 = 2;

/// Array maps get a value region per entry; more than this is not a map krsi emits (the
/// largest is the rate map, an entry per reporting rule).
const MAX_ARRAY_ENTRIES: u32 = 1 << 16;

/// A map as the machine sees it.
#[derive(Clone, Debug)]
pub struct Map {
    pub spec: MapSpec,
    /// The address `ld_imm64` of this map loads.
    pub handle: u64,
    /// Value addresses by key (array maps).
    pub values: Vec<u64>,
    /// Value addresses by key bytes (hash maps), as the program's updates left them.
    pub entries: BTreeMap<Vec<u8>, u64>,
}

impl MockKernel {
    /// Creates `spec`'s map: a handle region and, for array maps, one value per entry.
    pub fn add_map(&mut self, spec: &MapSpec) -> Result<u64, EventError> {
        let handle = self.map_handle(&spec.symbol);
        let mut values = Vec::new();
        match spec.map_type {
            BPF_MAP_TYPE_ARRAY | BPF_MAP_TYPE_PERCPU_ARRAY => {
                if spec.max_entries > MAX_ARRAY_ENTRIES || spec.key_size != 4 {
                    return Err(EventError::UnsupportedMap(format!(
                        "`{}` has {} entries of key size {}",
                        spec.symbol, spec.max_entries, spec.key_size
                    )));
                }
                for key in 0..spec.max_entries {
                    let kind = RegionKind::MapValue {
                        map: spec.symbol.clone(),
                        key,
                    };
                    let bytes = vec![GARBAGE; spec.value_size as usize];
                    values.push(Memory::base(self.memory.add(kind, bytes, true)));
                }
            }
            // A ring buffer has no values: records are reserved and submitted by helpers. A
            // hash map starts empty.
            BPF_MAP_TYPE_CGROUP_ARRAY | BPF_MAP_TYPE_RINGBUF | BPF_MAP_TYPE_HASH => {}
            other => {
                return Err(EventError::UnsupportedMap(format!(
                    "`{}` has map type {other}",
                    spec.symbol
                )))
            }
        }
        self.maps.insert(
            spec.symbol.clone(),
            Map {
                spec: spec.clone(),
                handle,
                values,
                entries: BTreeMap::new(),
            },
        );
        Ok(handle)
    }

    /// Creates the object's data sections as the loader does: each a one-entry array map,
    /// named by the section, whose value is its bytes, and which the program cannot write
    /// when it is `.rodata`. The runtime writes the version and arms a policy of its own
    /// (version 1, the gate holding it) before attaching it (`runtime::load`), so the gate
    /// and the version hold 1.
    pub fn add_data(&mut self, sections: &[DataSection]) {
        for section in sections {
            let spec = MapSpec {
                symbol: section.name.clone(),
                map_type: BPF_MAP_TYPE_ARRAY,
                key_size: 4,
                value_size: u32::try_from(section.bytes.len()).unwrap_or(u32::MAX),
                max_entries: 1,
                flags: 0,
            };
            let handle = self.map_handle(&section.name);
            let mut bytes = section.bytes.clone();
            if [GATE_MAP, VERSION_MAP].contains(&section.name.as_str()) {
                bytes.fill(0);
                if let Some(first) = bytes.first_mut() {
                    *first = 1;
                }
            }
            let kind = RegionKind::MapValue {
                map: section.name.clone(),
                key: 0,
            };
            let value = Memory::base(self.memory.add(kind, bytes, section.writable()));
            self.maps.insert(
                section.name.clone(),
                Map {
                    spec,
                    handle,
                    values: vec![value],
                    entries: BTreeMap::new(),
                },
            );
        }
    }

    /// The region whose address an `ld_imm64` of map `symbol` loads.
    fn map_handle(&mut self, symbol: &str) -> u64 {
        Memory::base(
            self.memory
                .add(RegionKind::MapHandle(symbol.to_string()), Vec::new(), false),
        )
    }

    /// `bpf_map_update_elem` (`update`: the value and the flags) or `bpf_map_delete_elem`
    /// (`None`) of `key` in the hash map whose handle is `handle`, as htab_map_update_elem
    /// and htab_map_delete_elem do (kernel/bpf/hashtab.c): 0 or a negative errno. Fails when
    /// `handle` is no hash map: krsi's programs write no other.
    pub fn write_hash(
        &mut self,
        handle: u64,
        key: Vec<u8>,
        update: Option<(Vec<u8>, u64)>,
    ) -> Result<i64, String> {
        let Some(map) = self.maps.values_mut().find(|m| m.handle == handle) else {
            return Err(format!("{handle:#x} is not a map"));
        };
        if map.spec.map_type != BPF_MAP_TYPE_HASH {
            return Err(format!("`{}` is not a hash map", map.spec.symbol));
        }
        let Some((value, flags)) = update else {
            return Ok(map.entries.remove(&key).map_or(-ENOENT, |_| 0));
        };
        match (flags, map.entries.get(&key)) {
            (BPF_ANY | BPF_EXIST, Some(&at)) => {
                return Ok(self.memory.write(at, &value).map_or(-EFAULT, |()| 0));
            }
            (BPF_NOEXIST, Some(_)) => return Ok(-EEXIST),
            (BPF_EXIST, None) => return Ok(-ENOENT),
            (BPF_ANY | BPF_NOEXIST, None) => {}
            _ => return Ok(-EINVAL),
        }
        if map.entries.len() >= map.spec.max_entries as usize {
            return Ok(-E2BIG);
        }
        let kind = RegionKind::MapValue {
            map: map.spec.symbol.clone(),
            key: u32::try_from(map.entries.len()).unwrap_or(u32::MAX),
        };
        let at = Memory::base(self.memory.add(kind, value, true));
        map.entries.insert(key, at);
        Ok(0)
    }

    /// The entries of the hash map `symbol`, key bytes to value bytes (none for another map).
    pub fn hash_entries(&self, symbol: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let Some(map) = self.maps.get(symbol) else {
            return BTreeMap::new();
        };
        let size = map.spec.value_size as usize;
        map.entries
            .iter()
            .filter_map(|(key, &at)| Some((key.clone(), self.memory.read(at, size).ok()?.to_vec())))
            .collect()
    }

    /// Sets the entries of the hash map `symbol` to `entries`, as another program sharing the
    /// map (a pinned one: the handover) left them. Entries of the wrong size are skipped.
    pub fn set_hash_entries(&mut self, symbol: &str, entries: &BTreeMap<Vec<u8>, Vec<u8>>) {
        let Some(spec) = self.maps.get(symbol).map(|m| m.spec.clone()) else {
            return;
        };
        let mut placed = BTreeMap::new();
        for (number, (key, value)) in entries.iter().enumerate() {
            if key.len() != spec.key_size as usize || value.len() != spec.value_size as usize {
                continue;
            }
            let kind = RegionKind::MapValue {
                map: symbol.to_string(),
                key: u32::try_from(number).unwrap_or(u32::MAX),
            };
            placed.insert(
                key.clone(),
                Memory::base(self.memory.add(kind, value.clone(), true)),
            );
        }
        if let Some(map) = self.maps.get_mut(symbol) {
            map.entries = placed;
        }
    }

    /// The map whose handle is `addr`.
    pub fn map_at(&self, addr: u64) -> Option<&Map> {
        self.maps.values().find(|m| m.handle == addr)
    }
}
