//! Byte-level helpers shared by the parsers. Every character the grammar
//! accepts is ASCII, so a scan stops on a char boundary and error positions
//! always point at the start of a character.

use super::error::{NameError, NameErrorKind};
use super::MAX_RING_ID;

/// `[A-Za-z0-9_]`, netmap's `nm_is_identifier` (in the C locale).
pub(super) fn is_ident(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// The end of the run of bytes from `start` satisfying `pred`.
pub(super) fn skip_while(bytes: &[u8], start: usize, pred: impl Fn(u8) -> bool) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| !pred(b))
        .map_or(bytes.len(), |n| start + n)
}

/// The first byte in `start..end` that is not an identifier character.
pub(super) fn first_non_ident(bytes: &[u8], start: usize, end: usize) -> Option<usize> {
    (start..end).find(|&i| !is_ident(bytes[i]))
}

/// The decimal number at `start` (saturating at `u64::MAX`) and the end of
/// its digits; `None` when no digit is there.
pub(super) fn number(bytes: &[u8], start: usize) -> Option<(u64, usize)> {
    let end = skip_while(bytes, start, |b| b.is_ascii_digit());
    if end == start {
        return None;
    }
    let value = bytes[start..end].iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some((value, end))
}

/// A ring number read at `pos`: netmap's ring ids stop below
/// `NETMAP_RING_MASK`.
pub(super) fn ring_id(value: u64, pos: usize) -> Result<u16, NameError> {
    u16::try_from(value)
        .ok()
        .filter(|&ring| ring <= MAX_RING_ID)
        .ok_or_else(|| NameError::new(pos, NameErrorKind::RingOutOfRange))
}

/// A memory id read at `pos`: 1..=65535 (0 means "the default" and cannot
/// be written).
pub(super) fn mem_id(value: u64, pos: usize) -> Result<u16, NameError> {
    u16::try_from(value)
        .ok()
        .filter(|&id| id != 0)
        .ok_or_else(|| NameError::new(pos, NameErrorKind::MemIdOutOfRange))
}
