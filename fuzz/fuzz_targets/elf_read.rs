//! Property: `read_object` never panics, and what it reads is a fixed point. When the contents
//! it returns also form a spec that `write_object` accepts (one program a section, no reserved
//! section names, ...), writing that spec and reading it back gives the same contents, and
//! aya's parser accepts the written object.

#![no_main]

use compiler::bpf::Code;
use compiler::elf::{read_object, write_object, ObjectContents, ObjectSpec, ProgramSpec};
use libfuzzer_sys::fuzz_target;

fn spec_of(contents: &ObjectContents) -> ObjectSpec {
    ObjectSpec {
        programs: contents
            .programs
            .iter()
            .map(|p| ProgramSpec {
                symbol: p.symbol.clone(),
                section: p.section.clone(),
                code: Code {
                    insns: p.insns.clone(),
                    relocations: p.relocations.clone(),
                    origins: vec![None; p.insns.len()],
                    functions: p.functions.clone(),
                },
            })
            .collect(),
        maps: contents.maps.clone(),
        license: contents.license.clone(),
        data: contents.data.clone(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(contents) = read_object(data) else {
        return;
    };
    let Ok(elf) = write_object(&spec_of(&contents)) else {
        return;
    };
    match read_object(&elf) {
        Ok(again) => assert_eq!(again, contents, "read(write(read(bytes))) == read(bytes)"),
        Err(e) => panic!("read_object rejects what write_object wrote: {e}"),
    }
    if let Err(e) = aya_obj::Object::parse(&elf) {
        panic!("aya-obj rejects what write_object wrote: {e}");
    }
});
