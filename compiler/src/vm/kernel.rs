//! The mocked kernel a program runs against: the LSM context, fake kernel objects, maps and
//! helpers, all built from one event.
//!
//! Nothing here knows a kernel layout. The objects are built from the access paths of the IR
//! program's values (which the checker resolved against BTF): `ctx[n]` points to a fresh
//! object for hook argument `n`, each dereference offset holds a pointer to a fresh object
//! (shared by every path through the same pointer), and the final offset holds the value: an
//! integer, flag bits, a `char[]`, a `char *` to the string's bytes, or the `struct path`
//! that the `d_path` mock recognizes by its address. Bytes no value claims hold a garbage
//! pattern, so a load from a wrong offset reads garbage instead of a convenient zero.

use super::memory::{Memory, RegionKind};
use crate::elf::MapSpec;
use crate::ir::{Program, ValueKind};
use lang::checked::AttrValue;
use lang::checked::ParentAccess;
use lang::checked::{Access, AccessBase, KernfsLayout, PathLayout, PathWalk, WalkLayout};
use lang::eval::EventInput;
use std::collections::BTreeMap;

mod event;
mod maps;
use event::{fill_endpoint, flag, int, string};
pub use maps::Map;

/// What fresh kernel objects and map values are filled with.
pub const GARBAGE: u8 = 0xa5;

/// Size of the BPF stack.
pub const STACK_SIZE: usize = 512;

/// The errnos the machine's helpers return (include/uapi/asm-generic/errno-base.h, errno.h).
pub(crate) const ENOENT: i64 = 2;
pub(crate) const E2BIG: i64 = 7;
pub(crate) const EFAULT: i64 = 14;
pub(crate) const EEXIST: i64 = 17;
pub(crate) const EINVAL: i64 = 22;
pub(crate) const ENAMETOOLONG: i64 = 36;

/// The process and kernel state one run sees.
#[derive(Clone, Debug)]
pub struct MockKernel {
    pub memory: Memory,
    /// r1 at entry.
    pub ctx: u64,
    /// One past the stack's last byte: r10 at entry.
    pub frame: u64,
    /// What `bpf_get_current_task_btf` returns.
    pub task: u64,
    pub maps: BTreeMap<String, Map>,
    /// `struct path` addresses `bpf_d_path` knows, and the path each resolves to.
    pub paths: BTreeMap<u64, Vec<u8>>,
    pub uid: u32,
    pub gid: u32,
    pub pid: u32,
    pub tgid: u32,
    /// The thread's name as the kernel keeps it (callers truncate to 15 bytes).
    pub comm: Vec<u8>,
    /// `bpf_current_task_under_cgroup` on the scope map.
    pub in_scope: bool,
    /// What `bpf_ktime_get_ns` returns.
    pub time_ns: u64,
    /// What `bpf_get_current_cgroup_id` returns: the event's `cgroup.id`.
    pub cgroup_id: u64,
    /// Ring buffer records reserved and not yet submitted: their regions.
    pub reserved: Vec<usize>,
    /// Records submitted to a ring buffer, in order.
    pub reports: Vec<Vec<u8>>,
    /// Signals `bpf_send_signal` sent to the current process, in order.
    pub signals: Vec<u32>,
    /// Failures to inject: where the real kernel can fail and the mock otherwise never does.
    pub faults: Vec<Fault>,
}

/// A failure the machine injects, to test that a program fails closed where the kernel fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `bpf_map_lookup_elem` on the map with this ELF symbol returns NULL.
    MapLookup(String),
    /// Every read of kernel memory through a helper faults: `bpf_probe_read_kernel` zeroes
    /// its destination and returns -EFAULT, `bpf_probe_read_kernel_str` returns -EFAULT.
    KernelRead,
    /// The helper with this id returns `-errno` without doing anything (NULL for the helpers
    /// that return a pointer: map lookups, ring buffer reservations).
    Helper { id: u32, errno: i64 },
}

/// Why an event cannot be turned into kernel state for a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventError {
    MissingAttribute(&'static str),
    WrongType(&'static str),
    /// Two values claim overlapping bytes of one object in incompatible ways.
    LayoutConflict(String),
    UnsupportedMap(String),
    /// A walked path that no dentry walk gives: not absolute, or with an empty component.
    NotWalkable(&'static str),
}

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventError::MissingAttribute(a) => write!(f, "the event has no value for `{a}`"),
            EventError::WrongType(a) => write!(f, "the event's `{a}` has the wrong type"),
            EventError::LayoutConflict(what) => write!(f, "conflicting object layout: {what}"),
            EventError::UnsupportedMap(what) => write!(f, "unsupported map: {what}"),
            EventError::NotWalkable(a) => write!(
                f,
                "`{a}` is not a path a dentry walk gives: it is \"\" or \"/\" or starts with `/`, with no empty component and no `/` at the end"
            ),
        }
    }
}

impl std::error::Error for EventError {}

/// What a byte range of an object was claimed for, to catch values that overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Claim {
    Pointer,
    Flags,
    Value,
}

/// Kernel objects under construction: growable byte vectors, made regions at the end.
#[derive(Default)]
struct Objects {
    names: Vec<String>,
    bytes: Vec<Vec<u8>>,
    claims: Vec<Vec<(usize, usize, Claim)>>,
    /// (object, offset) → the object the pointer stored there points to.
    children: BTreeMap<(usize, usize), usize>,
    /// Hook argument n → its object.
    args: BTreeMap<u32, usize>,
    task: Option<usize>,
    /// `char *` targets: (object, offset) of the pointer → the string's bytes (None: NULL).
    strings: Vec<(usize, usize, Option<Vec<u8>>)>,
    /// `struct path` at (object, offset) → the path.
    paths: Vec<(usize, usize, Vec<u8>)>,
    /// User memory an exec's arguments are in: (object, offset) of the pointer to them (the
    /// `bprm->p` of a command line) → the bytes there.
    user: Vec<(usize, usize, Vec<u8>)>,
    /// The context's own bytes (arguments passed by value), when some value reads them.
    ctx: Option<usize>,
    /// Pointers into the middle of objects: (object, offset) holds the address of `target`
    /// plus `target_offset`.
    links: BTreeMap<(usize, usize), (usize, usize)>,
    /// The mocked file-system tree walked paths are built in, made on first use.
    tree: Option<Tree>,
    /// Kernfs paths built so far → their last node, so that two values of one path (a
    /// cgroup's and its container id) read the same nodes.
    kernfs: BTreeMap<Vec<u8>, usize>,
    /// `dentry.d_iname` (offset, bytes), when the program reads names through it: a shorter
    /// name is kept there, as the kernel keeps it, `d_name.name` pointing into the dentry.
    inline_names: Option<(u32, u32)>,
}

/// Dentries and mounts for walked paths. The root mount's root is `/`, the process's root.
/// A path of two or more components whose first begins with an even byte lies on a mount of
/// its own there (as `/tmp/x` on a tmpfs, `/dev/x`, `/run/x`), so that walks with some depth
/// cross a mount; one whose first begins with an odd byte lies on the root mount (as
/// `/srv/x`, `/usr/x`, `/etc/x`), so that code which stops at a mount's root is also run to
/// the process's root.
struct Tree {
    root_mount: usize,
    root_dentry: usize,
    /// First component → (mount, its root dentry).
    mounts: BTreeMap<Vec<u8>, (usize, usize)>,
    /// (mount, path inside the tree) → dentry.
    dentries: BTreeMap<(usize, Vec<u8>), usize>,
}

/// Whether the tree mounts a file system at first component `name` ([`Tree`]).
fn mount_point(name: &[u8]) -> bool {
    name.first().is_some_and(|b| b % 2 == 0)
}

impl Objects {
    /// Lays out the integer `value` where `access` reads it.
    fn set_int(&mut self, access: &Access, value: u64) -> Result<(), EventError> {
        let size = access.size as usize;
        let (o, at) = self.place(access, size)?;
        self.claim(o, at, size, Claim::Value)?;
        let bytes = value.to_le_bytes();
        self.bytes[o][at..at + size.min(8)].copy_from_slice(&bytes[..size.min(8)]);
        Ok(())
    }

    fn new_object(&mut self, name: String) -> usize {
        self.names.push(name);
        self.bytes.push(Vec::new());
        self.claims.push(Vec::new());
        self.names.len() - 1
    }

    fn claim(
        &mut self,
        object: usize,
        at: usize,
        len: usize,
        claim: Claim,
    ) -> Result<(), EventError> {
        let bytes = &mut self.bytes[object];
        if bytes.len() < at + len {
            bytes.resize(at + len, GARBAGE);
        }
        for &(start, end, other) in &self.claims[object] {
            let overlaps = start < at + len && at < end;
            let exact = start == at && end == at + len;
            // Flags that are bits of an integer value the event also gives (`ptrace`'s
            // `attach` of `mode`) share its bytes; `for_report` checks that they agree.
            let bits_of_value = matches!(
                (claim, other),
                (Claim::Flags, Claim::Value) | (Claim::Value, Claim::Flags)
            );
            let same = exact && ((other == claim && claim != Claim::Value) || bits_of_value);
            if overlaps && !same {
                return Err(EventError::LayoutConflict(format!(
                    "`{}` bytes {at}..{} ({claim:?}) overlap {start}..{end} ({other:?})",
                    self.names[object],
                    at + len
                )));
            }
        }
        self.claims[object].push((at, at + len, claim));
        Ok(())
    }

    /// A dentry object named `name` whose parent is `parent` (itself when `None`).
    fn dentry(&mut self, layout: &WalkLayout, name: &[u8], parent: Option<usize>) -> usize {
        let o = self.new_object(format!("dentry {}", String::from_utf8_lossy(name)));
        let size = (layout.d_parent + 8)
            .max(layout.d_name_len + 4)
            .max(layout.d_name_name + 8) as usize;
        self.bytes[o].resize(size, GARBAGE);
        self.links
            .insert((o, layout.d_parent as usize), (parent.unwrap_or(o), 0));
        let len = layout.d_name_len as usize;
        self.bytes[o][len..len + 4].copy_from_slice(&(name.len() as u32).to_le_bytes());
        // Every dentry has its inline store, a longer name's holding stale bytes.
        if let Some((at, size)) = self.inline_names {
            let end = (at + size) as usize;
            if self.bytes[o].len() < end {
                self.bytes[o].resize(end, GARBAGE);
            }
        }
        match self.inline_names {
            Some((at, size)) if name.len() < size as usize => {
                let at = at as usize;
                self.bytes[o][at..at + name.len()].copy_from_slice(name);
                self.bytes[o][at + name.len()] = 0;
                self.links.insert((o, layout.d_name_name as usize), (o, at));
            }
            _ => self
                .strings
                .push((o, layout.d_name_name as usize, Some(name.to_vec()))),
        }
        o
    }

    /// A mount object with its root dentry, mounted at `mountpoint` of `parent` (the root
    /// mount, its own parent, when `None`). Returns (mount, root dentry). The root mount's
    /// root is its file system's root, its own parent; another mount's is a directory of its
    /// file system, as a bind mount's is, with a name and a parent that are not the path's:
    /// code that reads names must stop at a mount's root.
    fn mount(&mut self, layout: &WalkLayout, parent: Option<(usize, usize)>) -> (usize, usize) {
        let m = self.new_object("mount".to_string());
        let size = (layout.mount_mnt + layout.mnt_root + 8)
            .max(layout.mnt_parent + 8)
            .max(layout.mnt_mountpoint + 8) as usize;
        self.bytes[m].resize(size, GARBAGE);
        let fs_root = self.dentry(layout, b"/", None);
        let root = match parent {
            None => fs_root,
            Some(_) => self.dentry(layout, b"bind-source", Some(fs_root)),
        };
        self.links.insert(
            (m, (layout.mount_mnt + layout.mnt_root) as usize),
            (root, 0),
        );
        let (parent_mount, mountpoint) = parent.unwrap_or((m, root));
        self.links
            .insert((m, layout.mnt_parent as usize), (parent_mount, 0));
        self.links
            .insert((m, layout.mnt_mountpoint as usize), (mountpoint, 0));
        (m, root)
    }

    /// The tree's root mount and its root dentry, the process's root: made on first use.
    fn root(&mut self, layout: &WalkLayout) -> (usize, usize) {
        if let Some(t) = &self.tree {
            return (t.root_mount, t.root_dentry);
        }
        let (m, r) = self.mount(layout, None);
        self.tree = Some(Tree {
            root_mount: m,
            root_dentry: r,
            mounts: BTreeMap::new(),
            dentries: BTreeMap::new(),
        });
        (m, r)
    }

    /// Builds `path` in the tree; returns (dentry, mount) the walk starts from, or `None`
    /// for the empty path (a NULL dentry).
    fn walked(
        &mut self,
        layout: &WalkLayout,
        name: &'static str,
        path: &[u8],
    ) -> Result<Option<(usize, usize)>, EventError> {
        if path.is_empty() {
            return Ok(None);
        }
        let components: Vec<&[u8]> = match path {
            b"/" => Vec::new(),
            [b'/', rest @ ..] => rest.split(|&c| c == b'/').collect(),
            _ => return Err(EventError::NotWalkable(name)),
        };
        if components.iter().any(|c| c.is_empty()) {
            return Err(EventError::NotWalkable(name));
        }
        let (root_mount, root_dentry) = self.root(layout);
        let mut mount = root_mount;
        let mut dentry = root_dentry;
        let mut inside = Vec::new();
        for (i, component) in components.iter().enumerate() {
            inside.push(b'/');
            inside.extend_from_slice(component);
            dentry = self.child(layout, mount, &inside, component, dentry);
            if i == 0 && components.len() >= 2 && mount_point(component) {
                let known = self
                    .tree
                    .as_ref()
                    .and_then(|t| t.mounts.get(*component).copied());
                let (m, r) = match known {
                    Some(found) => found,
                    None => {
                        let made = self.mount(layout, Some((root_mount, dentry)));
                        if let Some(t) = self.tree.as_mut() {
                            t.mounts.insert(component.to_vec(), made);
                        }
                        made
                    }
                };
                mount = m;
                dentry = r;
                inside.clear();
            }
        }
        Ok(Some((dentry, mount)))
    }

    /// The dentries and mount a `struct path` at `(o, at)` points to, for a program that
    /// reads names through it before resolving it (`codegen::screen`): `path` built in the
    /// tree. A path no dentry walk gives (empty, or with an empty name) is a lone mount's
    /// root instead, where the program learns nothing and resolves it. A path of one name
    /// holding a `:` is a pseudo file's, whose file system makes its path (`d_dname`), as
    /// dma-buf's `/dmabuf:NAME` is made from the dentry `dmabuf`: a dentry that is its own
    /// parent, named what comes before the `:`, on a mount of its own and not its root, so
    /// that the names read are not the path's.
    fn path_dentries(
        &mut self,
        layout: &PathLayout,
        name: &'static str,
        (o, at): (usize, usize),
        path: &[u8],
    ) -> Result<(), EventError> {
        let pseudo = path
            .strip_prefix(b"/")
            .filter(|rest| !rest.contains(&b'/'))
            .and_then(|rest| rest.iter().position(|&c| c == b':').map(|at| &rest[..at]));
        let (dentry, mount) = if let Some(own_name) = pseudo {
            let (mount, _) = self.mount(&layout.walk, None);
            (self.dentry(&layout.walk, own_name, None), mount)
        } else {
            match self.walked(&layout.walk, name, path) {
                Ok(Some(start)) => start,
                Ok(None) | Err(_) => {
                    let (mount, root) = self.mount(&layout.walk, None);
                    (root, mount)
                }
            }
        };
        self.links
            .insert((o, at + layout.dentry as usize), (dentry, 0));
        self.links.insert(
            (o, at + layout.mnt as usize),
            (mount, layout.walk.mount_mnt as usize),
        );
        // The process's root, `task->fs->root`, where the program's walk up stops: the
        // tree's root.
        if let Some(root) = layout.process_root {
            let (mount, dentry) = self.root(&layout.walk);
            let member = |at: u32| Access {
                base: AccessBase::CurrentTask,
                derefs: vec![root.task_fs],
                offset: root.fs_root + at,
                size: 8,
                index: None,
            };
            let mnt = (mount, layout.walk.mount_mnt as usize);
            self.point(&member(layout.dentry), Some((dentry, 0)))?;
            self.point(&member(layout.mnt), Some(mnt))?;
        }
        Ok(())
    }

    /// Builds `path` as a chain of kernfs nodes (a cgroup's); returns the last one. The
    /// root's `parent` is NULL, and `/` is the root itself.
    fn kernfs_path(
        &mut self,
        layout: &KernfsLayout,
        name: &'static str,
        path: &[u8],
    ) -> Result<usize, EventError> {
        let components: Vec<&[u8]> = match path {
            b"/" => Vec::new(),
            [b'/', rest @ ..] => rest.split(|&c| c == b'/').collect(),
            _ => return Err(EventError::NotWalkable(name)),
        };
        if components.iter().any(|c| c.is_empty()) {
            return Err(EventError::NotWalkable(name));
        }
        if let Some(&node) = self.kernfs.get(path) {
            return Ok(node);
        }
        let mut node = self.kernfs_node(layout, b"", None);
        for component in components {
            node = self.kernfs_node(layout, component, Some(node));
        }
        self.kernfs.insert(path.to_vec(), node);
        Ok(node)
    }

    /// A kernfs node named `name` under `parent` (none: the root, whose `parent` is NULL).
    fn kernfs_node(&mut self, layout: &KernfsLayout, name: &[u8], parent: Option<usize>) -> usize {
        let o = self.new_object(format!("kernfs_node {}", String::from_utf8_lossy(name)));
        let size = (layout.parent + 8).max(layout.name + 8) as usize;
        self.bytes[o].resize(size, GARBAGE);
        let at = layout.parent as usize;
        match parent {
            Some(p) => {
                self.links.insert((o, at), (p, 0));
            }
            None => self.bytes[o][at..at + 8].fill(0),
        }
        self.strings
            .push((o, layout.name as usize, Some(name.to_vec())));
        o
    }

    /// The dentry at `inside` on `mount`, a child of `parent`, made when new.
    fn child(
        &mut self,
        layout: &WalkLayout,
        mount: usize,
        inside: &[u8],
        name: &[u8],
        parent: usize,
    ) -> usize {
        let key = (mount, inside.to_vec());
        if let Some(d) = self.tree.as_ref().and_then(|t| t.dentries.get(&key)) {
            return *d;
        }
        let d = self.dentry(layout, name, Some(parent));
        if let Some(t) = self.tree.as_mut() {
            t.dentries.insert(key, d);
        }
        d
    }

    /// Stores at `access` a pointer to `target` + `target_offset` (NULL for `None`).
    fn point(&mut self, access: &Access, target: Option<(usize, usize)>) -> Result<(), EventError> {
        let (o, at) = self.place(access, 8)?;
        self.claim(o, at, 8, Claim::Pointer)?;
        match (self.links.get(&(o, at)), target) {
            (Some(old), Some(new)) if *old != new => {
                return Err(EventError::LayoutConflict(format!(
                    "`{}` byte {at} points to two different objects (paths on two mounts seen through one)",
                    self.names[o]
                )))
            }
            (Some(_), None) => {
                return Err(EventError::LayoutConflict(format!(
                    "`{}` byte {at} is both NULL and a pointer",
                    self.names[o]
                )))
            }
            _ => {}
        }
        match target {
            Some(t) => {
                self.links.insert((o, at), t);
            }
            None => self.bytes[o][at..at + 8].fill(0),
        }
        Ok(())
    }

    /// The object and offset where `access`'s final `len` bytes live, creating objects on
    /// the way.
    fn place(&mut self, access: &Access, len: usize) -> Result<(usize, usize), EventError> {
        let mut object = match access.base {
            AccessBase::Context => match self.ctx {
                Some(o) => o,
                None => {
                    let o = self.new_object("ctx".to_string());
                    self.ctx = Some(o);
                    o
                }
            },
            AccessBase::Param(n) => match self.args.get(&n) {
                Some(o) => *o,
                // The argument is a dentry a walked path already made (`path_unlink`'s
                // `dentry`, which the walk reads through the context): the same object.
                None => match self.ctx.and_then(|c| self.links.get(&(c, 8 * n as usize))) {
                    Some(&(target, 0)) => {
                        self.args.insert(n, target);
                        target
                    }
                    _ => {
                        let o = self.new_object(format!("arg{n}"));
                        self.args.insert(n, o);
                        o
                    }
                },
            },
            AccessBase::CurrentTask => match self.task {
                Some(o) => o,
                None => {
                    let o = self.new_object("task".to_string());
                    self.task = Some(o);
                    o
                }
            },
        };
        // An indexed step: the holder struct gets the index [`VM_INDEX`], and every offset
        // after the step moves to that element.
        let mut shift = 0usize;
        for (k, &deref) in access.derefs.iter().enumerate() {
            if let Some(step) = access.index.filter(|s| s.after == k) {
                shift = self.set_index(object, &step)?;
            }
            let at = deref as usize + shift;
            shift = 0;
            // A pointer a walked path stored (a dentry of the tree): follow it, so that a
            // value read through the dentry (its inode's owner) lands in the same object.
            match self.links.get(&(object, at)) {
                Some(&(target, 0)) => {
                    object = target;
                    continue;
                }
                Some(_) => {
                    return Err(EventError::LayoutConflict(format!(
                    "`{}` byte {at} points into the middle of an object that a value reads through",
                    self.names[object]
                )))
                }
                None => {}
            }
            object = match self.children.get(&(object, at)) {
                Some(child) => *child,
                None => {
                    self.claim(object, at, 8, Claim::Pointer)?;
                    let name = format!("{}->[{at}]", self.names[object]);
                    let child = self.new_object(name);
                    self.children.insert((object, at), child);
                    child
                }
            };
        }
        if let Some(step) = access.index.filter(|s| s.after == access.derefs.len()) {
            shift = self.set_index(object, &step)?;
        }
        let at = access.offset as usize + shift;
        if self.bytes[object].len() < at + len {
            self.bytes[object].resize(at + len, GARBAGE);
        }
        Ok((object, at))
    }

    /// Writes [`VM_INDEX`] as the index of an indexed step into `holder`; returns how far
    /// the element it selects is from element 0. The elements before it are left as garbage,
    /// so a program that read another would fault or read a wrong value.
    fn set_index(
        &mut self,
        holder: usize,
        step: &lang::checked::IndexStep,
    ) -> Result<usize, EventError> {
        let (at, size) = (step.index as usize, step.index_size as usize);
        let fresh = !self.claims[holder]
            .iter()
            .any(|&(start, end, _)| start == at && end == at + size);
        if fresh {
            self.claim(holder, at, size, Claim::Value)?;
            self.bytes[holder][at..at + size]
                .copy_from_slice(&VM_INDEX.to_le_bytes()[..size.min(8)]);
        }
        Ok(VM_INDEX as usize * step.stride as usize)
    }
}

/// The index the offline machine gives every indexed step (`pid.level`): not 0, so that a
/// program that ignored the index, or scaled it wrongly, reads the wrong element.
const VM_INDEX: u64 = 2;

impl MockKernel {
    /// Kernel state with no objects, no maps and process attributes of zero: for running
    /// hand-written code.
    pub fn empty() -> MockKernel {
        let mut memory = Memory::new();
        let stack = memory.add(RegionKind::Stack, vec![0; STACK_SIZE], true);
        let ctx = memory.add(RegionKind::Context, vec![0; 8], false);
        let task = memory.add(RegionKind::Kernel("task".into()), vec![GARBAGE; 8], false);
        MockKernel {
            frame: Memory::base(stack) + STACK_SIZE as u64,
            ctx: Memory::base(ctx),
            task: Memory::base(task),
            memory,
            maps: BTreeMap::new(),
            paths: BTreeMap::new(),
            uid: 0,
            gid: 0,
            pid: 0,
            tgid: 0,
            comm: Vec::new(),
            in_scope: false,
            time_ns: 0,
            cgroup_id: 0,
            reserved: Vec::new(),
            reports: Vec::new(),
            signals: Vec::new(),
            faults: Vec::new(),
        }
    }

    /// The kernel state `program` sees for `event`, with `maps` created empty (array values
    /// full of garbage, as a previous run may have left them).
    ///
    /// Integer values are stored truncated to their field's size and the helper-provided ids
    /// to 32 bits, as the kernel holds them. A missing `char *` string is a NULL pointer, which
    /// the program cannot read; any other missing value is an error.
    pub fn for_event(
        program: &Program,
        maps: &[MapSpec],
        event: &EventInput,
    ) -> Result<MockKernel, EventError> {
        MockKernel::for_report(program, None, maps, event)
    }

    /// Like [`MockKernel::for_event`], and also lays out the parent process that reports
    /// read (`parent.pid`, `parent.comm` from the event, else 0 and ""), unless the program's
    /// own values already place it.
    pub fn for_report(
        program: &Program,
        parent: Option<&ParentAccess>,
        maps: &[MapSpec],
        event: &EventInput,
    ) -> Result<MockKernel, EventError> {
        let mut kernel = MockKernel::empty();
        kernel.in_scope = event.in_scope;
        if let Some(AttrValue::Int(id)) = event.values.get("cgroup.id") {
            kernel.cgroup_id = *id;
        }
        let mut objects = Objects {
            inline_names: program.path_layout.and_then(|l| l.d_iname),
            ..Objects::default()
        };
        let mut endpoints: Vec<Access> = Vec::new();
        // Every flag's place, to check after all values are written that an integer value
        // sharing its bytes did not contradict it.
        let mut flags: Vec<(&str, usize, usize, usize, u64, bool)> = Vec::new();
        if let Some((access, value)) = &program.guard {
            objects.set_int(access, *value)?;
        }
        // Walked paths first: they build the dentries that other values may read through
        // (`owner.uid` of the dentry a path walks from).
        let (walked, others): (Vec<_>, Vec<_>) = program
            .values
            .iter()
            .partition(|v| matches!(v.kind, ValueKind::WalkedPath(_) | ValueKind::WorkloadId(..)));
        for value in walked.into_iter().chain(others) {
            let name = value.name;
            match &value.kind {
                ValueKind::Uid => kernel.uid = int(event, name)? as u32,
                ValueKind::Gid => kernel.gid = int(event, name)? as u32,
                ValueKind::Pid => kernel.pid = int(event, name)? as u32,
                ValueKind::Tgid => kernel.tgid = int(event, name)? as u32,
                ValueKind::Comm => kernel.comm = string(event, name)?,
                // A fact of the program, not of the event: `decide` picks the program whose
                // constants the event has.
                ValueKind::Const(_) | ValueKind::Absent(_) => {}
                ValueKind::Port(endpoint) | ValueKind::Addr(endpoint) => {
                    if !endpoints.contains(&endpoint.object) {
                        endpoints.push(endpoint.object.clone());
                        fill_endpoint(&mut objects, endpoint, event)?;
                    }
                    // The value itself must be given, as for every other kind.
                    if !event.values.contains_key(name) {
                        return Err(EventError::MissingAttribute(name));
                    }
                }
                ValueKind::Field(access) => objects.set_int(access, int(event, name)?)?,
                ValueKind::Flag { access, mask } => {
                    let on = flag(event, name)?;
                    let size = (access.size as usize).min(8);
                    let (o, at) = objects.place(access, size)?;
                    objects.claim(o, at, size, Claim::Flags)?;
                    flags.push((name, o, at, size, *mask, on));
                    let field = &mut objects.bytes[o][at..at + size];
                    let mut word = [0u8; 8];
                    word[..size].copy_from_slice(field);
                    let mut v = u64::from_le_bytes(word);
                    v = if on { v | mask } else { v & !mask };
                    field.copy_from_slice(&v.to_le_bytes()[..size]);
                }
                ValueKind::ResolvedPath(access) => {
                    let path = string(event, name)?;
                    let size = access.size as usize;
                    let (o, at) = objects.place(access, size)?;
                    objects.claim(o, at, size, Claim::Value)?;
                    if let Some(layout) = &program.path_layout {
                        objects.path_dentries(layout, name, (o, at), &path)?;
                    }
                    objects.paths.push((o, at, path));
                }
                ValueKind::KernelString(access) => {
                    let text = match event.values.get(name) {
                        None => None,
                        Some(AttrValue::Str(s)) => Some(s.clone()),
                        Some(_) => return Err(EventError::WrongType(name)),
                    };
                    let (o, at) = objects.place(access, 8)?;
                    objects.claim(o, at, 8, Claim::Pointer)?;
                    objects.strings.push((o, at, text));
                }
                ValueKind::WalkedPath(PathWalk::Kernfs(walk)) => {
                    let path = string(event, name)?;
                    let node = objects.kernfs_path(&walk.layout, name, &path)?;
                    objects.point(&walk.node, Some((node, 0)))?;
                }
                // Derived from the cgroup's path, which the kernel has: that is laid out (the
                // same nodes as the path's own value, when the program reads both).
                ValueKind::WorkloadId(_, walk) => {
                    let path = string(event, lang::catalog::CGROUP_PATH)?;
                    let node = objects.kernfs_path(&walk.layout, name, &path)?;
                    objects.point(&walk.node, Some((node, 0)))?;
                }
                ValueKind::WalkedPath(PathWalk::Dentry(walk)) => {
                    let path = string(event, name)?;
                    let start = objects.walked(&walk.layout, name, &path)?;
                    objects.point(&walk.dentry, start.map(|(dentry, _)| (dentry, 0)))?;
                    let mount = start.map(|(_, m)| (m, walk.layout.mount_mnt as usize));
                    objects.point(&walk.mnt, mount)?;
                }
                ValueKind::CommandLine { strings, count } => {
                    let block = string(event, name)?;
                    let argc = lang::cmdline::arguments(&block).len() as u64;
                    // The count is the kernel's `argc`: the event's, where it gives one, must
                    // be the number of arguments its command line holds.
                    if let Some(AttrValue::Int(given)) = event.values.get("argc") {
                        if *given != argc {
                            return Err(EventError::LayoutConflict(format!(
                                "`argc` is {given} and `{name}` holds {argc} arguments"
                            )));
                        }
                    }
                    let read_as_argc = program
                        .values
                        .iter()
                        .any(|v| v.kind == ValueKind::Field(count.clone()));
                    if !read_as_argc {
                        objects.set_int(count, argc)?;
                    }
                    let (o, at) = objects.place(strings, 8)?;
                    objects.claim(o, at, 8, Claim::Pointer)?;
                    // The environment follows the arguments, as in the new program's stack:
                    // a join that read past `argc` strings would show it.
                    let mut memory = block;
                    memory.extend_from_slice(b"PATH=/bin\0HOME=/\0");
                    objects.user.push((o, at, memory));
                }
                ValueKind::Chars(access) => {
                    let text = string(event, name)?;
                    let size = access.size as usize;
                    let (o, at) = objects.place(access, size)?;
                    objects.claim(o, at, size, Claim::Value)?;
                    let field = &mut objects.bytes[o][at..at + size];
                    field.fill(0);
                    let n = text.len().min(size);
                    field[..n].copy_from_slice(&text[..n]);
                }
            }
        }
        for (name, o, at, size, mask, on) in flags {
            let mut word = [0u8; 8];
            word[..size].copy_from_slice(&objects.bytes[o][at..at + size]);
            if (u64::from_le_bytes(word) & mask != 0) != on {
                return Err(EventError::LayoutConflict(format!(
                    "`{name}` disagrees with the integer value sharing its bytes"
                )));
            }
        }
        if let Some(parent) = parent {
            let placed = |access: &lang::checked::Access| {
                program.values.iter().any(|v| match &v.kind {
                    ValueKind::Field(a) | ValueKind::Chars(a) => a == access,
                    _ => false,
                })
            };
            if !placed(&parent.tgid) {
                let v = match event.values.get("parent.pid") {
                    Some(AttrValue::Int(v)) => *v,
                    _ => 0,
                };
                let size = (parent.tgid.size as usize).min(8);
                let (o, at) = objects.place(&parent.tgid, size)?;
                objects.claim(o, at, size, Claim::Value)?;
                objects.bytes[o][at..at + size].copy_from_slice(&v.to_le_bytes()[..size]);
            }
            if !placed(&parent.comm) {
                let text = match event.values.get("parent.comm") {
                    Some(AttrValue::Str(s)) => s.clone(),
                    _ => Vec::new(),
                };
                let size = parent.comm.size as usize;
                let (o, at) = objects.place(&parent.comm, size)?;
                objects.claim(o, at, size, Claim::Value)?;
                let field = &mut objects.bytes[o][at..at + size];
                field.fill(0);
                let n = text.len().min(size.saturating_sub(1));
                field[..n].copy_from_slice(&text[..n]);
            }
        }
        kernel.install(objects);
        for spec in maps {
            kernel.add_map(spec)?;
        }
        Ok(kernel)
    }

    /// Makes regions of the objects and writes the pointers between them.
    fn install(&mut self, mut objects: Objects) {
        let mut ids = Vec::new();
        // Strings get regions of their own: NUL terminated.
        let mut string_regions = Vec::new();
        for (o, at, text) in &objects.strings {
            let target = text.as_ref().map(|t| {
                let mut bytes = t.clone();
                bytes.push(0);
                self.memory.add(
                    RegionKind::Kernel(format!("string at {}+{at}", objects.names[*o])),
                    bytes,
                    false,
                )
            });
            string_regions.push((*o, *at, target));
        }
        // An exec's arguments: user memory, which only `bpf_probe_read_user_str` reads.
        for (o, at, bytes) in &objects.user {
            let region = self.memory.add(RegionKind::User, bytes.clone(), false);
            string_regions.push((*o, *at, Some(region)));
        }
        for (name, bytes) in objects.names.iter().zip(&objects.bytes) {
            // Keep every object at least one byte long so its address is a valid base.
            let mut bytes = bytes.clone();
            if bytes.is_empty() {
                bytes.push(GARBAGE);
            }
            ids.push(
                self.memory
                    .add(RegionKind::Kernel(name.clone()), bytes, false),
            );
        }
        let write = |memory: &mut Memory, object: usize, at: usize, value: u64| {
            if let Some(region) = memory.region_mut(ids[object]) {
                region.bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
            }
        };
        for (&(o, at), &child) in &objects.children {
            write(&mut self.memory, o, at, Memory::base(ids[child]));
        }
        for (o, at, target) in string_regions {
            write(&mut self.memory, o, at, target.map_or(0, Memory::base));
        }
        for (&(o, at), &(target, target_offset)) in &objects.links {
            write(
                &mut self.memory,
                o,
                at,
                Memory::base(ids[target]) + target_offset as u64,
            );
        }
        for (o, at, path) in objects.paths.drain(..) {
            self.paths.insert(Memory::base(ids[o]) + at as u64, path);
        }
        if let Some(task) = objects.task {
            self.task = Memory::base(ids[task]);
        }
        let args = objects.args.keys().max().map_or(0, |n| *n as usize + 1);
        // Arguments passed by value sit in the context object; pointer arguments are added.
        let mut ctx = objects
            .ctx
            .and_then(|o| self.memory.region(ids[o]).map(|r| r.bytes.clone()))
            .unwrap_or_default();
        // Whole 64-bit slots, as the kernel saves them.
        ctx.resize((ctx.len().div_ceil(8) * 8).max(8 * args.max(1)), GARBAGE);
        for (&n, &o) in &objects.args {
            let at = 8 * n as usize;
            ctx[at..at + 8].copy_from_slice(&Memory::base(ids[o]).to_le_bytes());
        }
        let ctx = self.memory.add(RegionKind::Context, ctx, false);
        self.ctx = Memory::base(ctx);
    }
}
