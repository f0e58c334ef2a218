#![no_main]
// See fuzz/harness/src/lib.rs for what this target does with its input.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tmesh_fuzz_harness::universal_frame(data));
