//! punktfunk/1 data-plane header view and repr over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| punktfunk_core::native::data::fuzz::header(data));
