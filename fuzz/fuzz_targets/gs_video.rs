#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    punktfunk_core::gamestream::video::fuzz_one(data);
});
