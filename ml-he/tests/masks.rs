//! The bulk mask regeneration the server uses gives exactly the masks
//! TFHE-rs's own decompression of a seeded list gives.
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use tfhe::core_crypto::commons::math::random::Seed;
use tfhe::core_crypto::prelude::*;

fn tfhe_masks(seed: u128, count: usize, n: usize) -> Vec<Vec<u64>> {
    let bodies = vec![0u64; count];
    let seeded = SeededLweCiphertextList::from_container(
        bodies,
        LweSize(n + 1),
        Seed(seed).into(),
        CiphertextModulus::new_native(),
    );
    let list = seeded.decompress_into_lwe_ciphertext_list();
    list.iter().map(|ct| ct.get_mask().as_ref().to_vec()).collect()
}

#[test]
fn bulk_masks_equal_tfhe_decompression() {
    let seeds = [0u128, 1, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210, 1 << 64];
    for (i, &seed) in seeds.iter().enumerate() {
        for (count, n) in [
            (1, 2048),
            (2, 2048),
            (7, 2048),
            (31 + i, 2048),
            (3, 4),
            (5, 2050),
            (2, 4096),
        ] {
            let expected = tfhe_masks(seed, count, n);
            let mut ours = Vec::new();
            ml_he::masks::for_each_mask(seed, count, n, |j, m| {
                assert_eq!(j, ours.len());
                ours.push(m.to_vec());
            })
            .unwrap();
            assert_eq!(ours, expected, "seed {seed:#x}, {count} ciphertexts of dimension {n}");
        }
    }
    assert!(ml_he::masks::for_each_mask(1, 1, 2049, |_, _| {}).is_err());
}
