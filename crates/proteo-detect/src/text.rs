//! Cell texts as detection and the readers judge them: missing markers, numbers, excerpts for messages.

use crate::limits::MAX_QUOTED_CHARS;

/// Cells every reader takes as "missing" (case-insensitive), besides the empty cell.
pub const MISSING_MARKERS: &[&str] = &["na", "nan", "#n/a", "n/a", "null", "none", "-nan"];

/// Whether a trimmed cell means "no value" (empty, `NA`, `NaN`, `#N/A`, …, or one of the tool's `extra` markers).
pub fn is_missing(cell: &str, extra: &[String]) -> bool {
    let t = cell.trim();
    t.is_empty()
        || MISSING_MARKERS.iter().any(|m| m.eq_ignore_ascii_case(t))
        || extra.iter().any(|m| m.eq_ignore_ascii_case(t))
}

/// Whether a cell reads as a number (or a missing value): how detection tells sample columns from text annotation.
pub fn is_numeric_or_missing(cell: &str, extra: &[String]) -> bool {
    is_missing(cell, extra) || cell.trim().parse::<f64>().is_ok()
}

/// A cell, header or name cut for a message so a runaway field cannot flood it.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_numeric_cells() {
        for m in ["", " ", "NA", "nan", "#N/A", "NULL"] {
            assert!(is_missing(m, &[]), "{m}");
        }
        assert!(is_missing("Filtered", &["Filtered".to_string()]));
        assert!(!is_missing("Filtered", &[]));
        assert!(is_numeric_or_missing("1.5e3", &[]));
        assert!(!is_numeric_or_missing("Homo sapiens", &[]));
        assert_eq!(excerpt(&"é".repeat(100)).chars().count(), MAX_QUOTED_CHARS + 1);
    }
}
