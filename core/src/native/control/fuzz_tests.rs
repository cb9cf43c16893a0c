//! Random bytes through every control-plane parser (the same body as the fuzz target).

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        super::fuzz_parse_all(&data);
    }

    #[test]
    fn random_bytes_behind_magics_never_panic(
        magic in prop_oneof![Just(*b"PKF1"), Just(*b"PKFc")],
        data in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut buf = magic.to_vec();
        buf.extend_from_slice(&data);
        super::fuzz_parse_all(&buf);
    }
}
