//! Property: `Btf::parse` never panics and neither does anything asked of what it parsed. The
//! lookups the checker makes (hooks, structs, members, shapes), the reader's own walks
//! (names, sizes, members) and the checker itself over the examples all finish without a
//! panic, however the type graph is shaped (cycles, dangling ids, huge sizes).

#![no_main]

use compiler::btf::Btf;
use compiler::ir::{Scope, Target};
use lang::kernel::{KernelTypes, TypeShape};
use libfuzzer_sys::fuzz_target;

/// Policies that reach every hook and struct the catalog reads.
const POLICIES: [&str; 2] = [
    include_str!("../../examples/deny-tmp-exec.krsi"),
    include_str!("../../examples/protect-shadow.krsi"),
];

/// Follows a type the way the checker does: through pointers, into members, a few steps deep.
fn walk(btf: &Btf, ty: u32, depth: u32) {
    if depth == 0 {
        return;
    }
    let _ = btf.type_name(ty);
    let _ = btf.size_of(ty);
    let _ = btf.strip(ty);
    match btf.shape(ty) {
        TypeShape::Pointer { to } => walk(btf, to, depth - 1),
        TypeShape::Array { element, .. } => walk(btf, element, depth - 1),
        TypeShape::Struct { .. } | TypeShape::Union { .. } => {
            for name in [
                "f_path",
                "f_mode",
                "real_parent",
                "cred",
                "comm",
                "tgid",
                "val",
            ] {
                if let Some(member) = btf.member(ty, name) {
                    walk(btf, member.ty, depth - 1);
                }
            }
            for (_, member) in btf.members(ty).into_iter().take(8) {
                walk(btf, member.ty, depth - 1);
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(btf) = Btf::parse(data) else {
        return;
    };
    let count = btf.type_count();
    for hook in ["file_open", "bprm_check_security"] {
        for param in btf.hook_params(hook).unwrap_or_default() {
            walk(&btf, param.ty, 4);
        }
    }
    if let Some(task) = btf.named_struct("task_struct") {
        walk(&btf, task, 4);
    }
    for name in ["file", "linux_binprm", "cred", "path"] {
        let _ = btf.find_struct(name);
        let _ = btf.find_type(name);
    }
    let _ = btf.lsm_hooks().take(64).count();
    // The first ids, the last ones and a few past the end.
    for id in (0..count.min(16)).chain(count.saturating_sub(4)..count.saturating_add(2)) {
        walk(&btf, id, 2);
        let _ = btf.member(id, "f_path");
    }
    // Checked against a strange kernel, a policy may still compile or fail with an error;
    // only a panic is a finding.
    for policy in POLICIES {
        let (checked, _) = lang::front_end(policy, &btf);
        for scope in [Scope::Global, Scope::Cgroup] {
            if let Some(checked) = &checked {
                let _ = compiler::compile(checked, Target::new(scope));
            }
        }
    }
});
