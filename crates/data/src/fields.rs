//! Small, fast building blocks of the readers: number parsers for the hot
//! loop, a fast id interner, line bookkeeping and a line reader for the
//! `::` and tab formats.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use movierec_core::IdMap;

use crate::{DataError, Result};

/// Parses an unsigned decimal integer (surrounding ASCII spaces allowed).
/// `None` on anything else, including overflow.
#[inline]
pub(crate) fn parse_u64(field: &[u8]) -> Option<u64> {
    let field = field.trim_ascii();
    if field.is_empty() || field.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in field {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Parses a signed decimal integer (a Unix timestamp).
#[inline]
pub(crate) fn parse_i64(field: &[u8]) -> Option<i64> {
    let field = field.trim_ascii();
    let (neg, digits) = match field.first() {
        Some(b'-') => (true, &field[1..]),
        _ => (false, field),
    };
    let n = i64::try_from(parse_u64(digits)?).ok()?;
    Some(if neg { -n } else { n })
}

/// Exact powers of ten in `f32` (10^10 = 2^10 * 5^10 and 5^10 < 2^24).
const POW10: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/// Parses a rating. Fast path for plain decimals such as `4.5`: the digits
/// form an integer below 2^24 and the power of ten is exact, so one division
/// is correctly rounded and equals what `str::parse` gives (Clinger's fast
/// path). Anything else (exponents, `NaN`, `inf`, long numbers) goes through
/// `str::parse`, so non-finite values reach the caller's finiteness check.
#[inline]
pub(crate) fn parse_f32(field: &[u8]) -> Option<f32> {
    let field = field.trim_ascii();
    let mut mantissa: u32 = 0;
    let mut digits = 0u32;
    let mut frac: Option<u32> = None;
    for &b in field {
        let d = b.wrapping_sub(b'0');
        if d <= 9 {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u32::from(d));
            digits += 1;
            if let Some(f) = frac.as_mut() {
                *f += 1;
            }
        } else if b == b'.' && frac.is_none() {
            frac = Some(0);
        } else {
            return parse_f32_slow(field);
        }
    }
    if digits == 0 || digits > 7 {
        return parse_f32_slow(field);
    }
    Some(mantissa as f32 / POW10[frac.unwrap_or(0) as usize])
}

#[cold]
fn parse_f32_slow(field: &[u8]) -> Option<f32> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// Shows a field in an error message: escaped, cut to 40 characters.
pub(crate) fn show(field: &[u8]) -> String {
    movierec_core::text::shown_bytes(field, 40)
}

/// Text of a field: UTF-8 when valid, else Latin-1 (ml-100k and ml-1m ship
/// Latin-1; Latin-1 maps each byte to the char of the same code).
pub(crate) fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Multiply-rotate hasher for integer ids (the FxHash recipe): ids come from
/// local files, so HashDoS resistance is not needed, and SipHash would cost
/// a fifth of the parse time.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

/// Raw id -> dense index, in order of first appearance; turned into an
/// [`IdMap`] once reading is done.
///
/// Ids below `table.len()` live in a table indexed by raw id (one load, no
/// hash); the others in a fast hash map. The table grows over an id only
/// while it stays at least a quarter full: dense ids (users, ml-32m's
/// movies, synthetic data) get the table, sparse ones (ml-latest-small's
/// 9,724 movies spread up to id 193,609) keep the smaller, cache-friendlier
/// map. A table over sparse ids parsed ml-latest-small 30% slower; the map
/// over dense ids spent 30% of the parse of a 10M-row file hashing.
#[derive(Default)]
pub(crate) struct Interner {
    table: Vec<u32>,
    index: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    raw: Vec<u64>,
    last: Option<(u64, u32)>,
}

/// Marks a free table slot.
const FREE: u32 = u32::MAX;

impl Interner {
    /// Starts from the ids already in `map`, keeping their indices.
    pub(crate) fn from_map(map: &IdMap) -> Self {
        let mut me = Self::default();
        for &r in map.raw_ids() {
            me.insert(r);
        }
        me
    }

    /// The dense index of `raw`, appended when new. The last id is cached:
    /// MovieLens files list each user's ratings together.
    #[inline]
    pub(crate) fn insert(&mut self, raw: u64) -> u32 {
        if let Some((r, i)) = self.last {
            if r == raw {
                return i;
            }
        }
        let i = match self.table.get(raw as usize) {
            Some(&i) if i != FREE => i,
            _ => self.insert_slow(raw),
        };
        self.last = Some((raw, i));
        i
    }

    fn insert_slow(&mut self, raw: u64) -> u32 {
        let next = self.raw.len() as u32;
        if raw < self.table.len() as u64 {
            self.table[raw as usize] = next;
            self.raw.push(raw);
            return next;
        }
        if let Some(&i) = self.index.get(&raw) {
            return i;
        }
        let want = (raw.min(1 << 26) + 1).next_power_of_two().max(1024);
        if raw < 1 << 26 && want <= 4 * (self.raw.len() as u64 + 1) + 1024 {
            // Grow the table over `raw`, moving in the map's ids it now covers.
            self.table.resize(want as usize, FREE);
            let table = &mut self.table;
            self.index.retain(|&r, &mut i| {
                let inside = r < want;
                if inside {
                    table[r as usize] = i;
                }
                !inside
            });
            self.table[raw as usize] = next;
        } else {
            self.index.insert(raw, next);
        }
        self.raw.push(raw);
        next
    }

    pub(crate) fn len(&self) -> usize {
        self.raw.len()
    }

    pub(crate) fn raw_ids(&self) -> &[u64] {
        &self.raw
    }

    pub(crate) fn into_map(self) -> IdMap {
        IdMap::from_raw(self.raw)
    }
}

/// Line number of each accepted row without storing one per row: rows are
/// usually on consecutive lines, so only an irregular file (blank lines,
/// quoted newlines) pays for a vector.
pub(crate) struct LineIndex {
    first: u64,
    irregular: Option<Vec<u64>>,
}

impl LineIndex {
    /// Row 0 is expected on line `first`.
    pub(crate) fn new(first: u64) -> Self {
        Self {
            first,
            irregular: None,
        }
    }

    /// Records that row `row` is on `line`.
    #[inline]
    pub(crate) fn push(&mut self, row: usize, line: u64) {
        match &mut self.irregular {
            Some(v) => v.push(line),
            None if line == self.first + row as u64 => {}
            None => {
                let mut v: Vec<u64> = (0..row as u64).map(|r| self.first + r).collect();
                v.push(line);
                self.irregular = Some(v);
            }
        }
    }

    /// The line of row `row`.
    pub(crate) fn line(&self, row: usize) -> u64 {
        match &self.irregular {
            Some(v) => v[row],
            None => self.first + row as u64,
        }
    }
}

/// Reads a file line by line, counting lines from 1. A line that lies whole
/// in the reader's buffer is handed out in place (no copy); only a line that
/// straddles two buffer fills is copied into a reused buffer.
/// The longest line any reader accepts (1 MiB). MovieLens lines are under
/// 1 KB; a longer one is binary data or `/dev/zero`, which would otherwise
/// be read without end.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The error for a line over [`MAX_LINE_BYTES`].
pub(crate) fn line_too_long(path: &Path, line: u64) -> DataError {
    DataError::parse(
        path,
        line,
        format!(
            "line longer than {} MiB: not a text ratings file?",
            MAX_LINE_BYTES >> 20
        ),
    )
}

/// How far the reading of a ratings file has got: bytes read and the file's
/// size, shared with whoever draws a progress bar (the CLI polls it from
/// another thread while [`load`](crate::load) runs). Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct ReadProgress(Arc<[AtomicU64; 2]>);

impl ReadProgress {
    /// Bytes read so far.
    pub fn read(&self) -> u64 {
        self.0[0].load(Ordering::Relaxed)
    }

    /// The size of the file being read (0 before it is opened).
    pub fn total(&self) -> u64 {
        self.0[1].load(Ordering::Relaxed)
    }
}

/// A file that adds what it reads to a [`ReadProgress`] (one atomic add per
/// buffer fill, 64 KiB, not per line).
pub(crate) struct Counted {
    file: File,
    progress: Option<ReadProgress>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        if let Some(p) = &self.progress {
            p.0[0].fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// Opens `path` for a line reader with a 64 KiB buffer, counting into
/// `progress` when given.
pub(crate) fn open_counted(
    path: &Path,
    progress: Option<&ReadProgress>,
) -> Result<BufReader<Counted>> {
    let file = crate::ratings::open(path)?;
    if let Some(p) = progress {
        let size = file.metadata().map_or(0, |m| m.len());
        p.0[0].store(0, Ordering::Relaxed);
        p.0[1].store(size, Ordering::Relaxed);
    }
    Ok(BufReader::with_capacity(
        1 << 16,
        Counted {
            file,
            progress: progress.cloned(),
        },
    ))
}

pub(crate) struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    line: u64,
    /// Bytes of the line handed out last, consumed on the next call.
    consume: usize,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(reader: R) -> Self {
        Self {
            reader,
            buf: Vec::with_capacity(256),
            line: 0,
            consume: 0,
        }
    }

    /// The next line without its terminator, with its number; `None` at the end.
    #[inline]
    pub(crate) fn next_line(&mut self, path: &Path) -> Result<Option<(u64, &[u8])>> {
        self.reader.consume(std::mem::take(&mut self.consume));
        let found = {
            let avail = self.reader.fill_buf().map_err(|e| DataError::io(path, e))?;
            if avail.is_empty() {
                return Ok(None);
            }
            avail.iter().position(|&b| b == b'\n')
        };
        self.line += 1;
        let mut s = match found {
            Some(i) => {
                self.consume = i + 1;
                // A second `fill_buf` returns the same bytes without I/O.
                &self.reader.fill_buf().map_err(|e| DataError::io(path, e))?[..i]
            }
            None => {
                self.buf.clear();
                (&mut self.reader)
                    .take(MAX_LINE_BYTES as u64 + 1)
                    .read_until(b'\n', &mut self.buf)
                    .map_err(|e| DataError::io(path, e))?;
                if self.buf.len() > MAX_LINE_BYTES {
                    return Err(line_too_long(path, self.line));
                }
                self.buf.strip_suffix(b"\n").unwrap_or(&self.buf)
            }
        };
        if let Some(rest) = s.strip_suffix(b"\r") {
            s = rest;
        }
        Ok(Some((self.line, s)))
    }
}

/// Splits `line` on `sep` (one or more bytes) into at most `out.len()`
/// fields; returns the number of fields found (which may exceed `out.len()`).
#[inline]
pub(crate) fn split_into<'a>(line: &'a [u8], sep: &[u8], out: &mut [&'a [u8]]) -> usize {
    let mut count = 0;
    let mut start = 0;
    let mut i = 0;
    while i + sep.len() <= line.len() {
        if line[i] == sep[0] && &line[i..i + sep.len()] == sep {
            if count < out.len() {
                out[count] = &line[start..i];
            }
            count += 1;
            i += sep.len();
            start = i;
        } else {
            i += 1;
        }
    }
    if count < out.len() {
        out[count] = &line[start..];
    }
    count + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_u64(b"123"), Some(123));
        assert_eq!(parse_u64(b" 7 "), Some(7));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"1.0"), None);
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_i64(b"-964982703"), Some(-964_982_703));
        assert_eq!(parse_i64(b"x"), None);
    }

    #[test]
    fn floats_match_std() {
        for s in [
            "4.5",
            "0.5",
            "3",
            "3.7",
            "2.25",
            "1234567",
            "0.1234567",
            "12345678",
            "1e1",
            ".5",
            "5.",
        ] {
            assert_eq!(parse_f32(s.as_bytes()), s.parse::<f32>().ok(), "{s}");
        }
        assert!(parse_f32(b"NaN").unwrap().is_nan());
        assert_eq!(parse_f32(b"inf"), Some(f32::INFINITY));
        assert_eq!(parse_f32(b"4.x"), None);
        assert_eq!(parse_f32(b"."), None);
        assert_eq!(parse_f32(b"1.2.3"), None);
        assert_eq!(parse_f32(b""), None);
    }

    #[test]
    fn split_on_multibyte_separator() {
        let mut out = [&b""[..]; 4];
        assert_eq!(split_into(b"1::2::3.5::99", b"::", &mut out), 4);
        assert_eq!(out, [&b"1"[..], b"2", b"3.5", b"99"]);
        assert_eq!(split_into(b"1::2", b"::", &mut out), 2);
        assert_eq!(split_into(b"1\t2\t3\t4\t5", b"\t", &mut out), 5);
    }

    #[test]
    fn line_index_handles_gaps() {
        let mut li = LineIndex::new(2);
        li.push(0, 2);
        li.push(1, 3);
        li.push(2, 5);
        li.push(3, 6);
        assert_eq!(
            (li.line(0), li.line(1), li.line(2), li.line(3)),
            (2, 3, 5, 6)
        );
    }

    #[test]
    fn interner_mixes_small_and_large_ids() {
        let mut m = Interner::default();
        let ids = [5, u64::MAX, 5, 3_000_000, 1 << 40, 0, u64::MAX, 4_194_304];
        let got: Vec<u32> = ids.iter().map(|&r| m.insert(r)).collect();
        assert_eq!(got, [0, 1, 0, 2, 3, 4, 1, 5]);
        assert_eq!(
            m.into_map().raw_ids(),
            [5, u64::MAX, 3_000_000, 1 << 40, 0, 4_194_304]
        );
    }

    proptest::proptest! {
        /// The table/map split never changes the answer: an `IdMap` is the oracle.
        #[test]
        fn interner_matches_idmap(ids in proptest::collection::vec(
            proptest::prop_oneof![0u64..3000, 0u64..200_000, proptest::prelude::any::<u64>()], 0..3000)
        ) {
            let (mut fast, mut oracle) = (Interner::default(), IdMap::new());
            for &r in &ids {
                proptest::prop_assert_eq!(fast.insert(r), oracle.insert(r));
            }
            proptest::prop_assert_eq!(fast.into_map(), oracle);
        }
    }

    #[test]
    fn latin1_fallback() {
        assert_eq!(decode(b"Caf\xe9"), "Café");
        assert_eq!(decode("Café".as_bytes()), "Café");
    }
}
