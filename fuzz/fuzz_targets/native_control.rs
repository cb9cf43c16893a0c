#![no_main]
//! Every punktfunk/1 control-plane parser (Hello/Welcome/Start, PKFc messages, framing, side
//! planes) on arbitrary bytes.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    punktfunk_core::native::control::fuzz_parse_all(data);
});
