//! The second half of the verifier sweep (`kernel_tests::sweep`; the first is in
//! `verifier.rs`): a test executable of its own, so that each half has the harness's time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
#[ignore = "needs a guest kernel: run tests/guest/run"]
fn generated_policies_all_verify_second_shard() {
    kernel_tests::sweep::generated_policies_verify(1);
}
