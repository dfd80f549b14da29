//! The first lines of a delimited file as detection sees them: delimiter, header cells and a few data rows.

use crate::limits::{MAX_HEADER_BYTES, PEEK_ROWS};

const UTF8_BOM: &str = "\u{FEFF}";

/// Tab if the header line has a tab, else `;` if it has `;` and no `,`, else `,`. The header line is the first
/// line with a character other than white space.
pub fn detect_delimiter(text: &[u8]) -> u8 {
    let header = text.split(|&b| b == b'\n').find(|line| line.iter().any(|b| !b.is_ascii_whitespace())).unwrap_or(&[]);
    if header.contains(&b'\t') {
        b'\t'
    } else if header.contains(&b';') && !header.contains(&b',') {
        b';'
    } else {
        b','
    }
}

/// The name of a delimiter, for messages.
pub fn delimiter_name(delimiter: u8) -> &'static str {
    match delimiter {
        b'\t' => "tab",
        b';' => "semicolon",
        _ => "comma",
    }
}

/// Where the column names came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A delimited text file, with its delimiter.
    Text { delimiter: char },
    /// The schema of a Parquet file.
    Parquet,
    /// Not a table: a binary file detection recognised by its first bytes (Excel, zip, …).
    Binary,
}

/// What detection reads: the column names, a few data rows (possibly none), and where they came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeaderView {
    pub columns: Vec<String>,
    /// Up to [`PEEK_ROWS`] data rows after the header, split like it (cells trimmed).
    pub rows: Vec<Vec<String>>,
    pub source: Option<Source>,
    /// The first bytes of the file, for binary formats recognised by their magic number.
    pub magic: Vec<u8>,
}

/// Why the first lines could not be read as a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// Nothing but white space.
    Blank,
    /// The header line is longer than [`MAX_HEADER_BYTES`].
    HeaderTooLong { bytes: usize },
    /// The quoting could not be read.
    Unreadable { line: u64, message: String },
}

impl HeaderView {
    /// A view of the first lines of a text file. `complete` says whether `text` is the whole file; when it is not,
    /// a last line without its line end is ignored (it may have been cut). Binary files are recognised by their
    /// magic number and get an empty header with [`Source::Binary`].
    pub fn from_text(text: &[u8], complete: bool) -> Result<HeaderView, HeaderProblem> {
        let magic = text[..text.len().min(8)].to_vec();
        if crate::rules::binary_kind(&magic).is_some() {
            return Ok(HeaderView { source: Some(Source::Binary), magic, ..HeaderView::default() });
        }
        let text = text.strip_prefix(UTF8_BOM.as_bytes()).unwrap_or(text);
        let first_text = text.iter().position(|b| !b.is_ascii_whitespace()).ok_or(HeaderProblem::Blank)?;
        // The header line starts after the last line end before its first character (it may start with a tab).
        let start = text[..first_text].iter().rposition(|&b| b == b'\n' || b == b'\r').map_or(0, |e| e + 1);
        let header_end = text[start..].iter().position(|&b| b == b'\n' || b == b'\r').map_or(text.len(), |e| start + e);
        if header_end - start > MAX_HEADER_BYTES {
            return Err(HeaderProblem::HeaderTooLong { bytes: header_end - start });
        }
        let mut usable = &text[start..];
        if !complete {
            match usable.iter().rposition(|&b| b == b'\n' || b == b'\r') {
                Some(end) => usable = &usable[..end],
                None => return Err(HeaderProblem::HeaderTooLong { bytes: usable.len() }),
            }
        }
        let delimiter = detect_delimiter(usable);
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(usable);
        let mut view =
            HeaderView { source: Some(Source::Text { delimiter: delimiter as char }), magic, ..HeaderView::default() };
        for (i, record) in reader.byte_records().enumerate() {
            let record = record.map_err(|e| HeaderProblem::Unreadable {
                line: e.position().map_or(i as u64 + 1, |p| p.line()),
                message: e.to_string(),
            })?;
            let cells: Vec<String> = record.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect();
            if cells.iter().all(|c| c.is_empty()) {
                continue;
            }
            if view.columns.is_empty() {
                view.columns = cells;
            } else {
                view.rows.push(cells);
                if view.rows.len() == PEEK_ROWS {
                    break;
                }
            }
        }
        if view.columns.is_empty() {
            return Err(HeaderProblem::Blank);
        }
        Ok(view)
    }

    /// A view of a Parquet file's schema (column names only; no rows).
    pub fn from_schema(columns: Vec<String>) -> HeaderView {
        HeaderView { columns, rows: Vec::new(), source: Some(Source::Parquet), magic: b"PAR1".to_vec() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_rows_with_quotes_bom_and_blank_lines() {
        let v = HeaderView::from_text(b"\xEF\xBB\xBF\n\n\"Checked\"\t\"Abundance: F1: Sample\"\n\t\nFalse\t12\n", true)
            .unwrap();
        assert_eq!(v.columns, ["Checked", "Abundance: F1: Sample"]);
        assert_eq!(v.rows, [["False", "12"]]);
        assert_eq!(v.source, Some(Source::Text { delimiter: '\t' }));
    }

    #[test]
    fn a_header_may_start_with_an_empty_column_name() {
        let v = HeaderView::from_text(b"\n\tA\tB\nP1\t1\t2\n", true).unwrap();
        assert_eq!(v.columns, ["", "A", "B"]);
    }

    #[test]
    fn a_cut_last_line_is_dropped_unless_the_text_is_complete() {
        let v = HeaderView::from_text(b"id,A\nP1,1\nP2,2", false).unwrap();
        assert_eq!(v.rows.len(), 1);
        let v = HeaderView::from_text(b"id,A\nP1,1\nP2,2", true).unwrap();
        assert_eq!(v.rows.len(), 2);
    }

    #[test]
    fn blank_long_and_binary_inputs() {
        assert_eq!(HeaderView::from_text(b" \n\t\n", true), Err(HeaderProblem::Blank));
        let long = vec![b'a'; MAX_HEADER_BYTES + 1];
        assert_eq!(
            HeaderView::from_text(&long, true),
            Err(HeaderProblem::HeaderTooLong { bytes: MAX_HEADER_BYTES + 1 })
        );
        let v = HeaderView::from_text(b"PK\x03\x04\x14\x00", false).unwrap();
        assert_eq!(v.source, Some(Source::Binary));
    }

    #[test]
    fn delimiters() {
        assert_eq!(detect_delimiter(b"id\tA,B\n"), b'\t');
        assert_eq!(detect_delimiter(b"id;A;B\nP;1,5;2\n"), b';');
        assert_eq!(detect_delimiter(b"id,A;x,B\n"), b',');
        assert_eq!(detect_delimiter(b"\n\n  \nid;A\n"), b';');
        assert_eq!(detect_delimiter(b"id\n"), b',');
    }
}
