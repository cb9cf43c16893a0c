#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    punktfunk_control::gamestream::pairing::fuzz_one(data);
});
