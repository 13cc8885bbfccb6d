# Sourced by scripts/mutants and scripts/escapes: the semantic tests, which decide whether a
# change to the compiler's meaning is caught. Snapshot and UI tests are not among them:
# snapshots are re-accepted by people, so a change that only moves a snapshot is not caught
# (the callers also set INSTA_FORCE_PASS, which neutralizes any snapshot assertion a semantic
# test makes).
# shellcheck shell=bash
SEMANTIC_PACKAGES=(-p krsic -p lang -p compiler)
SEMANTIC_TESTS=(--lib --test differential --test differential_sets --test differential_shapes
    --test diff --test encoding --test fault_injection --test glob_exhaustive --test generated_policies
    --test kill)
# cargo-mutants runs every mutant's tests with INSTA_FORCE_PASS=0, whatever the caller set, so
# under it the unit tests that assert snapshots are left out by name instead (a nextest
# filter): the opcode table's and the disassembler's snapshots, the human rendering of a
# diagnostic, and the parser's tests (snapshots of its reports; the parser is not mutated).
SEMANTIC_NEXTEST_FILTER='not ((package(compiler) & (test(=bpf::opcode::tests::table_snapshot) | test(=bpf::disasm::tests::snapshot_of_a_small_program))) | (package(lang) & (test(=render::tests::human) | test(/^syntax::tests::/))))'
