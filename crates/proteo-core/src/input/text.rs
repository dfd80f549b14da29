//! Bytes to delimited rows: gzip, BOM and encoding checks, delimiter detection, field-count checks, cell parsing.

use std::borrow::Cow;
use std::io::Read;

use csv::ByteRecord;

use proteo_detect::header::{delimiter_name, detect_delimiter};

use super::error::{excerpt, InputError};
use crate::limits::{MAX_DECOMPRESSED_BYTES, MAX_HEADER_BYTES};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const GZIP_MAGIC: &[u8] = b"\x1F\x8B";
/// How many leading bytes the UTF-16-without-BOM check looks at.
const UTF16_SNIFF_BYTES: usize = 1024;

/// Checks the encoding and returns the text as UTF-8 bytes without a BOM (decompressed when gzip).
pub(crate) fn decode<'a>(bytes: &'a [u8], file: &str) -> Result<Cow<'a, [u8]>, InputError> {
    if let Some((tool, kind)) = proteo_detect::binary_kind(bytes) {
        return Err(InputError::WrongFile {
            file: file.to_string(),
            looks_like: format!("an {tool} {kind}"),
            reason: "it starts with the bytes of a zip/Office file, not with a line of column names".into(),
            advice: "open it in Excel and save the sheet as \"Text (Tab delimited)\" (or unzip the archive), then use \
                     the .txt"
                .into(),
        });
    }
    if bytes.starts_with(GZIP_MAGIC) {
        let mut out = Vec::new();
        let mut decoder = flate2::read::MultiGzDecoder::new(bytes).take(MAX_DECOMPRESSED_BYTES + 1);
        decoder
            .read_to_end(&mut out)
            .map_err(|e| InputError::Gzip { file: file.to_string(), message: e.to_string() })?;
        if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
            return Err(InputError::TooLarge { file: file.to_string(), limit_mib: MAX_DECOMPRESSED_BYTES >> 20 });
        }
        check_text(&out, file)?;
        let start = bom_len(&out);
        out.drain(..start);
        return Ok(Cow::Owned(out));
    }
    check_text(bytes, file)?;
    Ok(Cow::Borrowed(&bytes[bom_len(bytes)..]))
}

fn bom_len(bytes: &[u8]) -> usize {
    if bytes.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    }
}

fn check_text(bytes: &[u8], file: &str) -> Result<(), InputError> {
    if bytes.is_empty() {
        return Err(InputError::Empty { file: file.to_string() });
    }
    if let Some(byte_order) = utf16_byte_order(bytes) {
        return Err(InputError::Utf16 { file: file.to_string(), byte_order });
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        let offset = e.valid_up_to();
        let line = 1 + count_line_breaks(&bytes[..offset]);
        return Err(InputError::InvalidUtf8 {
            file: file.to_string(),
            line,
            offset: offset as u64,
            byte: bytes[offset],
        });
    }
    Ok(())
}

/// `Some("little-endian" | "big-endian")` when the bytes are UTF-16: a BOM, or NUL bytes in every other position
/// as ASCII text saved as UTF-16 has.
fn utf16_byte_order(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\xFF\xFE") {
        return Some("little-endian");
    }
    if bytes.starts_with(b"\xFE\xFF") {
        return Some("big-endian");
    }
    let head = &bytes[..bytes.len().min(UTF16_SNIFF_BYTES)];
    let pairs = head.len() / 2;
    if pairs == 0 {
        return None;
    }
    let nul_even = head.chunks_exact(2).filter(|p| p[0] == 0 && p[1] != 0).count();
    let nul_odd = head.chunks_exact(2).filter(|p| p[1] == 0 && p[0] != 0).count();
    // Plain UTF-8 text has no NUL bytes at all; demand that most pairs look like UTF-16 ASCII.
    if nul_odd * 4 >= pairs * 3 {
        Some("little-endian")
    } else if nul_even * 4 >= pairs * 3 {
        Some("big-endian")
    } else {
        None
    }
}

/// A delimited file read row by row: the header is read on open (refused when longer than [`MAX_HEADER_BYTES`]),
/// blank rows (empty or only delimiters and spaces) are skipped. [`Rows::next_row`] requires every row to have as
/// many fields as the header; [`Rows::next_row_filled`] accepts shorter rows (their missing cells read as empty,
/// as R `read.delim(fill = TRUE)` and pandas read them) and longer rows whose extra cells are empty.
pub(crate) struct Rows<'a> {
    file: &'a str,
    text: &'a [u8],
    reader: csv::Reader<&'a [u8]>,
    delimiter: u8,
    n_fields: usize,
    /// Line numbers are counted here rather than taken from `csv`, whose record positions point at the `\n` of a
    /// CRLF pair (one line early) and which does not count a lone `\r` (old Mac Excel) as a line end.
    cursor: usize,
    cursor_line: u64,
    pub header: Vec<String>,
}

impl<'a> Rows<'a> {
    /// Opens decoded text (see [`decode`]); errors when there is no header line.
    pub fn open(text: &'a [u8], file: &'a str) -> Result<Self, InputError> {
        let first_text = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
        let start = text[..first_text].iter().rposition(|&b| b == b'\n' || b == b'\r').map_or(0, |e| e + 1);
        let header_bytes = text[start..].iter().position(|&b| b == b'\n' || b == b'\r').unwrap_or(text.len() - start);
        if header_bytes > MAX_HEADER_BYTES {
            return Err(InputError::HeaderTooLong {
                file: file.to_string(),
                bytes: header_bytes,
                limit: MAX_HEADER_BYTES,
            });
        }
        let delimiter = detect_delimiter(text);
        let reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text);
        let mut rows =
            Rows { file, text, reader, delimiter, n_fields: 0, cursor: 0, cursor_line: 1, header: Vec::new() };
        let mut record = ByteRecord::new();
        if !rows.next_nonblank(&mut record)? {
            return Err(InputError::Blank { file: file.to_string() });
        }
        rows.header = record.iter().map(|f| cell_text(f).trim().to_string()).collect();
        rows.n_fields = record.len();
        Ok(rows)
    }

    /// Reads the next non-blank data row into `record`; `Some(line)` with its 1-based line number, `None` at the end.
    pub fn next_row(&mut self, record: &mut ByteRecord) -> Result<Option<u64>, InputError> {
        let Some(line) = self.next_raw(record)? else { return Ok(None) };
        if record.len() != self.n_fields {
            return Err(self.ragged(line, record.len()));
        }
        Ok(Some(line))
    }

    /// Like [`Rows::next_row`], but a row shorter than the header is accepted (`Some((line, true))`: read its
    /// missing cells as empty), and so is a longer row whose extra cells are all empty.
    pub fn next_row_filled(&mut self, record: &mut ByteRecord) -> Result<Option<(u64, bool)>, InputError> {
        let Some(line) = self.next_raw(record)? else { return Ok(None) };
        if record.len() > self.n_fields && record.iter().skip(self.n_fields).any(|f| !f.trim_ascii().is_empty()) {
            return Err(self.ragged(line, record.len()));
        }
        Ok(Some((line, record.len() < self.n_fields)))
    }

    /// The next non-blank row, whatever its width, with its line number.
    pub fn next_raw(&mut self, record: &mut ByteRecord) -> Result<Option<u64>, InputError> {
        if !self.next_nonblank(record)? {
            return Ok(None);
        }
        Ok(Some(self.line_of(record)))
    }

    /// The error for a row of `found` fields at `line`.
    pub fn ragged(&self, line: u64, found: usize) -> InputError {
        InputError::Ragged {
            file: self.file.to_string(),
            line,
            expected: self.n_fields,
            found,
            delimiter: delimiter_name(self.delimiter),
        }
    }

    /// Fields in the header line.
    pub fn n_fields(&self) -> usize {
        self.n_fields
    }

    fn next_nonblank(&mut self, record: &mut ByteRecord) -> Result<bool, InputError> {
        loop {
            let more = self.reader.read_byte_record(record).map_err(|e| InputError::Csv {
                file: self.file.to_string(),
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })?;
            if !more {
                return Ok(false);
            }
            if record.iter().any(|f| f.iter().any(|b| !b.is_ascii_whitespace())) {
                return Ok(true);
            }
        }
    }

    /// The line a record starts on. Records come in file order, so counting resumes where the last one stopped.
    fn line_of(&mut self, record: &ByteRecord) -> u64 {
        let start = record.position().map_or(self.cursor, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        let mut start = start.clamp(self.cursor, self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        self.cursor_line += count_line_breaks(&self.text[self.cursor..start]);
        self.cursor = start;
        self.cursor_line
    }
}

/// Line ends in `bytes`: `\n`, `\r\n` or a lone `\r`. A slice must not split a `\r\n` pair.
fn count_line_breaks(bytes: &[u8]) -> u64 {
    let mut n = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            n += 1;
        }
    }
    n
}

/// A field as text. The whole input was checked to be UTF-8 and delimiters are ASCII, so this never loses data.
pub(crate) fn cell_text(field: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(field)
}

/// Why a cell is not an intensity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellProblem {
    NotNumber,
    DecimalComma,
    NotFinite,
}

/// Parses an intensity: a number (negative allowed, log-scale input is), `NaN` for empty, `NA`, `NaN`, `#N/A`
/// and the other markers of [`proteo_detect::text::is_missing`], and the tool's own `extra` markers (Spectronaut
/// `Filtered`). `0` stays `0.0`: QC decides what a zero means.
pub(crate) fn parse_cell(field: &[u8], extra: &[String]) -> Result<f64, CellProblem> {
    let Ok(text) = std::str::from_utf8(field) else {
        return Err(CellProblem::NotNumber);
    };
    let t = text.trim();
    if proteo_detect::text::is_missing(t, extra) {
        return Ok(f64::NAN);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) if v.is_nan() => Ok(f64::NAN),
        Ok(_) => Err(CellProblem::NotFinite),
        Err(_) if t.contains(',') => {
            let without = t.replace(',', "");
            let swapped = t.replacen(',', ".", 1);
            if without.parse::<f64>().is_ok() || swapped.parse::<f64>().is_ok() {
                Err(CellProblem::DecimalComma)
            } else {
                Err(CellProblem::NotNumber)
            }
        }
        Err(_) => Err(CellProblem::NotNumber),
    }
}

/// Turns a [`CellProblem`] into the error for `file`, `line`, `column`.
pub(crate) fn cell_error(
    problem: CellProblem,
    file: &str,
    line: u64,
    column: &str,
    field: &[u8],
    hint: &str,
) -> InputError {
    let (file, column) = (file.to_string(), column.to_string());
    let found = excerpt(cell_text(field).trim());
    match problem {
        CellProblem::NotNumber => InputError::NotNumber { file, line, column, found, hint: hint.to_string() },
        CellProblem::DecimalComma => InputError::DecimalComma { file, line, column, found },
        CellProblem::NotFinite => InputError::NotFinite { file, line, column, found },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str, bom: bool) -> Vec<u8> {
        let mut out = if bom { vec![0xFF, 0xFE] } else { vec![] };
        out.extend(s.encode_utf16().flat_map(|u| u.to_le_bytes()));
        out
    }

    fn utf16be(s: &str, bom: bool) -> Vec<u8> {
        let mut out = if bom { vec![0xFE, 0xFF] } else { vec![] };
        out.extend(s.encode_utf16().flat_map(|u| u.to_be_bytes()));
        out
    }

    #[test]
    fn utf16_with_and_without_bom_is_refused() {
        let text = "id\tS1\nP1\t1\n";
        for (bytes, order) in [
            (utf16le(text, true), "little-endian"),
            (utf16be(text, true), "big-endian"),
            (utf16le(text, false), "little-endian"),
            (utf16be(text, false), "big-endian"),
        ] {
            let err = decode(&bytes, "t.txt").unwrap_err();
            assert_eq!(err, InputError::Utf16 { file: "t.txt".into(), byte_order: order });
            let msg = err.to_string();
            assert!(msg.contains("t.txt") && msg.contains("UTF-16") && msg.contains("UTF-8"), "{msg}");
            assert!(msg.contains("Tab delimited"), "{msg}");
        }
    }

    #[test]
    fn latin1_byte_names_line_and_offset() {
        // "é" in Latin-1 is the single byte 0xE9, invalid in UTF-8.
        let bytes = b"id\tS1\nP1\t1\nCAF\xE9\t2\n";
        let err = decode(bytes, "m.tsv").unwrap_err();
        assert_eq!(err, InputError::InvalidUtf8 { file: "m.tsv".into(), line: 3, offset: 14, byte: 0xE9 });
        let msg = err.to_string();
        assert!(msg.starts_with("m.tsv, line 3: byte 0xE9 at byte offset 14"), "{msg}");
    }

    #[test]
    fn bom_is_stripped_and_empty_is_refused() {
        assert_eq!(&*decode(b"\xEF\xBB\xBFid,S1\n", "x").unwrap(), b"id,S1\n");
        assert_eq!(decode(b"", "x.csv").unwrap_err(), InputError::Empty { file: "x.csv".into() });
        let only_bom = decode(b"\xEF\xBB\xBF", "x.csv").unwrap();
        assert_eq!(Rows::open(&only_bom, "x.csv").err(), Some(InputError::Blank { file: "x.csv".into() }));
    }

    #[test]
    fn gzip_is_decompressed() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"\xEF\xBB\xBFid\tS1\nP1\t1\n").unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(&*decode(&gz, "x.gz").unwrap(), b"id\tS1\nP1\t1\n");
        let err = decode(&gz[..gz.len() / 2], "x.gz").unwrap_err();
        assert!(matches!(err, InputError::Gzip { .. }), "{err:?}");
    }

    #[test]
    fn rows_skip_blank_lines_and_check_field_counts() {
        let text = b"\r\nid\tA\tB\r\nP1\t1\t2\r\n\t\t\r\n\r\nP2\t3\r\n";
        let mut rows = Rows::open(text, "r.tsv").unwrap();
        assert_eq!(rows.header, ["id", "A", "B"]);
        let mut rec = ByteRecord::new();
        assert_eq!(rows.next_row(&mut rec).unwrap(), Some(3));
        let err = rows.next_row(&mut rec).unwrap_err();
        assert_eq!(err, InputError::Ragged { file: "r.tsv".into(), line: 6, expected: 3, found: 2, delimiter: "tab" });
        assert!(err.to_string().starts_with("r.tsv, line 6: expected 3 fields like the header, found 2"));
        let mut rows = Rows::open(text, "r.tsv").unwrap();
        assert_eq!(rows.next_row_filled(&mut rec).unwrap(), Some((3, false)));
        assert_eq!(rows.next_row_filled(&mut rec).unwrap(), Some((6, true)));
        let mut rows = Rows::open(b"a\tb\n1\t2\t\t\n1\t2\t3\n", "r.tsv").unwrap();
        assert_eq!(rows.next_row_filled(&mut rec).unwrap(), Some((2, false)));
        assert!(matches!(rows.next_row_filled(&mut rec), Err(InputError::Ragged { line: 3, found: 3, .. })));
    }

    #[test]
    fn an_overlong_header_line_is_refused_before_it_is_parsed() {
        let mut text = vec![b'a'; MAX_HEADER_BYTES + 1];
        text.extend_from_slice(b"\n1\n");
        let err = Rows::open(&text, "wide.tsv").err().unwrap();
        assert!(matches!(err, InputError::HeaderTooLong { bytes, .. } if bytes == MAX_HEADER_BYTES + 1));
        assert!(err.to_string().len() < 300);
    }

    #[test]
    fn line_numbers_for_cr_only_crlf_and_quoted_line_breaks() {
        let mut rec = ByteRecord::new();
        for text in [&b"id,S\rP1,1\r\rP2,x\r"[..], b"id,S\r\nP1,1\r\n\r\nP2,x\r\n", b"id,S\nP1,1\n\nP2,x"] {
            let mut rows = Rows::open(text, "r.csv").unwrap();
            assert_eq!(rows.next_row(&mut rec).unwrap(), Some(2));
            assert_eq!(rows.next_row(&mut rec).unwrap(), Some(4));
            assert_eq!(rows.next_row(&mut rec).unwrap(), None);
        }
        let mut rows = Rows::open(b"id,\"S\nname\"\n\"P\n1\",1\nP2,2\n", "r.csv").unwrap();
        assert_eq!(rows.header[1], "S\nname");
        assert_eq!(rows.next_row(&mut rec).unwrap(), Some(3));
        assert_eq!(rows.next_row(&mut rec).unwrap(), Some(5));
    }

    #[test]
    fn cells_parse_numbers_and_missing_markers() {
        for missing in ["", " ", "NA", "na", "NaN", "nan", "#N/A", "-nan", "n/a", "NULL"] {
            assert!(parse_cell(missing.as_bytes(), &[]).unwrap().is_nan(), "{missing}");
        }
        assert!(parse_cell(b"Filtered", &["Filtered".to_string()]).unwrap().is_nan());
        assert_eq!(parse_cell(b"Filtered", &[]), Err(CellProblem::NotNumber));
        assert_eq!(parse_cell(b"0", &[]), Ok(0.0));
        assert_eq!(parse_cell(b" 3331300 ", &[]), Ok(3331300.0));
        assert_eq!(parse_cell(b"-1.5e3", &[]), Ok(-1500.0));
        assert_eq!(parse_cell(b"1,234.5", &[]), Err(CellProblem::DecimalComma));
        assert_eq!(parse_cell(b"1234,5", &[]), Err(CellProblem::DecimalComma));
        assert_eq!(parse_cell(b"1.234,5", &[]), Err(CellProblem::DecimalComma));
        assert_eq!(parse_cell(b"inf", &[]), Err(CellProblem::NotFinite));
        assert_eq!(parse_cell(b"-Infinity", &[]), Err(CellProblem::NotFinite));
        assert_eq!(parse_cell(b"1e999", &[]), Err(CellProblem::NotFinite));
        assert_eq!(parse_cell(b"a,b", &[]), Err(CellProblem::NotNumber));
        assert_eq!(parse_cell(b"\xFF", &[]), Err(CellProblem::NotNumber));
    }
}
