//! BTF resolution: whether the target kernel has each event's hook, and where each attribute's
//! value lives in the kernel's types (member chains, endpoints, the layouts a path walk reads).

use super::finding::{AccessStart, Finding};
use super::unreadable::{Owner, Pointer, Unreadable};
use super::Checker;
use crate::catalog::{self, Attribute, Event, HookVariant, Source};
use crate::checked::{
    Access, AccessBase, AttrId, DentryWalk, Endpoint, IndexStep, KernfsLayout, KernfsWalk,
    ParentAccess, PathLayout, PathWalk, ProcessRoot, ResolvedAttribute, VariantHook,
    VariantResolution, WalkLayout,
};
use crate::diagnostic::Diagnostic;
use crate::kernel::{KernelTypes, Param, TypeShape};
use crate::span::Span;

/// The struct `name` of `kernel`, for a walk's layout.
fn layout_struct(
    kernel: &dyn KernelTypes,
    name: &str,
) -> Result<crate::kernel::TypeId, Unreadable> {
    kernel
        .named_struct(name)
        .filter(|&id| matches!(kernel.shape(id), TypeShape::Struct { .. }))
        .ok_or_else(|| Unreadable::NoStruct(name.to_string()))
}

/// Member `name` of `ty` (struct `outer`), byte-aligned and no bitfield.
fn layout_member(
    kernel: &dyn KernelTypes,
    ty: crate::kernel::TypeId,
    outer: &'static str,
    name: &str,
) -> Result<crate::kernel::Member, Unreadable> {
    kernel
        .member(ty, name)
        .filter(|m| m.bitfield_bits == 0 && m.offset_bits % 8 == 0)
        .ok_or_else(|| Unreadable::NoMember {
            owner: Owner::Struct(outer),
            member: name.to_string(),
        })
}

/// The byte offset of member `m`, which must be a pointer (`what` names it).
fn layout_pointer(
    kernel: &dyn KernelTypes,
    m: crate::kernel::Member,
    what: &'static str,
) -> Result<u32, Unreadable> {
    match kernel.shape(m.ty) {
        TypeShape::Pointer { .. } => Ok(m.offset_bits / 8),
        other => Err(Unreadable::NotPointer {
            what: Pointer::Member(what),
            shape: Some(other),
        }),
    }
}

impl KernfsLayout {
    /// Resolves the kernfs walk's members against `kernel`. Linux 6.15 renamed
    /// `kernfs_node.parent` to `__parent` (an RCU-protected pointer, same meaning): either
    /// is taken.
    pub fn resolve(kernel: &dyn KernelTypes) -> Result<KernfsLayout, Unreadable> {
        let node = layout_struct(kernel, "kernfs_node")?;
        let parent = layout_member(kernel, node, "kernfs_node", "parent")
            .or_else(|_| layout_member(kernel, node, "kernfs_node", "__parent"))?;
        let name = layout_member(kernel, node, "kernfs_node", "name")?;
        Ok(KernfsLayout {
            parent: layout_pointer(kernel, parent, "kernfs_node.parent")?,
            name: layout_pointer(kernel, name, "kernfs_node.name")?,
        })
    }
}

impl WalkLayout {
    /// Resolves the walk's members against `kernel`; the error names what is missing.
    pub fn resolve(kernel: &dyn KernelTypes) -> Result<WalkLayout, Unreadable> {
        let find = |name: &str| layout_struct(kernel, name);
        let member = |ty, outer: &'static str, name: &str| layout_member(kernel, ty, outer, name);
        let pointer =
            |m: crate::kernel::Member, what: &'static str| layout_pointer(kernel, m, what);
        let dentry = find("dentry")?;
        let mount = find("mount")?;
        let vfsmount = find("vfsmount")?;
        let d_name = member(dentry, "dentry", "d_name")?;
        let len = member(d_name.ty, "qstr", "len")?;
        if !matches!(kernel.shape(len.ty), TypeShape::Int { bytes: 4, .. }) {
            return Err(Unreadable::WrongType {
                what: "dentry.d_name.len",
                expected: "a 32-bit integer",
            });
        }
        let name = member(d_name.ty, "qstr", "name")?;
        let mnt = member(mount, "mount", "mnt")?;
        if kernel.shape(mnt.ty) != kernel.shape(vfsmount) {
            return Err(Unreadable::WrongType {
                what: "mount.mnt",
                expected: "a `struct vfsmount`",
            });
        }
        Ok(WalkLayout {
            d_parent: pointer(member(dentry, "dentry", "d_parent")?, "dentry.d_parent")?,
            d_name_len: d_name.offset_bits / 8 + len.offset_bits / 8,
            d_name_name: d_name.offset_bits / 8 + pointer(name, "dentry.d_name.name")?,
            mount_mnt: mnt.offset_bits / 8,
            mnt_parent: pointer(member(mount, "mount", "mnt_parent")?, "mount.mnt_parent")?,
            mnt_mountpoint: pointer(
                member(mount, "mount", "mnt_mountpoint")?,
                "mount.mnt_mountpoint",
            )?,
            mnt_root: pointer(
                member(vfsmount, "vfsmount", "mnt_root")?,
                "vfsmount.mnt_root",
            )?,
        })
    }
}

impl PathLayout {
    /// Resolves `struct path`'s members and the walk's against `kernel`.
    pub fn resolve(kernel: &dyn KernelTypes) -> Result<PathLayout, Unreadable> {
        let path = layout_struct(kernel, "path")?;
        let member = |name: &str| layout_member(kernel, path, "path", name);
        // `d_iname`, a byte array, until Linux 6.14; since then `d_shortname.string`, the
        // same bytes in a union with words.
        let bytes = |m: crate::kernel::Member, at: u32| match kernel.shape(m.ty) {
            TypeShape::Array { element, len }
                if matches!(kernel.shape(element), TypeShape::Int { bytes: 1, .. }) =>
            {
                Some((at + m.offset_bits / 8, len))
            }
            _ => None,
        };
        let d_iname = layout_struct(kernel, "dentry").ok().and_then(|dentry| {
            let member = |name: &str| layout_member(kernel, dentry, "dentry", name).ok();
            match member("d_iname") {
                Some(m) => bytes(m, 0),
                None => {
                    let store = member("d_shortname")?;
                    let string = layout_member(kernel, store.ty, "shortname_store", "string");
                    bytes(string.ok()?, store.offset_bits / 8)
                }
            }
        });
        let process_root = (|| {
            let task = layout_struct(kernel, "task_struct").ok()?;
            let fs = layout_member(kernel, task, "task_struct", "fs").ok()?;
            let fs_struct = layout_struct(kernel, "fs_struct").ok()?;
            let root = layout_member(kernel, fs_struct, "fs_struct", "root").ok()?;
            (kernel.shape(root.ty) == kernel.shape(path)).then_some(())?;
            Some(ProcessRoot {
                task_fs: layout_pointer(kernel, fs, "task_struct.fs").ok()?,
                fs_root: root.offset_bits / 8,
            })
        })();
        Ok(PathLayout {
            dentry: layout_pointer(kernel, member("dentry")?, "path.dentry")?,
            mnt: layout_pointer(kernel, member("mnt")?, "path.mnt")?,
            walk: WalkLayout::resolve(kernel)?,
            d_iname,
            process_root,
        })
    }
}

pub(super) fn parent_access(kernel: &dyn KernelTypes) -> Option<ParentAccess> {
    let tgid = catalog::PROCESS_ATTRIBUTES
        .iter()
        .find(|a| a.name == "parent.pid")?;
    let comm = catalog::PROCESS_ATTRIBUTES
        .iter()
        .find(|a| a.name == "parent.comm")?;
    let resolve = |attribute: &Attribute| {
        let (_, members) = attribute.source.chain()?;
        resolve_access(kernel, &[], None, members, &attribute.source).ok()
    };
    Some(ParentAccess {
        tgid: resolve(tgid)?,
        comm: resolve(comm)?,
    })
}

impl Checker<'_> {
    /// The parameters of `hook` on the target kernel, `None` when it lacks the hook.
    fn hook_params(&mut self, hook: &'static str) -> Option<Vec<Param>> {
        let kernel = self.kernel;
        self.hooks
            .entry(hook)
            .or_insert_with(|| kernel.hook_params(hook))
            .clone()
    }

    /// Whether the target kernel has the hooks the event needs; reports it when not. Records
    /// each of the event's other hooks the kernel has ([`VariantHook`]).
    pub(super) fn hook(&mut self, event: &'static Event, span: Span) -> bool {
        let kernel = self.kernel;
        if self.hook_params(event.hook).is_none() {
            self.report(Finding::HookMissing {
                kernel: kernel.describe(),
                hook: event.hook,
                event: event.name,
                span,
            });
            return false;
        }
        for variant in event.variants {
            if self
                .variant_hooks
                .iter()
                .any(|v| std::ptr::eq(v.variant, variant))
            {
                continue;
            }
            let Some(params) = self.hook_params(variant.hook) else {
                match variant.availability {
                    catalog::Availability::Required => {
                        self.report(Finding::HookMissing {
                            kernel: kernel.describe(),
                            hook: variant.hook,
                            event: event.name,
                            span,
                        });
                        return false;
                    }
                    // Older kernels route these operations through the event's own hook.
                    catalog::Availability::Since(_) => continue,
                }
            };
            let guard = match variant.only_when {
                None => None,
                Some((param, value)) => {
                    let source = Source::by_value(param);
                    match resolve_access(kernel, &params, Some(param), &[], &source) {
                        Ok(access) => Some((access, value)),
                        Err(reason) => {
                            self.report(Finding::GuardUnreadable {
                                event: event.name,
                                hook: variant.hook,
                                kernel: kernel.describe(),
                                reason,
                                span,
                            });
                            return false;
                        }
                    }
                }
            };
            self.variant_hooks.push(VariantHook {
                event,
                variant,
                guard,
            });
        }
        true
    }

    pub(super) fn resolve_attribute(
        &mut self,
        event: &'static Event,
        attribute: &'static Attribute,
        span: Span,
    ) -> Option<AttrId> {
        if let Some(known) = self.attribute_ids.get(&(event.name, attribute.name)) {
            return *known;
        }
        let id = self.resolve_on_every_hook(event, attribute, span);
        self.attribute_ids.insert((event.name, attribute.name), id);
        // The command line reads its count from another attribute of the event (`argc`):
        // resolved with it, so that the compiler finds it among the policy's attributes.
        if let Source::CommandLine { count, .. } = attribute.source {
            let count = event.attribute(count)?;
            self.resolve_attribute(event, count, span)?;
        }
        id
    }

    /// `attribute` of `event` as a rule resolved it, if one did.
    pub(super) fn resolved(
        &self,
        event: &'static Event,
        attribute: &'static Attribute,
    ) -> Option<&ResolvedAttribute> {
        let id = (*self.attribute_ids.get(&(event.name, attribute.name))?)?;
        self.attributes.get(id.0 as usize)
    }

    /// Resolves `attribute` on the event's own hook and on each of its other hooks the
    /// kernel has where the attribute is read from that hook's parameters.
    fn resolve_on_every_hook(
        &mut self,
        event: &'static Event,
        attribute: &'static Attribute,
        span: Span,
    ) -> Option<AttrId> {
        let params = self.hooks.get(event.hook).cloned().flatten();
        let (access, walk, endpoint) =
            self.resolve_source(attribute, attribute.source, params, span)?;
        let variants: Vec<&'static HookVariant> = self
            .variant_hooks
            .iter()
            .filter(|v| std::ptr::eq(v.event, event))
            .map(|v| v.variant)
            .collect();
        let mut on_variants = Vec::new();
        for variant in variants {
            let source = variant
                .sources
                .iter()
                .find(|(name, _)| *name == attribute.name)
                .map(|(_, source)| *source);
            let Some(source) = source.filter(|s| !matches!(s, Source::Constant(_))) else {
                continue;
            };
            let params = self.hooks.get(variant.hook).cloned().flatten();
            let (access, walk, endpoint) = self.resolve_source(attribute, source, params, span)?;
            on_variants.push(VariantResolution {
                hook: variant.hook,
                access,
                walk,
                endpoint,
            });
        }
        let id = AttrId(self.attributes.len() as u32);
        self.attributes.push(ResolvedAttribute {
            event,
            attribute,
            access,
            walk,
            endpoint,
            on_variants,
        });
        Some(id)
    }

    /// Where `source` (the source of `attribute` on a hook with `params`, `None` when the
    /// kernel lacks the hook) lives: an access, a walk or an endpoint. `None` when it cannot
    /// be read, reported here, or when the hook is missing, reported once on the rule.
    fn resolve_source(
        &mut self,
        attribute: &'static Attribute,
        source: Source,
        params: Option<Vec<Param>>,
        span: Span,
    ) -> Option<(Option<Access>, Option<PathWalk>, Option<Endpoint>)> {
        if let Source::WalkedPath { dentry, mnt, .. } = source {
            return self
                .resolve_walk(attribute, source, span, params, dentry, mnt)
                .map(|walk| (None, Some(walk), None));
        }
        if let Source::KernfsPath { members } | Source::WorkloadId { members, .. } = source {
            return self
                .resolve_kernfs_walk(attribute, source, span, members)
                .map(|walk| (None, Some(walk), None));
        }
        let resolved = match (source.chain(), params) {
            (None, params) => match source {
                Source::Endpoint { param, holder, .. } => {
                    let params = params?;
                    resolve_endpoint(self.kernel, &params, param, holder).map(|e| (None, Some(e)))
                }
                _ => Ok((None, None)),
            },
            // The hook itself is missing; that is reported once, on the rule.
            (Some((Some(_), _)), None) => return None,
            (Some((param, members)), params) => resolve_access(
                self.kernel,
                params.as_deref().unwrap_or(&[]),
                param,
                members,
                &source,
            )
            .map(|access| (Some(access), None)),
        };
        match resolved {
            Ok((access, endpoint)) => Some((access, None, endpoint)),
            Err(reason) => {
                let reads = AccessStart::Reads(source.describe_chain());
                self.access_path_invalid(attribute, span, reads, reason);
                None
            }
        }
    }

    /// E0302: the target kernel's types do not have what `attribute` reads.
    fn access_path_invalid(
        &mut self,
        attribute: &Attribute,
        span: Span,
        reads: AccessStart,
        reason: Unreadable,
    ) {
        self.report(Finding::AccessPathInvalid {
            attribute: attribute.name,
            kernel: self.kernel.describe(),
            reads,
            reason,
            span,
        });
    }

    /// Resolves a kernfs path: the chain from the current task to its node, and the layout.
    fn resolve_kernfs_walk(
        &mut self,
        attribute: &'static Attribute,
        source: Source,
        span: Span,
        members: &'static [&'static str],
    ) -> Option<PathWalk> {
        let node = match resolve_access(self.kernel, &[], None, members, &source) {
            Ok(node) => node,
            Err(reason) => {
                let reads = AccessStart::WalkFrom(source.describe_chain());
                self.access_path_invalid(attribute, span, reads, reason);
                return None;
            }
        };
        match KernfsLayout::resolve(self.kernel) {
            Ok(layout) => Some(PathWalk::Kernfs(KernfsWalk { node, layout })),
            Err(reason) => {
                self.report(Finding::PathWalkUnavailable {
                    attribute: attribute.name,
                    kernel: self.kernel.describe(),
                    start: source.describe_chain(),
                    reason,
                    span,
                });
                None
            }
        }
    }

    /// Resolves a walked path: both start chains and the walk's layout.
    fn resolve_walk(
        &mut self,
        attribute: &'static Attribute,
        source: Source,
        span: Span,
        params: Option<Vec<Param>>,
        dentry: catalog::Chain,
        mnt: catalog::Chain,
    ) -> Option<PathWalk> {
        // A missing hook is reported once, on the rule.
        let params = params.or_else(|| (dentry.param.is_none()).then(Vec::new))?;
        let chain_text = |chain: catalog::Chain| {
            let mut text = chain.param.unwrap_or("current").to_string();
            for member in chain.members {
                text.push_str("->");
                text.push_str(member);
            }
            text
        };
        let resolve = |chain: catalog::Chain| {
            resolve_access(self.kernel, &params, chain.param, chain.members, &source)
                .map_err(|reason| (chain, reason))
        };
        let starts = resolve(dentry).and_then(|d| Ok((d, resolve(mnt)?)));
        match (starts, WalkLayout::resolve(self.kernel)) {
            (Ok((dentry, mnt)), Ok(layout)) => Some(PathWalk::Dentry(DentryWalk {
                dentry,
                mnt,
                cap: match source {
                    Source::WalkedPath { cap, .. } => cap,
                    _ => crate::limits::STRING_CAP,
                },
                layout,
            })),
            (Err((chain, reason)), _) => {
                let reads = AccessStart::WalkFrom(chain_text(chain));
                self.access_path_invalid(attribute, span, reads, reason);
                None
            }
            (Ok(_), Err(reason)) => {
                self.report(Finding::PathWalkUnavailable {
                    attribute: attribute.name,
                    kernel: self.kernel.describe(),
                    start: chain_text(dentry),
                    reason,
                    span,
                });
                None
            }
        }
    }
}

/// The parameters of `event`'s LSM hook on `kernel`, or the [`Code::HookMissing`](crate::diagnostic::Code::HookMissing) error (on
/// `span`, the event's name in a rule) naming the hook and the kernel.
pub fn hook_availability(
    kernel: &dyn KernelTypes,
    event: &Event,
    span: Span,
) -> Result<Vec<Param>, Box<Diagnostic>> {
    kernel.hook_params(event.hook).ok_or_else(|| {
        let missing = Finding::HookMissing {
            kernel: kernel.describe(),
            hook: event.hook,
            event: event.name,
            span,
        };
        Box::new(missing.diagnostic())
    })
}

/// Follows `members` from hook parameter `param` (or the current task) through the kernel's
/// types. A member that is a pointer is loaded before the next member is looked up in what it
/// points to; an embedded struct just adds its offset.
pub fn resolve_access(
    kernel: &dyn KernelTypes,
    params: &[Param],
    param: Option<&str>,
    members: &[&str],
    source: &Source,
) -> Result<Access, Unreadable> {
    let (base, start) = match param {
        Some(name) => {
            let Some((index, p)) = params.iter().enumerate().find(|(_, p)| p.name == name) else {
                return Err(no_parameter(name, params));
            };
            if members.is_empty() {
                // The argument itself: its 64-bit context slot.
                return Ok(Access {
                    base: AccessBase::Context,
                    derefs: Vec::new(),
                    offset: 8 * index as u32,
                    size: final_size(kernel, source, p.ty, name)?,
                    index: None,
                });
            }
            (AccessBase::Param(index as u32), p.ty)
        }
        None => match kernel.named_struct("task_struct") {
            // bpf_get_current_task_btf returns a pointer to it; start inside.
            Some(task) => (AccessBase::CurrentTask, task),
            None => return Err(Unreadable::NoStruct("task_struct".into())),
        },
    };
    let mut base = base;
    let mut offset = 0u32;
    let mut current = match (base, kernel.shape(start)) {
        (AccessBase::CurrentTask | AccessBase::Context, _) => start,
        (_, TypeShape::Pointer { to }) => to,
        // A small struct passed by value (`kuid_t`): its members are in the context slot.
        (AccessBase::Param(index), TypeShape::Struct { bytes, .. }) if bytes <= 8 => {
            base = AccessBase::Context;
            offset = 8 * index;
            start
        }
        (_, other) => {
            return Err(Unreadable::NotPointer {
                what: Pointer::Parameter(param.unwrap_or("?").to_string()),
                shape: Some(other),
            })
        }
    };
    let mut derefs = Vec::new();
    let mut walked = param.unwrap_or("current").to_string();
    let mut final_ty = current;
    let mut index = None;
    for (i, member) in members.iter().enumerate() {
        let shape = kernel.shape(current);
        if !matches!(shape, TypeShape::Struct { .. } | TypeShape::Union { .. }) {
            return Err(Unreadable::NotStruct { walked, shape });
        }
        // `array[index]`: an element of `array`, at the position member `index` of the same
        // struct holds (`numbers[level]`).
        let (member_name, indexed_by) = match member.split_once('[') {
            Some((array, rest)) if rest.ends_with(']') && index.is_none() => {
                (array, Some(&rest[..rest.len() - 1]))
            }
            _ => (*member, None),
        };
        if let Some(index_name) = indexed_by {
            let step = index_step(kernel, current, index_name, &walked, derefs.len(), offset)?;
            let Some(array) = kernel.member(current, member_name) else {
                return Err(Unreadable::NoMember {
                    owner: Owner::Shape(shape),
                    member: member_name.to_string(),
                });
            };
            let TypeShape::Array { element, .. } = kernel.shape(array.ty) else {
                return Err(Unreadable::WrongType {
                    what: "an indexed member",
                    expected: "an array",
                });
            };
            let stride = match kernel.shape(element) {
                TypeShape::Struct { bytes, .. } | TypeShape::Int { bytes, .. } => bytes,
                TypeShape::Pointer { .. } => 8,
                _ => {
                    return Err(Unreadable::WrongType {
                        what: "an indexed array's element",
                        expected: "a struct, an integer or a pointer",
                    })
                }
            };
            if array.bitfield_bits != 0 || array.offset_bits % 8 != 0 || i + 1 == members.len() {
                return Err(Unreadable::Bitfield(format!("{walked}->{member}")));
            }
            offset += array.offset_bits / 8;
            walked = format!("{walked}->{member}");
            index = Some(IndexStep { stride, ..step });
            current = element;
            continue;
        }
        let Some(member) = kernel.member(current, member_name) else {
            return Err(Unreadable::NoMember {
                owner: Owner::Shape(shape),
                member: member_name.to_string(),
            });
        };
        if member.bitfield_bits != 0 || member.offset_bits % 8 != 0 {
            return Err(Unreadable::Bitfield(format!("{walked}->{member_name}")));
        }
        offset += member.offset_bits / 8;
        walked = format!("{walked}->{member_name}");
        let is_last = i + 1 == members.len();
        match kernel.shape(member.ty) {
            TypeShape::Pointer { to } if !is_last => {
                derefs.push(offset);
                offset = 0;
                current = to;
            }
            _ if !is_last => current = member.ty,
            _ => final_ty = member.ty,
        }
    }
    // The code generator and the offline machine follow an indexed step for an integer of
    // the current task only.
    if index.is_some() && !matches!(source, Source::TaskInt { .. }) {
        return Err(Unreadable::WrongType {
            what: "a chain with an indexed step",
            expected: "an integer of the current task",
        });
    }
    let size = final_size(kernel, source, final_ty, &walked)?;
    Ok(Access {
        base,
        derefs,
        offset,
        size,
        index,
    })
}

/// The indexed step of a chain at struct `holder` (reached through `after` pointers, at
/// `offset` from the last), whose member `name` is the index; the stride is the caller's.
fn index_step(
    kernel: &dyn KernelTypes,
    holder: crate::kernel::TypeId,
    name: &str,
    walked: &str,
    after: usize,
    offset: u32,
) -> Result<IndexStep, Unreadable> {
    let Some(member) = kernel.member(holder, name) else {
        return Err(Unreadable::NoMember {
            owner: Owner::Shape(kernel.shape(holder)),
            member: name.to_string(),
        });
    };
    if member.bitfield_bits != 0 || member.offset_bits % 8 != 0 {
        return Err(Unreadable::Bitfield(format!("{walked}->{name}")));
    }
    let TypeShape::Int { bytes, .. } = kernel.shape(member.ty) else {
        return Err(Unreadable::WrongType {
            what: "an array's index",
            expected: "an integer",
        });
    };
    Ok(IndexStep {
        after,
        index: offset + member.offset_bits / 8,
        index_size: bytes,
        stride: 0,
    })
}

/// How many bytes an attribute of `source` reads at the end of its chain, a value of type
/// `final_ty`; an error when that type is not one the source can read.
fn final_size(
    kernel: &dyn KernelTypes,
    source: &Source,
    final_ty: crate::kernel::TypeId,
    walked: &str,
) -> Result<u32, Unreadable> {
    let shape = kernel.shape(final_ty);
    let size = match (source, &shape) {
        (Source::KernfsPath { .. } | Source::WorkloadId { .. }, TypeShape::Pointer { to }) => {
            match kernel.shape(*to) {
                TypeShape::Struct { name, .. } | TypeShape::Opaque { name }
                    if name == "kernfs_node" =>
                {
                    8
                }
                other => {
                    return Err(Unreadable::PointsTo {
                        walked: walked.to_string(),
                        shape: other,
                        expected: "a kernfs node",
                    })
                }
            }
        }
        (Source::WalkedPath { .. }, TypeShape::Pointer { to }) => match kernel.shape(*to) {
            TypeShape::Struct { name, .. } | TypeShape::Opaque { name }
                if name == "dentry" || name == "vfsmount" =>
            {
                8
            }
            other => {
                return Err(Unreadable::PointsTo {
                    walked: walked.to_string(),
                    shape: other,
                    expected: "a dentry or a mount",
                })
            }
        },
        (Source::ResolvedPath { .. }, TypeShape::Struct { name, bytes }) if name == "path" => {
            *bytes
        }
        (Source::KernelString { .. }, TypeShape::Pointer { to }) => match kernel.shape(*to) {
            TypeShape::Int { bytes: 1, .. } => 8,
            other => {
                return Err(Unreadable::PointsTo {
                    walked: walked.to_string(),
                    shape: other,
                    expected: "characters",
                })
            }
        },
        (
            Source::TaskChars { .. } | Source::ParamChars { .. },
            TypeShape::Array { element, len },
        ) => match kernel.shape(*element) {
            TypeShape::Int { bytes: 1, .. } => *len,
            other => {
                return Err(Unreadable::NotCharacters {
                    walked: walked.to_string(),
                    shape: other,
                })
            }
        },
        (
            Source::Flag { .. } | Source::TaskInt { .. } | Source::Int { .. },
            TypeShape::Int { bytes, .. } | TypeShape::Enum { bytes },
        ) if matches!(bytes, 1 | 2 | 4 | 8) => *bytes,
        // `bprm->p` is an `unsigned long`: the user address of the first argument.
        (Source::CommandLine { .. }, TypeShape::Int { bytes: 8, .. }) => 8,
        // `kernel_cap_t` (`struct kernel_cap_struct` before 6.3, an anonymous struct since):
        // known by its layout, since its name changed.
        (Source::TaskInt { .. }, TypeShape::Struct { bytes: 8, .. })
            if capability_bits_in_order(kernel, final_ty) =>
        {
            8
        }
        _ => {
            return Err(Unreadable::CannotRead {
                walked: walked.to_string(),
                shape,
            })
        }
    };
    Ok(size)
}

/// Whether a `kernel_cap_t` holds capability `n` in bit `n` of its 8 bytes read as one
/// little-endian word. Linux 6.3 made it `{ u64 val; }`; before, it was `{ u32 cap[2]; }`
/// with capabilities 0-31 in `cap[0]` and 32-63 in `cap[1]`, the same bits in memory. Any
/// other layout is refused rather than read wrong.
fn capability_bits_in_order(kernel: &dyn KernelTypes, cap_t: crate::kernel::TypeId) -> bool {
    if let Some(val) = kernel.member(cap_t, "val") {
        return val.offset_bits == 0
            && matches!(kernel.shape(val.ty), TypeShape::Int { bytes: 8, .. });
    }
    let Some(cap) = kernel.member(cap_t, "cap") else {
        return false;
    };
    match kernel.shape(cap.ty) {
        TypeShape::Array { element, len: 2 } => {
            cap.offset_bits == 0 && matches!(kernel.shape(element), TypeShape::Int { bytes: 4, .. })
        }
        _ => false,
    }
}

/// Where the endpoint held by hook parameter `param` keeps its family, port and address, from
/// the kernel's own structs.
pub fn resolve_endpoint(
    kernel: &dyn KernelTypes,
    params: &[Param],
    param: &str,
    holder: catalog::EndpointHolder,
) -> Result<Endpoint, Unreadable> {
    let Some((index, p)) = params.iter().enumerate().find(|(_, p)| p.name == param) else {
        return Err(no_parameter(param, params));
    };
    let TypeShape::Pointer { to } = kernel.shape(p.ty) else {
        return Err(Unreadable::NotPointer {
            what: Pointer::Parameter(param.to_string()),
            shape: None,
        });
    };
    // A member of `ty` at a whole byte offset whose type is `bytes` long.
    let member = |ty: u32, owner: &'static str, name: &str, bytes: u32| {
        let m = kernel
            .member(ty, name)
            .ok_or_else(|| Unreadable::NoMember {
                owner: Owner::Named(owner),
                member: name.to_string(),
            })?;
        if m.bitfield_bits != 0 || m.offset_bits % 8 != 0 {
            return Err(Unreadable::Bitfield(format!("{owner}.{name}")));
        }
        let size = match kernel.shape(m.ty) {
            TypeShape::Int { bytes, .. } | TypeShape::Enum { bytes } => bytes,
            TypeShape::Struct { bytes, .. } | TypeShape::Union { bytes, .. } => bytes,
            _ => 0,
        };
        if size != bytes {
            return Err(Unreadable::WrongSize {
                member: format!("{owner}.{name}"),
                bytes,
            });
        }
        Ok(m.offset_bits / 8)
    };
    let named = |name: &str| {
        kernel
            .named_struct(name)
            .ok_or_else(|| Unreadable::NoStruct(name.to_string()))
    };
    match holder {
        catalog::EndpointHolder::SockAddr => {
            let sin = named("sockaddr_in")?;
            let sin6 = named("sockaddr_in6")?;
            Ok(Endpoint {
                object: Access {
                    base: AccessBase::Param(index as u32),
                    derefs: Vec::new(),
                    offset: 0,
                    size: 0,
                    index: None,
                },
                family: member(to, "sockaddr", "sa_family", 2)?,
                v4_port: member(sin, "sockaddr_in", "sin_port", 2)?,
                v6_port: member(sin6, "sockaddr_in6", "sin6_port", 2)?,
                v4_addr: member(sin, "sockaddr_in", "sin_addr", 4)?,
                v6_addr: member(sin6, "sockaddr_in6", "sin6_addr", 16)?,
                port_network_order: true,
            })
        }
        catalog::EndpointHolder::SocketLocal => {
            let sk = kernel
                .member(to, "sk")
                .ok_or_else(|| Unreadable::NoMember {
                    owner: Owner::Named("socket"),
                    member: "sk".into(),
                })?;
            let TypeShape::Pointer { to: sock } = kernel.shape(sk.ty) else {
                return Err(Unreadable::NotPointer {
                    what: Pointer::Member("socket.sk"),
                    shape: None,
                });
            };
            let common =
                kernel
                    .member(sock, "__sk_common")
                    .ok_or_else(|| Unreadable::NoMember {
                        owner: Owner::Named("sock"),
                        member: "__sk_common".into(),
                    })?;
            let common_ty = named("sock_common")?;
            Ok(Endpoint {
                object: Access {
                    base: AccessBase::Param(index as u32),
                    derefs: vec![sk.offset_bits / 8],
                    offset: common.offset_bits / 8,
                    size: 0,
                    index: None,
                },
                family: member(common_ty, "sock_common", "skc_family", 2)?,
                v4_port: member(common_ty, "sock_common", "skc_num", 2)?,
                v6_port: member(common_ty, "sock_common", "skc_num", 2)?,
                v4_addr: member(common_ty, "sock_common", "skc_rcv_saddr", 4)?,
                v6_addr: member(common_ty, "sock_common", "skc_v6_rcv_saddr", 16)?,
                port_network_order: false,
            })
        }
    }
}

/// The hook has no parameter `name`: the error names those it has.
fn no_parameter(name: &str, params: &[Param]) -> Unreadable {
    Unreadable::NoParameter {
        name: name.to_string(),
        params: params.iter().map(|p| p.name.clone()).collect(),
    }
}
