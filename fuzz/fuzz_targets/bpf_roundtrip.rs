//! Property: `decode` accepts exactly what it can give back. Whatever bytes it decodes encode
//! to the same bytes, and the disassembler prints every program the decoder accepted.

#![no_main]

use compiler::bpf::{decode, disassemble, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(insns) = decode(data) else {
        return;
    };
    assert_eq!(encode(&insns), data, "encode(decode(bytes)) == bytes");
    if let Err(e) = disassemble(&insns) {
        panic!("disassemble rejects a program decode accepted: {e}");
    }
});
