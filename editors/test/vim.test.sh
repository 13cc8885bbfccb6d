#!/usr/bin/env bash
# Highlights krsi lines with editors/vim's syntax file in a headless Vim and checks the syntax
# group under each interesting word.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vim_dir=$(cd "$here/../vim" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# line | word | expected group
cat >"$work/cases" <<'CASES'
deny exec where path ~ "/tmp/**" and uid != 0|deny|krsiAction
deny exec where path ~ "/tmp/**" and uid != 0|where|krsiKeyword
deny exec where path ~ "/tmp/**" and uid != 0|**|krsiGlob
deny exec where path ~ "/tmp/**" and uid != 0|and|krsiOperator
deny exec where path ~ "/tmp/**" and uid != 0|!=|krsiComparison
deny exec where path ~ "/tmp/**" and uid != 0|0|krsiNumber
list world_writable = ["/tmp/**"]  # shared|list|krsiDefine
list world_writable = ["/tmp/**"]  # shared|# shared|krsiComment
deny open where path == "/etc/shadow" errno EACCES|EACCES|krsiConstant
deny connect where daddr in 10.0.0.0/8 and parent.comm != "sshd"|10.0.0.0/8|krsiAddress
deny connect where daddr in 10.0.0.0/8 and parent.comm != "sshd"|parent.comm|krsiAttribute
test exec { path: "/tmp/x", uid: 1000 } => deny EPERM|=>|krsiArrow
test exec { path: "/tmp/x", uid: 1000 } => deny EPERM|test|krsiKeyword
deny open where path ~ "/a\"b" and dir == true|\"|krsiEscape
deny open where path ~ "/a\"b" and dir == true|true|krsiBoolean
CASES

n=0
while IFS='|' read -r line word group; do
    printf '%s\n' "$line" >"$work/case.krsi"
    col=$(L="$line" W="$word" awk 'BEGIN { print index(ENVIRON["L"], ENVIRON["W"]) }')
    [ "$col" -gt 0 ] || { echo "vim test: '$word' not in '$line'" >&2; exit 1; }
    got=$(vim -es -u NONE -i NONE -N \
        -c "set runtimepath^=$vim_dir" -c 'syntax on' -c 'filetype on' \
        -c "edit $work/case.krsi" \
        -c "call writefile([&filetype . ' ' . synIDattr(synID(1, $col, 1), 'name')], '$work/out')" \
        -c 'qa!' </dev/null >/dev/null 2>&1; cat "$work/out")
    if [ "$got" != "krsi $group" ]; then
        echo "vim test: '$word' in '$line': expected 'krsi $group', got '$got'" >&2
        exit 1
    fi
    n=$((n + 1))
done <"$work/cases"
echo "vim syntax: $n checks passed"
