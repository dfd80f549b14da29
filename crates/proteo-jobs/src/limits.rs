//! Limits every shell enforces the same way: the largest upload, and how much text an error may carry.

/// Largest accepted upload (512 MiB). A large DIA-NN or MaxQuant protein table is tens to a few hundred MB; ingest
/// holds the file and its parsed matrix at once (about 3× the file, measured: docs/limits.md), so the ingest Lambda's
/// memory (infra/template.yaml) is sized from this number. A bigger table is split by samples into several jobs.
pub const MAX_UPLOAD_BYTES: u64 = 512 << 20;

/// Longest error or progress message kept in a job item, written to a log line or shown by the API, in characters.
/// A reader's sentence quotes at most a line fragment; a 50 MB header must not become a 50 MB job file.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// `text` cut to at most `max` characters (the last one `…` when something was cut), control characters other
/// than newline and tab shown as spaces.
pub fn bounded(text: &str, max: usize) -> String {
    let clean = |c: char| if c.is_control() && c != '\n' && c != '\t' { ' ' } else { c };
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(max).map(clean).collect();
    if chars.next().is_some() {
        out.pop();
        out.push('…');
    }
    out
}

/// [`bounded`] to [`MAX_MESSAGE_CHARS`].
pub fn message(text: &str) -> String {
    bounded(text, MAX_MESSAGE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_by_characters_and_marked() {
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("abcd", 3), "ab…");
        assert_eq!(bounded("a\u{0}b\nc", 10), "a b\nc");
        let huge = "é".repeat(50 << 20);
        let cut = message(&huge);
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS);
        assert!(cut.ends_with('…'));
    }
}
