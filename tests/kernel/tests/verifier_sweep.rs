//! Shard 1 of the verifier sweep (`kernel_tests::sweep`; shard 0 is in `verifier.rs`): a
//! test executable of its own, so that each shard has the harness's time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn generated_policies_all_verify_shard_1() {
    kernel_tests::sweep::generated_policies_verify(1);
}
