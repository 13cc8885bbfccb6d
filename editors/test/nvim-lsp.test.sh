#!/usr/bin/env bash
# Runs nvim-lsp.lua: `krsic lsp` as Neovim's LSP client sees it.
#   KRSIC=path/to/krsic editors/test/nvim-lsp.test.sh   (default: target/debug/krsic)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'list shells = ["/bin/sh"]\ndeny exec where path in shells and uid != 0 errno EACCESS\n' >"$work/p.krsi"

cd "$work"
KRSIC=${KRSIC:-$repo/target/debug/krsic} KRSI_BTF=$repo/tests/fixtures/btf/host-6.18.btf \
    KRSI_POLICY=$work/p.krsi KRSI_NVIM_OUT=$work/out \
    timeout 60 nvim --headless -u NONE -i NONE -n -c "luafile $here/nvim-lsp.lua" >/dev/null 2>&1 || true
[ -s "$work/out" ] || { echo "nvim lsp test: Neovim wrote no results" >&2; exit 1; }

fail=0
checks=0
expect() {
    local key=$1 pattern=$2 value
    checks=$((checks + 1))
    value=$(awk -F'\t' -v k="$key" '$1 == k { print $2 }' "$work/out")
    if [[ ! "$value" =~ $pattern ]]; then
        echo "nvim lsp test: $key is '$value', expected /$pattern/" >&2
        fail=1
    fi
}
expect client '^true$'
expect errors_arrived '^true$'
expect error_range '^1:50-1:57$'
expect error_code '^E0106$'
expect error_message 'did you mean `EACCES`'
expect hover '^`path`'
expect completion '(^|,)path(,|$)'
expect completion '(^|,)shells(,|$)'
expect definition '^0:5$'
expect cleared '^true$'
[ "$fail" = 0 ] || { cat "$work/out" >&2; exit 1; }
echo "neovim lsp client: $checks checks passed"
