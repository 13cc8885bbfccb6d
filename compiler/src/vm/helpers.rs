//! The helpers the offline machine answers, as the kernel's do what a program can observe:
//! the values they return and the bytes they write (and, where the kernel leaves bytes as
//! they were, those too).

use super::kernel::{Fault, Map, MockKernel, E2BIG, EFAULT, EINVAL, ENAMETOOLONG, GARBAGE};
use super::memory::{MemError, Memory, RegionKind};
use super::{Cpu, VmError};
use crate::bpf::helper::{
    CURRENT_TASK_UNDER_CGROUP, D_PATH, GET_CURRENT_CGROUP_ID, GET_CURRENT_COMM,
    GET_CURRENT_PID_TGID, GET_CURRENT_TASK_BTF, GET_CURRENT_UID_GID, KTIME_GET_NS, MAP_DELETE_ELEM,
    MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, PROBE_READ_KERNEL, PROBE_READ_KERNEL_STR,
    PROBE_READ_USER_STR, RINGBUF_DISCARD, RINGBUF_RESERVE, RINGBUF_SUBMIT, SEND_SIGNAL,
};
use crate::bpf::{helper_name, map_type};

/// Runs helper `id` with the arguments in r1–r5; returns r0.
pub(super) fn call(
    slot: usize,
    id: i32,
    cpu: &mut Cpu,
    kernel: &mut MockKernel,
) -> Result<u64, VmError> {
    let helper = helper_name(id as u32).unwrap_or("?");
    let misuse = |reason: String| VmError::HelperMisuse {
        slot,
        helper,
        reason,
    };
    let mem = |error| VmError::Memory { slot, error };
    let arg = |n: u8| cpu.get(slot, n);
    let neg = |e: i64| (-e) as u64;
    let Ok(helper_id) = u32::try_from(id) else {
        return Err(VmError::UnknownHelper { slot, id });
    };
    if let Some(errno) = kernel.faults.iter().find_map(|f| match f {
        Fault::Helper { id, errno } if *id == helper_id => Some(*errno),
        _ => None,
    }) {
        return Ok(match helper_id {
            MAP_LOOKUP_ELEM | RINGBUF_RESERVE => 0,
            _ => neg(errno),
        });
    }
    let read_faults = kernel.faults.contains(&Fault::KernelRead);
    match helper_id {
        MAP_LOOKUP_ELEM => {
            let (map, key) = (arg(1)?, arg(2)?);
            let map = kernel
                .map_at(map)
                .ok_or_else(|| misuse(format!("{map:#x} is not a map")))?;
            let key_size = map.spec.key_size as usize;
            if kernel
                .faults
                .contains(&Fault::MapLookup(map.spec.symbol.clone()))
            {
                return Ok(0);
            }
            if map.spec.map_type == map_type::HASH {
                let key = kernel.memory.read(key, key_size).map_err(mem)?;
                return Ok(map.entries.get(key).copied().unwrap_or(0));
            }
            let key = kernel.memory.read_uint(key, key_size).map_err(mem)?;
            Ok(usize::try_from(key)
                .ok()
                .and_then(|k| map.values.get(k))
                .copied()
                .unwrap_or(0))
        }
        // krsi updates and deletes only in hash maps (the handover).
        MAP_UPDATE_ELEM | MAP_DELETE_ELEM => {
            let handle = arg(1)?;
            let (key_size, value_size) = kernel
                .map_at(handle)
                .map(|m| (m.spec.key_size as usize, m.spec.value_size as usize))
                .ok_or_else(|| misuse(format!("{handle:#x} is not a map")))?;
            let key = kernel.memory.read(arg(2)?, key_size).map_err(mem)?.to_vec();
            let update = if helper_id == MAP_UPDATE_ELEM {
                let value = kernel.memory.read(arg(3)?, value_size).map_err(mem)?;
                Some((value.to_vec(), arg(4)?))
            } else {
                None
            };
            kernel
                .write_hash(handle, key, update)
                .map(|result| result as u64)
                .map_err(misuse)
        }
        CURRENT_TASK_UNDER_CGROUP => {
            let (map, index) = (arg(1)?, arg(2)?);
            let map = map_of_type(kernel, map, map_type::CGROUP_ARRAY, "a cgroup array")
                .map_err(misuse)?;
            if index as u32 >= map.spec.max_entries {
                return Ok(neg(E2BIG));
            }
            Ok(u64::from(kernel.in_scope))
        }
        GET_CURRENT_UID_GID => Ok(u64::from(kernel.gid) << 32 | u64::from(kernel.uid)),
        GET_CURRENT_CGROUP_ID => Ok(kernel.cgroup_id),
        GET_CURRENT_PID_TGID => Ok(u64::from(kernel.tgid) << 32 | u64::from(kernel.pid)),
        GET_CURRENT_COMM => {
            let (buf, size) = (arg(1)?, arg(2)? as u32 as usize);
            if size == 0 {
                return Ok(neg(EINVAL));
            }
            // strscpy, as 6.1 copies: at most size - 1 bytes and a NUL, the rest of the
            // buffer untouched (6.12 pads with strscpy_pad; a program must not count on it).
            let n = kernel.comm.len().min(size - 1);
            let mut bytes = kernel.comm[..n].to_vec();
            bytes.push(0);
            kernel.memory.write(buf, &bytes).map_err(mem)?;
            Ok(0)
        }
        D_PATH => {
            let (path, buf, size) = (arg(1)?, arg(2)?, arg(3)? as u32 as usize);
            let Some(text) = kernel.paths.get(&path) else {
                return Err(misuse(format!("{path:#x} is not a `struct path`")));
            };
            // The verifier takes the whole buffer as written whatever the helper returns, and
            // the kernel leaves bytes past the NUL behind (`d_path` builds the name at the
            // buffer's end and moves it to the start): garbage, not zeros.
            let mut bytes = vec![GARBAGE; size];
            if text.len() + 1 > size {
                kernel.memory.write(buf, &bytes).map_err(mem)?;
                return Ok(neg(ENAMETOOLONG));
            }
            bytes[..text.len()].copy_from_slice(text);
            bytes[text.len()] = 0;
            kernel.memory.write(buf, &bytes).map_err(mem)?;
            Ok(text.len() as u64 + 1)
        }
        PROBE_READ_KERNEL_STR => {
            let (dst, size, src) = (arg(1)?, arg(2)? as u32 as usize, arg(3)?);
            if size == 0 {
                return Ok(0);
            }
            // mm/maccess.c, strncpy_from_kernel_nofault: byte by byte, the string and its
            // NUL and nothing more; kernel/trace/bpf_trace.c zeroes all `size` bytes on a
            // fault.
            take_buffer(&mut kernel.memory, dst, size).map_err(mem)?;
            match kernel.memory.read_str(src, size - 1) {
                Some(mut bytes) if !read_faults => {
                    bytes.push(0);
                    let len = bytes.len() as u64;
                    kernel.memory.write(dst, &bytes).map_err(mem)?;
                    Ok(len)
                }
                _ => {
                    kernel.memory.write(dst, &vec![0; size]).map_err(mem)?;
                    Ok(neg(EFAULT))
                }
            }
        }
        PROBE_READ_USER_STR => {
            // mm/maccess.c, strncpy_from_user_nofault: the length with the NUL; an empty
            // string reads as 0 (the NUL is added to a positive length only, measured on
            // 6.1); a string of `size` bytes or more is cut to `size - 1` and its NUL, and
            // `size` returned. Only user memory reads; anything else faults, and a fault
            // zeroes all `size` bytes (kernel/trace/bpf_trace.c). lib/strncpy_from_user.c
            // copies a word at a time while a whole word is left: the word holding the NUL is
            // written with the bytes after the NUL zeroed, and nothing past that word.
            let (dst, size, src) = (arg(1)?, arg(2)? as u32 as usize, arg(3)?);
            take_buffer(&mut kernel.memory, dst, size).map_err(mem)?;
            let user = kernel
                .memory
                .locate(src)
                .and_then(|(id, _)| kernel.memory.region(id))
                .is_some_and(|r| r.kind == RegionKind::User);
            if size == 0 || !user || read_faults {
                kernel.memory.write(dst, &vec![0; size]).map_err(mem)?;
                return Ok(neg(EFAULT));
            }
            let (id, offset) = kernel.memory.locate(src).unwrap_or_default();
            let bytes = kernel
                .memory
                .region(id)
                .map(|r| r.bytes[offset.min(r.bytes.len())..].to_vec())
                .unwrap_or_default();
            let len = bytes.iter().position(|&b| b == 0);
            match len {
                Some(n) if n < size => {
                    let word_end = (n / 8 + 1) * 8;
                    let end = if word_end <= size { word_end } else { n + 1 };
                    let mut out = bytes[..n].to_vec();
                    out.resize(end, 0);
                    kernel.memory.write(dst, &out).map_err(mem)?;
                    Ok(if n == 0 { 0 } else { n as u64 + 1 })
                }
                // No NUL before the region ends: the read runs off the mapping.
                None if bytes.len() < size => {
                    kernel.memory.write(dst, &vec![0; size]).map_err(mem)?;
                    Ok(neg(EFAULT))
                }
                _ => {
                    let mut out = bytes[..size - 1].to_vec();
                    out.push(0);
                    kernel.memory.write(dst, &out).map_err(mem)?;
                    Ok(size as u64)
                }
            }
        }
        PROBE_READ_KERNEL => {
            let (dst, size, src) = (arg(1)?, arg(2)? as u32 as usize, arg(3)?);
            match kernel.memory.kernel_read(src, size) {
                Some(bytes) if !read_faults => {
                    kernel.memory.write(dst, &bytes).map_err(mem)?;
                    Ok(0)
                }
                _ => {
                    kernel.memory.write(dst, &vec![0; size]).map_err(mem)?;
                    Ok(neg(EFAULT))
                }
            }
        }
        GET_CURRENT_TASK_BTF => Ok(kernel.task),
        KTIME_GET_NS => Ok(kernel.time_ns),
        SEND_SIGNAL => {
            let signal = arg(1)?;
            // The kernel refuses a number that is not a signal (valid_signal).
            if signal == 0 || signal > 64 {
                return Err(misuse(format!("{signal} is not a signal")));
            }
            kernel.signals.push(signal as u32);
            Ok(0)
        }
        RINGBUF_RESERVE => {
            let (map, size) = (arg(1)?, arg(2)?);
            let map =
                map_of_type(kernel, map, map_type::RINGBUF, "a ring buffer").map_err(misuse)?;
            if size == 0 || size > u64::from(map.spec.max_entries) {
                return Ok(0);
            }
            let kind = RegionKind::Kernel(format!("record in `{}`", map.spec.symbol));
            let region = kernel.memory.add(kind, vec![GARBAGE; size as usize], true);
            kernel.reserved.push(region);
            Ok(Memory::base(region))
        }
        RINGBUF_SUBMIT | RINGBUF_DISCARD => {
            let record = arg(1)?;
            let Some(at) = kernel
                .reserved
                .iter()
                .position(|r| Memory::base(*r) == record)
            else {
                return Err(misuse(format!("{record:#x} is not a reserved record")));
            };
            let region = kernel.reserved.remove(at);
            if helper_id == RINGBUF_SUBMIT {
                let bytes = kernel
                    .memory
                    .region(region)
                    .map(|r| r.bytes.clone())
                    .unwrap_or_default();
                kernel.reports.push(bytes);
            }
            Ok(0)
        }
        _ => Err(VmError::UnknownHelper { slot, id }),
    }
}

/// The map whose handle is `handle`, which must be of `map_type` (`what` names that type);
/// else how the program misused the helper.
fn map_of_type<'k>(
    kernel: &'k MockKernel,
    handle: u64,
    map_type: u32,
    what: &str,
) -> Result<&'k Map, String> {
    let map = kernel
        .map_at(handle)
        .ok_or_else(|| format!("{handle:#x} is not a map"))?;
    if map.spec.map_type != map_type {
        return Err(format!("`{}` is not {what}", map.spec.symbol));
    }
    Ok(map)
}

/// Takes `size` bytes at `dst` as a helper's output buffer: they must be writable, and they
/// count as written afterwards (the verifier takes the whole buffer as initialized whatever
/// the helper writes), but they keep what they held. The string helpers write only part of
/// it, and a program that read the rest would read what the last event left.
fn take_buffer(memory: &mut Memory, dst: u64, size: usize) -> Result<(), MemError> {
    let held = memory.locate(dst).and_then(|(id, at)| {
        let bytes = &memory.region(id)?.bytes;
        Some(bytes.get(at..at.checked_add(size)?)?.to_vec())
    });
    memory.write(dst, &held.unwrap_or_else(|| vec![0; size]))
}
