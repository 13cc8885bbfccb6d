# Sourced by scripts/mutants and scripts/escapes: the semantic tests, which decide whether a
# change to the compiler's meaning is caught. Snapshot and UI tests are not among them:
# snapshots are re-accepted by people, so a change that only moves a snapshot is not caught
# (the callers also set INSTA_FORCE_PASS, which neutralizes any snapshot assertion a semantic
# test makes).
# shellcheck shell=bash
SEMANTIC_PACKAGES=(-p krsic -p lang -p compiler)
SEMANTIC_TESTS=(--lib --test differential --test differential_sets --test differential_shapes
    --test encoding --test fault_injection --test glob_exhaustive --test generated_policies)
