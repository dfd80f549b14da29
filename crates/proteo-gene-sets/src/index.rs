//! A read-only view of gene-set index bytes (the layout is described in `compile.rs`): sections located and checked
//! once, every access reads the bytes in place, so an embedded index is used without being parsed.

use bytes::Bytes;

use crate::compile::{compile_gmt, GmtError, HEADER_LEN, MAGIC};

/// Index bytes that do not hold a valid index (never the case for bytes [`compile_gmt`] wrote).
#[derive(Debug, thiserror::Error)]
#[error("gene-set index `{name}` is not valid: {reason}")]
pub struct IndexError {
    pub name: String,
    pub reason: String,
}

#[inline]
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(w)
}

/// A read-only view of index bytes: the sections are located once, every access reads the bytes in place.
#[derive(Debug, Clone)]
pub struct GeneSetIndex {
    bytes: Bytes,
    n_sets: usize,
    n_keys: usize,
    width: usize,
    set_start: usize,
    str_end: usize,
    members: usize,
    blob: usize,
}

impl GeneSetIndex {
    /// The index of GMT text ([`compile_gmt`]).
    pub fn from_gmt(gmt: &[u8], file_name: &str) -> Result<GeneSetIndex, GmtError> {
        let bytes = compile_gmt(gmt, file_name)?;
        Ok(GeneSetIndex::new(Bytes::from(bytes), file_name).expect("compile_gmt writes valid indexes"))
    }

    /// A view of index bytes (embedded with `include_bytes!`, or written by [`compile_gmt`]). Checks the layout in
    /// one pass: section lengths, monotone offsets, UTF-8 and its boundaries, sorted keys, member ids in range and
    /// sorted; so no access can read out of bounds or panic afterwards.
    pub fn new(bytes: Bytes, name: &str) -> Result<GeneSetIndex, IndexError> {
        let bad = |reason: String| IndexError { name: name.to_string(), reason };
        let b: &[u8] = &bytes;
        if b.len() < HEADER_LEN || &b[..8] != MAGIC {
            return Err(bad("it does not start with the index header (compile the GMT file again)".into()));
        }
        let field = |i: usize| u32_at(b, 8 + 4 * i) as usize;
        let (n_sets, n_keys, n_members, width, blob_len) = (field(0), field(1), field(2), field(3), field(4));
        if width != 2 && width != 4 {
            return Err(bad(format!("member width {width} is neither 2 nor 4")));
        }
        if width == 2 && n_keys > 1 << 16 {
            return Err(bad(format!("{n_keys} keys do not fit 2-byte member ids")));
        }
        let set_start = HEADER_LEN;
        let str_end = set_start + 4 * (n_sets + 1);
        let n_strings = 2 * n_sets + n_keys;
        let members = str_end + 4 * n_strings;
        let blob = members + width * n_members;
        if b.len() != blob + blob_len {
            return Err(bad(format!("{} bytes where the header implies {}", b.len(), blob + blob_len)));
        }
        let text = std::str::from_utf8(&b[blob..]).map_err(|e| bad(format!("its text is not UTF-8 ({e})")))?;
        let mut prev = 0usize;
        let mut last_key: Option<(usize, usize)> = None;
        for i in 0..n_strings {
            let end = u32_at(b, str_end + 4 * i) as usize;
            if end < prev || end > blob_len || !text.is_char_boundary(end) {
                return Err(bad(format!("string {i} ends at {end}, outside the text")));
            }
            if i >= 2 * n_sets {
                let key = &text.as_bytes()[prev..end];
                if last_key.is_some_and(|(s, e)| key <= &text.as_bytes()[s..e]) {
                    return Err(bad(format!("key {} is not after the key before it", i - 2 * n_sets)));
                }
                last_key = Some((prev, end));
            }
            prev = end;
        }
        let mut prev = 0usize;
        for s in 0..=n_sets {
            let at = u32_at(b, set_start + 4 * s) as usize;
            if at < prev || at > n_members || (s == 0 && at != 0) {
                return Err(bad(format!("set {s} starts at member {at}")));
            }
            prev = at;
        }
        if prev != n_members {
            return Err(bad(format!("the sets hold {prev} members, the header says {n_members}")));
        }
        let index = GeneSetIndex { bytes, n_sets, n_keys, width, set_start, str_end, members, blob };
        for s in 0..n_sets {
            let mut last: Option<u32> = None;
            for k in index.members(s) {
                if k as usize >= n_keys || last.is_some_and(|l| l >= k) {
                    return Err(bad(format!("set {s} has member id {k} out of order or range")));
                }
                last = Some(k);
            }
        }
        Ok(index)
    }

    /// Number of gene sets.
    pub fn len(&self) -> usize {
        self.n_sets
    }

    pub fn is_empty(&self) -> bool {
        self.n_sets == 0
    }

    /// Number of distinct member keys over all sets.
    pub fn n_keys(&self) -> usize {
        self.n_keys
    }

    /// Size of the index in bytes.
    pub fn size_bytes(&self) -> usize {
        self.bytes.len()
    }

    fn string(&self, i: usize) -> &str {
        let b: &[u8] = &self.bytes;
        let end = u32_at(b, self.str_end + 4 * i) as usize;
        let start = if i == 0 { 0 } else { u32_at(b, self.str_end + 4 * (i - 1)) as usize };
        // Checked in `new`: in range, on char boundaries, UTF-8.
        std::str::from_utf8(&b[self.blob + start..self.blob + end]).unwrap_or("")
    }

    /// The id (first GMT field) of set `s`.
    pub fn id(&self, s: usize) -> &str {
        self.string(2 * s)
    }

    /// The name (second GMT field) of set `s`.
    pub fn name(&self, s: usize) -> &str {
        self.string(2 * s + 1)
    }

    /// Key `k` (key ids are ranks in byte order).
    pub fn key(&self, k: u32) -> &str {
        self.string(2 * self.n_sets + k as usize)
    }

    /// The id of `key`, when it is a member of some set.
    pub fn key_id(&self, key: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.n_keys);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.key(mid as u32).as_bytes().cmp(key.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    /// Number of distinct members of set `s`.
    pub fn set_len(&self, s: usize) -> usize {
        let b: &[u8] = &self.bytes;
        (u32_at(b, self.set_start + 4 * (s + 1)) - u32_at(b, self.set_start + 4 * s)) as usize
    }

    /// The member key ids of set `s`, ascending.
    pub fn members(&self, s: usize) -> impl ExactSizeIterator<Item = u32> + '_ {
        let b: &[u8] = &self.bytes;
        let from = u32_at(b, self.set_start + 4 * s) as usize;
        let to = u32_at(b, self.set_start + 4 * (s + 1)) as usize;
        let w = self.width;
        b[self.members + w * from..self.members + w * to].chunks_exact(w).map(move |c| {
            if w == 2 {
                u32::from(u16::from_le_bytes([c[0], c[1]]))
            } else {
                u32::from_le_bytes([c[0], c[1], c[2], c[3]])
            }
        })
    }

    /// The member keys of set `s`, in key order.
    pub fn member_keys(&self, s: usize) -> impl Iterator<Item = &str> + '_ {
        self.members(s).map(move |k| self.key(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmt_compiles_and_reads_back() {
        let gmt = b"T1\tone\tB\tA\tB\t\nT2\ttwo\r\n\nT3\tthree\tC\tA\n";
        let idx = GeneSetIndex::from_gmt(gmt, "x.gmt").unwrap();
        assert_eq!((idx.len(), idx.n_keys()), (3, 3));
        assert_eq!((idx.id(0), idx.name(0), idx.set_len(0)), ("T1", "one", 2));
        assert_eq!(idx.member_keys(0).collect::<Vec<_>>(), vec!["A", "B"]);
        assert_eq!(idx.set_len(1), 0);
        assert_eq!(idx.member_keys(2).collect::<Vec<_>>(), vec!["A", "C"]);
        assert_eq!(idx.key_id("C"), Some(2));
        assert_eq!(idx.key_id("D"), None);
        assert_eq!(idx.key_id(""), None);
    }

    #[test]
    fn bad_gmt_lines_are_named() {
        let err = compile_gmt(b"T1\tone\tA\nT2 no tabs\n", "x.gmt").unwrap_err();
        assert!(matches!(err, GmtError::BadLine { line: 2, .. }), "{err}");
        let err = compile_gmt(b"T1\tone\tA\n\tname\tB\n", "x.gmt").unwrap_err();
        assert!(matches!(err, GmtError::BadLine { line: 2, .. }), "{err}");
        let err = compile_gmt(b"T1\tone\tA\n\nT1\tagain\tB\n", "x.gmt").unwrap_err();
        assert!(err.to_string().contains("line 3") && err.to_string().contains("line 1"), "{err}");
        let err = compile_gmt(b"T1\tone\t\xff\n", "x.gmt").unwrap_err();
        assert!(matches!(err, GmtError::BadLine { line: 1, .. }), "{err}");
        assert!(matches!(compile_gmt(b"\n\n", "x.gmt"), Err(GmtError::Empty { .. })));
        assert!(matches!(compile_gmt(&[0x1f, 0x8b, 0, 1, 2], "x.gmt.gz"), Err(GmtError::Gzip { .. })));
    }

    #[test]
    fn gzip_spans_chunks_keeps_line_numbers_and_wide_ids_past_65536_keys() {
        use std::io::Write;
        // ~3 MiB of text: lines cross the inflater's 1 MiB chunk boundaries; 70 000 keys need 4-byte ids.
        let mut text = String::new();
        let n_lines = 30_000;
        for i in 0..n_lines {
            text.push_str(&format!("GO:{i:07}\tterm {i}"));
            for j in 0..12 {
                text.push_str(&format!("\tP{:05}", (i * 7 + j * 13) % 70_000));
            }
            text.push('\n');
        }
        let gz = |t: &str| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(t.as_bytes()).unwrap();
            e.finish().unwrap()
        };
        let plain = compile_gmt(text.as_bytes(), "big.gmt").unwrap();
        assert_eq!(compile_gmt(&gz(&text), "big.gmt.gz").unwrap(), plain);
        let idx = GeneSetIndex::new(Bytes::from(plain), "big").unwrap();
        assert!(idx.n_keys() > 1 << 16);
        assert_eq!(idx.width, 4);
        assert_eq!(idx.member_keys(n_lines - 1).count(), 12);
        let k = idx.key_id("P00013").unwrap();
        assert_eq!(idx.key(k), "P00013");

        let broken = format!("{text}no tab here\n{text}");
        let err = compile_gmt(&gz(&broken), "big.gmt.gz").unwrap_err();
        assert!(matches!(err, GmtError::BadLine { line, .. } if line == n_lines + 1), "{err}");
    }

    #[test]
    fn corrupt_index_bytes_are_refused_without_panicking() {
        let good = compile_gmt(b"T1\tone\tA\tB\nT2\ttwo\tC\n", "x.gmt").unwrap();
        assert!(GeneSetIndex::new(Bytes::from(good.clone()), "x").is_ok());
        for cut in 0..good.len() {
            assert!(GeneSetIndex::new(Bytes::from(good[..cut].to_vec()), "x").is_err(), "truncated at {cut}");
        }
        for at in 8..good.len() {
            for flip in [1u8, 0x80] {
                let mut bad = good.clone();
                bad[at] ^= flip;
                // Either refused, or still a readable index: never a panic on access.
                if let Ok(idx) = GeneSetIndex::new(Bytes::from(bad), "x") {
                    for s in 0..idx.len() {
                        let _ = (idx.id(s), idx.name(s), idx.member_keys(s).count());
                    }
                }
            }
        }
    }
}
