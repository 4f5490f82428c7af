//! Regenerating the masks of a seeded LWE ciphertext list in bulk.
//!
//! tfhe-csprng derives a seeded list's masks from AES-128 in counter mode:
//! the seed is the key, and ciphertext `j`'s mask is the 64-bit
//! little-endian words of the key stream from byte `j·8n` on (counter blocks
//! numbered from 0, little-endian). tfhe produces the stream one byte at a
//! time, which here makes regenerating a 30-feature row's masks (480 KiB of
//! stream) take 1.8 ms; the same blocks encrypted many at a time with AES-NI
//! take a small fraction of that. The client encrypts and the server scores
//! with these masks; `tests/masks.rs` checks the two give the
//! same masks, word for word, for any seed and list length; the version of
//! tfhe is pinned.

use aes::cipher::{BlockCipherEncrypt, KeyInit};

use crate::{Error, Result};

/// AES blocks encrypted at once (16 KiB of stream).
const CHUNK_BLOCKS: usize = 1024;

/// Call `f(j, mask_j)` with the mask of every ciphertext of a seeded list of
/// LWE dimension `n`, one after another in a reused buffer.
///
/// # Errors
/// [`Error::Invalid`] for an odd or zero `n` (masks would not start on AES
/// blocks; no parameter set has one).
pub fn for_each_mask(seed: u128, count: usize, n: usize, mut f: impl FnMut(usize, &[u64])) -> Result<()> {
    if n == 0 || !n.is_multiple_of(2) {
        return Err(Error::invalid(
            "LWE dimension",
            format!("{n} is not a positive even number"),
        ));
    }
    let cipher = aes::Aes128::new(&seed.to_le_bytes().into());
    let mut blocks = vec![aes::Block::default(); (n / 2).min(CHUNK_BLOCKS)];
    let mut mask = vec![0u64; n];
    for j in 0..count {
        let first = (j * n / 2) as u128;
        for start in (0..n / 2).step_by(blocks.len()) {
            let len = blocks.len().min(n / 2 - start);
            for (k, b) in blocks[..len].iter_mut().enumerate() {
                *b = aes::Block::from((first + (start + k) as u128).to_le_bytes());
            }
            cipher.encrypt_blocks(&mut blocks[..len]);
            for (pair, b) in mask[2 * start..2 * (start + len)]
                .chunks_exact_mut(2)
                .zip(&blocks[..len])
            {
                let (lo, hi) = b.split_at(8);
                pair[0] = u64::from_le_bytes(lo.try_into().unwrap_or_default());
                pair[1] = u64::from_le_bytes(hi.try_into().unwrap_or_default());
            }
        }
        f(j, &mask);
    }
    Ok(())
}
