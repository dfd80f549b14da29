//! GMT text (plain or gzip) compiled into the gene-set index: sorted interned keys, sorted member arrays.
//!
//! This file is also compiled into the crate's build script (`#[path]`), which turns the shipped gzip GMTs into
//! index files embedded with `include_bytes!`; it depends on nothing but `std`, `flate2` and `thiserror`.
//!
//! Layout (little-endian, no padding; every section starts where the one before ends):
//! ```text
//! header      32 bytes: magic "PGSIDX01", n_sets, n_keys, n_members, member width (2 or 4), blob length, 0
//! set_start   (n_sets + 1) × u32: set s owns members[set_start[s]..set_start[s + 1]]
//! str_end     (2·n_sets + n_keys) × u32: end of string i in the blob (string i starts where i − 1 ends):
//!             set s's id is string 2s, its name 2s + 1, key k is string 2·n_sets + k
//! members     n_members × width: key ids, sorted within each set
//! blob        UTF-8 text of every string
//! ```
//! Keys are sorted by their bytes, so a key's id is its rank and lookups are a binary search; ids fit in 2 bytes
//! when there are at most 65 536 keys (every GO collection: ~30 000 UniProt accessions).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;

/// First bytes of every index.
pub const MAGIC: &[u8; 8] = b"PGSIDX01";
/// Bytes of the header: the magic, then six u32.
pub const HEADER_LEN: usize = 32;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Decompressed bytes handed from the inflating thread to the parser at a time.
const GZIP_CHUNK: usize = 1 << 20;

/// A GMT file that cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum GmtError {
    #[error("gene-set file `{file}` looks gzip-compressed but could not be decompressed: {source}")]
    Gzip {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("gene-set file `{file}`, line {line}: {reason} (expected GMT: `id<TAB>name<TAB>member<TAB>member...`)")]
    BadLine { file: String, line: usize, reason: String },
    #[error("gene-set file `{file}` contains no gene sets")]
    Empty { file: String },
    #[error("gene-set file `{file}` is too large for the index ({what}); split it into several files")]
    TooLarge { file: String, what: &'static str },
}

/// FxHash (rustc's hasher) with a finaliser: interning sees ~2.5 million short-key lookups for GO BP, and SipHash
/// would take a large share of the compile time. HashDoS resistance is not needed for keys of a gene-set file.
#[derive(Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    /// Fx leaves the low bits (which pick the hashbrown bucket) depending on the first bytes of the key only;
    /// a murmur3 `fmix64`-style finaliser spreads all bits before use.
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Incremental GMT parser: fed whole lines, possibly in several pieces, so that a gzip file is parsed while it is
/// being inflated (on a second thread).
struct GmtParser<'f> {
    file: &'f str,
    lines_done: usize,
    ids: Vec<String>,
    names: Vec<String>,
    members: Vec<Vec<u32>>,
    keys: Vec<Box<str>>,
    key_ids: FxMap<Box<str>, u32>,
    seen_ids: FxMap<String, usize>,
    /// Per key id, 1 + the index of the last set that took it: deduplicates members without sorting each set.
    last_set: Vec<u32>,
}

impl<'f> GmtParser<'f> {
    fn new(file: &'f str) -> Self {
        GmtParser {
            file,
            lines_done: 0,
            ids: Vec::new(),
            names: Vec::new(),
            members: Vec::new(),
            keys: Vec::new(),
            key_ids: FxMap::default(),
            seen_ids: FxMap::default(),
            last_set: Vec::new(),
        }
    }

    fn bad(&self, line: usize, reason: String) -> GmtError {
        GmtError::BadLine { file: self.file.to_string(), line, reason }
    }

    fn too_large(&self, what: &'static str) -> GmtError {
        GmtError::TooLarge { file: self.file.to_string(), what }
    }

    fn parse_gzip(&mut self, bytes: &[u8]) -> Result<(), GmtError> {
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
            let inflater = scope.spawn(move || -> std::io::Result<()> {
                let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
                loop {
                    let mut buf = vec![0u8; GZIP_CHUNK];
                    let mut filled = 0;
                    while filled < GZIP_CHUNK {
                        let n = decoder.read(&mut buf[filled..])?;
                        if n == 0 {
                            break;
                        }
                        filled += n;
                    }
                    buf.truncate(filled);
                    // The parser hangs up on the first bad line; stop quietly then.
                    if filled == 0 || tx.send(buf).is_err() {
                        return Ok(());
                    }
                }
            });
            let mut carry: Vec<u8> = Vec::new();
            let parsed = (|| {
                for chunk in rx.iter() {
                    let mut rest: &[u8] = &chunk;
                    if !carry.is_empty() {
                        match rest.iter().position(|&b| b == b'\n') {
                            Some(nl) => {
                                carry.extend_from_slice(&rest[..=nl]);
                                rest = &rest[nl + 1..];
                                let line = std::mem::take(&mut carry);
                                self.parse_lines(&line)?;
                            }
                            None => {
                                carry.extend_from_slice(rest);
                                continue;
                            }
                        }
                    }
                    match rest.iter().rposition(|&b| b == b'\n') {
                        Some(nl) => {
                            self.parse_lines(&rest[..=nl])?;
                            carry.extend_from_slice(&rest[nl + 1..]);
                        }
                        None => carry.extend_from_slice(rest),
                    }
                }
                Ok(())
            })();
            drop(rx);
            let inflated = inflater.join().unwrap_or_else(|_| Err(std::io::Error::other("the inflating thread died")));
            // A corrupt stream shows up first as a truncated last line: report the gzip error, not the symptom.
            inflated.map_err(|source| GmtError::Gzip { file: self.file.to_string(), source })?;
            parsed?;
            self.parse_lines(&carry)
        })
    }

    /// Parses complete lines (`text` ends with a newline, or is the end of the file).
    fn parse_lines(&mut self, text: &[u8]) -> Result<(), GmtError> {
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        if text.is_empty() {
            return Ok(());
        }
        let text = std::str::from_utf8(text).map_err(|e| {
            let line = self.lines_done + 1 + text[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            self.bad(line, format!("not valid UTF-8 ({e})"))
        })?;
        for line in text.split('\n') {
            self.lines_done += 1;
            self.parse_line(line)?;
        }
        Ok(())
    }

    fn intern(&mut self, key: &str) -> Result<u32, GmtError> {
        if let Some(&id) = self.key_ids.get(key) {
            return Ok(id);
        }
        let id = u32::try_from(self.keys.len()).map_err(|_| self.too_large("2^32 distinct members"))?;
        self.keys.push(key.into());
        self.key_ids.insert(key.into(), id);
        self.last_set.push(0);
        Ok(id)
    }

    fn parse_line(&mut self, line: &str) -> Result<(), GmtError> {
        let line_no = self.lines_done;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            return Ok(());
        }
        let mut fields = line.split('\t');
        let id = fields.next().unwrap_or("").trim();
        if id.is_empty() {
            return Err(self.bad(line_no, "the gene-set id (first field) is empty".to_string()));
        }
        let Some(name) = fields.next() else {
            return Err(self.bad(line_no, format!("gene set `{id}` has no tab-separated name field")));
        };
        if let Some(&first) = self.seen_ids.get(id) {
            return Err(self.bad(line_no, format!("gene-set id `{id}` was already defined on line {first}")));
        }
        self.seen_ids.insert(id.to_string(), line_no);
        let stamp = u32::try_from(self.ids.len() + 1).map_err(|_| self.too_large("2^32 gene sets"))?;
        let mut members: Vec<u32> = Vec::new();
        for m in fields.map(str::trim).filter(|m| !m.is_empty()) {
            let k = self.intern(m)?;
            if self.last_set[k as usize] != stamp {
                self.last_set[k as usize] = stamp;
                members.push(k);
            }
        }
        self.ids.push(id.to_string());
        self.names.push(name.trim().to_string());
        self.members.push(members);
        Ok(())
    }

    /// Keys sorted by bytes (a key's id becomes its rank), members remapped and sorted, everything laid out.
    fn finish(self) -> Result<Vec<u8>, GmtError> {
        if self.ids.is_empty() {
            return Err(GmtError::Empty { file: self.file.to_string() });
        }
        let mut order: Vec<u32> = (0..self.keys.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.keys[a as usize].as_bytes().cmp(self.keys[b as usize].as_bytes()));
        let mut rank = vec![0u32; self.keys.len()];
        for (r, &k) in order.iter().enumerate() {
            rank[k as usize] = r as u32;
        }
        let n_sets = self.ids.len();
        let n_keys = self.keys.len();
        let n_members: usize = self.members.iter().map(Vec::len).sum();
        let width: usize = if n_keys <= 1 << 16 { 2 } else { 4 };
        let mut blob = String::new();
        let mut str_end: Vec<u32> = Vec::with_capacity(2 * n_sets + n_keys);
        let overflow = || GmtError::TooLarge { file: self.file.to_string(), what: "4 GiB of names" };
        for (id, name) in self.ids.iter().zip(&self.names) {
            blob.push_str(id);
            str_end.push(u32::try_from(blob.len()).map_err(|_| overflow())?);
            blob.push_str(name);
            str_end.push(u32::try_from(blob.len()).map_err(|_| overflow())?);
        }
        for &k in &order {
            blob.push_str(&self.keys[k as usize]);
            str_end.push(u32::try_from(blob.len()).map_err(|_| overflow())?);
        }
        let n_members_u32 = u32::try_from(n_members).map_err(|_| self.too_large("2^32 memberships"))?;
        let mut out =
            Vec::with_capacity(HEADER_LEN + 4 * (n_sets + 1 + str_end.len()) + width * n_members + blob.len());
        out.extend_from_slice(MAGIC);
        for v in [n_sets as u32, n_keys as u32, n_members_u32, width as u32, blob.len() as u32, 0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let mut start = 0u32;
        out.extend_from_slice(&start.to_le_bytes());
        for m in &self.members {
            start += m.len() as u32;
            out.extend_from_slice(&start.to_le_bytes());
        }
        for e in &str_end {
            out.extend_from_slice(&e.to_le_bytes());
        }
        let mut sorted: Vec<u32> = Vec::new();
        for m in &self.members {
            sorted.clear();
            sorted.extend(m.iter().map(|&k| rank[k as usize]));
            sorted.sort_unstable();
            for &k in &sorted {
                if width == 2 {
                    out.extend_from_slice(&(k as u16).to_le_bytes());
                } else {
                    out.extend_from_slice(&k.to_le_bytes());
                }
            }
        }
        out.extend_from_slice(blob.as_bytes());
        Ok(out)
    }
}

/// Compiles GMT text (`id \t name \t member...`, one set per line; plain or gzip, detected by its magic bytes) into
/// index bytes. Blank lines are skipped, empty member fields (trailing tabs) ignored, duplicate members
/// deduplicated. A line without a name field, with an empty id, with an id seen before, or not UTF-8 is an error
/// naming its line. `file_name` is used in error messages only.
pub fn compile_gmt(gmt: &[u8], file_name: &str) -> Result<Vec<u8>, GmtError> {
    let mut parser = GmtParser::new(file_name);
    if gmt.starts_with(&GZIP_MAGIC) {
        parser.parse_gzip(gmt)?;
    } else {
        parser.parse_lines(gmt)?;
    }
    parser.finish()
}
