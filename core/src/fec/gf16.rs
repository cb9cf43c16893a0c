//! GF(2¹⁶) Reed-Solomon for punktfunk/1 (`fec_scheme` 1), wrapping `reed-solomon-simd` 3.x.
//!
//! Byte-compatible with punktfunk's clients, which decode with the same library: recovery
//! shard `r` of a block is the `r`-th shard `reed_solomon_simd` produces for the block's `k`
//! data shards and `m` recovery shards. The encoder and decoder keep their working memory
//! between blocks (the library's `reset`), so steady-state coding does not allocate.

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

use super::FecError;

/// Largest total (data + parity) shard count of one block.
pub const MAX_TOTAL_SHARDS: usize = 65535;

fn check_shape(k: usize, m: usize, shard_len: usize) -> Result<(), FecError> {
    if k == 0 || m == 0 || k + m > MAX_TOTAL_SHARDS || !ReedSolomonEncoder::supports(k, m) {
        return Err(FecError::Shape { data: k, parity: m });
    }
    if shard_len == 0 || !shard_len.is_multiple_of(2) {
        return Err(FecError::ShardLen {
            got: shard_len,
            want: shard_len + (shard_len % 2),
        });
    }
    Ok(())
}

/// Reusable GF(2¹⁶) encoder: feed a block's data shards, then read its parity shards.
pub struct Gf16Encoder {
    inner: Option<ReedSolomonEncoder>,
    k: usize,
    m: usize,
    len: usize,
    added: usize,
}

impl Default for Gf16Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Gf16Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gf16Encoder")
            .field("k", &self.k)
            .field("m", &self.m)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Gf16Encoder {
    /// An encoder with no working memory yet (allocated on the first block).
    pub fn new() -> Self {
        Self {
            inner: None,
            k: 0,
            m: 0,
            len: 0,
            added: 0,
        }
    }

    /// Starts a block of `k` data and `m` parity shards of `shard_len` bytes (even).
    pub fn begin(&mut self, k: usize, m: usize, shard_len: usize) -> Result<(), FecError> {
        check_shape(k, m, shard_len)?;
        match &mut self.inner {
            Some(enc) => enc
                .reset(k, m, shard_len)
                .map_err(|_| FecError::Shape { data: k, parity: m })?,
            None => {
                self.inner = Some(
                    ReedSolomonEncoder::new(k, m, shard_len)
                        .map_err(|_| FecError::Shape { data: k, parity: m })?,
                )
            }
        }
        (self.k, self.m, self.len, self.added) = (k, m, shard_len, 0);
        Ok(())
    }

    /// Adds the next data shard (in index order).
    pub fn add(&mut self, shard: &[u8]) -> Result<(), FecError> {
        if shard.len() != self.len {
            return Err(FecError::ShardLen {
                got: shard.len(),
                want: self.len,
            });
        }
        if self.added >= self.k {
            return Err(FecError::ShardCount {
                got: self.added + 1,
                want: self.k,
            });
        }
        let enc = self
            .inner
            .as_mut()
            .ok_or(FecError::ShardCount { got: 1, want: 0 })?;
        enc.add_original_shard(shard)
            .map_err(|_| FecError::ShardLen {
                got: shard.len(),
                want: self.len,
            })?;
        self.added += 1;
        Ok(())
    }

    /// Computes the block's parity and calls `out(r, shard)` for `r` in `0..m`.
    pub fn finish(&mut self, mut out: impl FnMut(usize, &[u8])) -> Result<(), FecError> {
        if self.added != self.k {
            return Err(FecError::ShardCount {
                got: self.added,
                want: self.k,
            });
        }
        let enc = self.inner.as_mut().ok_or(FecError::ShardCount {
            got: 0,
            want: self.k,
        })?;
        let result = enc.encode().map_err(|_| FecError::ShardCount {
            got: self.added,
            want: self.k,
        })?;
        for (r, shard) in result.recovery_iter().enumerate() {
            out(r, shard);
        }
        self.added = 0;
        Ok(())
    }

    /// Convenience: encodes `data` (k shards) into `parity` (m buffers of the same length).
    pub fn encode(&mut self, data: &[&[u8]], parity: &mut [&mut [u8]]) -> Result<(), FecError> {
        let len = data.first().map_or(0, |d| d.len());
        self.begin(data.len(), parity.len(), len)?;
        for d in data {
            self.add(d)?;
        }
        self.finish(|r, shard| parity[r].copy_from_slice(shard))
    }
}

/// Reusable GF(2¹⁶) decoder: give it any `k` of a block's `k + m` shards, get the missing data.
pub struct Gf16Decoder {
    inner: Option<ReedSolomonDecoder>,
}

impl Default for Gf16Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Gf16Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gf16Decoder").finish_non_exhaustive()
    }
}

impl Gf16Decoder {
    /// A decoder with no working memory yet.
    pub fn new() -> Self {
        Self { inner: None }
    }

    /// Recovers the missing data shards of a block.
    ///
    /// `shards` yields `(index, bytes)` with index `0..k` for data and `k..k+m` for parity.
    /// `restored(i, bytes)` is called once for every data shard `i` that was missing.
    pub fn decode<'s>(
        &mut self,
        k: usize,
        m: usize,
        shard_len: usize,
        shards: impl IntoIterator<Item = (usize, &'s [u8])>,
        mut restored: impl FnMut(usize, &[u8]),
    ) -> Result<(), FecError> {
        check_shape(k, m, shard_len)?;
        let dec = match &mut self.inner {
            Some(dec) => {
                dec.reset(k, m, shard_len)
                    .map_err(|_| FecError::Shape { data: k, parity: m })?;
                dec
            }
            slot @ None => slot.insert(
                ReedSolomonDecoder::new(k, m, shard_len)
                    .map_err(|_| FecError::Shape { data: k, parity: m })?,
            ),
        };
        let mut have = 0usize;
        for (i, s) in shards {
            if s.len() != shard_len {
                return Err(FecError::ShardLen {
                    got: s.len(),
                    want: shard_len,
                });
            }
            let r = if i < k {
                dec.add_original_shard(i, s)
            } else if i < k + m {
                dec.add_recovery_shard(i - k, s)
            } else {
                return Err(FecError::ShardIndex(i));
            };
            r.map_err(|_| FecError::ShardIndex(i))?;
            have += 1;
        }
        if have < k {
            return Err(FecError::NotEnoughShards { have, need: k });
        }
        let result = dec
            .decode()
            .map_err(|_| FecError::NotEnoughShards { have, need: k })?;
        for (i, shard) in result.restored_original_iter() {
            restored(i, shard);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shards(k: usize, len: usize, seed: u8) -> Vec<Vec<u8>> {
        (0..k)
            .map(|i| (0..len).map(|t| (i * 131 + t * 7) as u8 ^ seed).collect())
            .collect()
    }

    #[test]
    fn encode_matches_raw_library_and_recovers() {
        let (k, m, len) = (10, 4, 64);
        let data = shards(k, len, 3);
        let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
        let mut parity = vec![vec![0u8; len]; m];
        let mut prefs: Vec<&mut [u8]> = parity.iter_mut().map(|p| p.as_mut_slice()).collect();
        let mut enc = Gf16Encoder::new();
        enc.encode(&refs, &mut prefs).unwrap();
        let raw = reed_solomon_simd::encode(k, m, &data).unwrap();
        assert_eq!(parity, raw);

        // lose 4 data shards, recover them from the 4 parity shards
        let lost = [0usize, 3, 7, 9];
        let avail: Vec<(usize, &[u8])> = (0..k)
            .filter(|i| !lost.contains(i))
            .map(|i| (i, data[i].as_slice()))
            .chain((0..m).map(|r| (k + r, parity[r].as_slice())))
            .collect();
        let mut dec = Gf16Decoder::new();
        let mut got = Vec::new();
        dec.decode(k, m, len, avail, |i, s| got.push((i, s.to_vec())))
            .unwrap();
        got.sort();
        assert_eq!(got.len(), 4);
        for (i, s) in got {
            assert!(lost.contains(&i));
            assert_eq!(s, data[i]);
        }
    }

    #[test]
    fn single_data_shard_parity_is_a_copy() {
        // Observed in punktfunk's wire (spec §5.4): k = 1 gives parity equal to the data.
        let data = shards(1, 32, 9);
        let mut p = vec![0u8; 32];
        Gf16Encoder::new()
            .encode(&[&data[0]], &mut [&mut p])
            .unwrap();
        assert_eq!(p, data[0]);
    }

    #[test]
    fn bad_shapes_and_too_few_shards_are_errors() {
        let mut enc = Gf16Encoder::new();
        assert!(enc.begin(0, 1, 8).is_err());
        assert!(enc.begin(1, 0, 8).is_err());
        assert!(enc.begin(4, 2, 7).is_err());
        assert!(enc.begin(40000, 30000, 8).is_err());
        enc.begin(2, 1, 8).unwrap();
        assert!(enc.add(&[0u8; 6]).is_err());
        assert!(enc.finish(|_, _| {}).is_err());
        let mut dec = Gf16Decoder::new();
        let s = [0u8; 8];
        assert_eq!(
            dec.decode(3, 2, 8, [(0, &s[..]), (4, &s[..])], |_, _| {}),
            Err(FecError::NotEnoughShards { have: 2, need: 3 })
        );
        assert_eq!(
            dec.decode(3, 2, 8, [(5, &s[..])], |_, _| {}),
            Err(FecError::ShardIndex(5))
        );
    }
}
