//! Arbitrary datagrams (raw, sealed under the session key, or mangled real frames) into a
//! punktfunk/1 reassembler.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    punktfunk_core::native::data::fuzz::reassembler(data);
});
