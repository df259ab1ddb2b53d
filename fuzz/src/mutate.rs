//! Mutations of corpus inputs, as libFuzzer's default ones: bit flips,
//! random and interesting bytes, insertions and deletions, copies inside
//! an input, splices with another input, and the target's dictionary.

use crate::rng::Rng;

const INTERESTING: &[u8] = &[0, 1, 0x7f, 0x80, 0xfe, 0xff, 0x3f, 0x40, 0x0f, 0x10];

/// Mutates `data` in place (1 to 8 steps), at most `max_len` bytes long.
pub fn mutate(
    rng: &mut Rng,
    data: &mut Vec<u8>,
    other: &[u8],
    dictionary: &[&[u8]],
    max_len: usize,
) {
    for _ in 0..1 + rng.below(8) {
        let len = data.len();
        match rng.below(9) {
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                data[at] = rng.next_u64() as u8;
            }
            2 if len > 0 => {
                let at = rng.below(len);
                data[at] = INTERESTING[rng.below(INTERESTING.len())];
            }
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                for _ in 0..n {
                    data.insert(at, rng.next_u64() as u8);
                }
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(16));
                data.drain(at..at + n);
            }
            5 if len > 1 => {
                // Copy a piece of the input over another place of it.
                let from = rng.below(len);
                let n = 1 + rng.below((len - from).min(16));
                let piece = data[from..from + n].to_vec();
                let at = rng.below(len);
                data.splice(at..(at + n).min(len), piece);
            }
            6 if !other.is_empty() => {
                // Splice: our head, the other input's tail.
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            7 if !dictionary.is_empty() => {
                let word = dictionary[rng.below(dictionary.len())];
                let at = rng.below(len + 1);
                data.splice(at..at, word.iter().copied());
            }
            8 if len > 0 => {
                // A little-endian u32 at the edge of something.
                let at = rng.below(len);
                let value: u32 = match rng.below(4) {
                    0 => 0,
                    1 => u32::MAX,
                    2 => 1 << rng.below(32),
                    _ => (1u32 << rng.below(32)).wrapping_sub(1),
                };
                let bytes = value.to_le_bytes();
                for (i, b) in bytes.iter().enumerate() {
                    if at + i < data.len() {
                        data[at + i] = *b;
                    }
                }
            }
            _ => data.push(rng.next_u64() as u8),
        }
    }
    data.truncate(max_len);
}
