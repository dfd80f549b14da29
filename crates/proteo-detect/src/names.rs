//! Run and sample names as tools spell them: the key two spellings of one run share, and the closest other name.

use std::collections::HashMap;

/// Extensions of raw and converted MS run files (compared case-insensitively), stripped repeatedly from the end:
/// Thermo `.raw`, Bruker `.d` (and `.d.zip`), mzML/mzXML, SCIEX `.wiff`/`.wiff2`, DIA-NN `.dia`, Spectronaut
/// `.htrms`, Shimadzu `.lcd`, `.mgf`, and compression.
pub const RUN_EXTENSIONS: &[&str] =
    &[".raw", ".d", ".mzml", ".mzxml", ".wiff", ".wiff2", ".dia", ".htrms", ".lcd", ".mgf", ".zip", ".gz", ".tdf"];

/// Text tools add after a run name in a column header (compared case-insensitively), longest first.
pub const TOOL_SUFFIXES: &[&str] = &[
    ".pg.quantity",
    " maxlfq intensity",
    " razor intensity",
    " total intensity",
    " unique intensity",
    " intensity",
    "_lfq",
];

/// Text tools put before a sample name in a column header (compared case-insensitively), longest first.
pub const TOOL_PREFIXES: &[&str] =
    &["reporter intensity corrected ", "lfq intensity ", "intensity ", "ibaq ", "abundance: ", "abundance "];

/// Longest name, in characters, compared when looking for the closest candidate (edit distance is quadratic in it).
pub const MAX_COMPARED_CHARS: usize = 64;
/// Most candidates an unmatched name is compared against: the search stays linear in the number of columns.
pub const MAX_CANDIDATES: usize = 2_000;

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    (s.is_char_boundary(cut) && s[cut..].eq_ignore_ascii_case(suffix)).then(|| &s[..cut])
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

/// The last path component: directories written with `/` or `\` (DIA-NN 1.8 writes full paths) are dropped.
pub fn basename(name: &str) -> &str {
    let t = name.trim();
    t.rsplit(['/', '\\']).next().unwrap_or(t)
}

/// `[12] ` (Spectronaut run pivot) or `X.12..` (the same header after R's `check.names`) at the start.
fn run_index_prefix(name: &str) -> Option<&str> {
    if let Some(rest) = name.strip_prefix('[') {
        let close = rest.find(']')?;
        if close > 0 && rest[..close].bytes().all(|b| b.is_ascii_digit()) {
            return Some(rest[close + 1..].trim_start());
        }
    }
    if let Some(rest) = name.strip_prefix("X.") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            return rest[digits..].strip_prefix("..");
        }
    }
    None
}

/// A run file name without its extensions (`a.d.zip` → `a`), after dropping directories.
pub fn run_stem(name: &str) -> &str {
    let mut s = basename(name);
    loop {
        match RUN_EXTENSIONS.iter().find_map(|e| strip_suffix_ci(s, e)) {
            Some(rest) if !rest.is_empty() => s = rest,
            _ => return s,
        }
    }
}

/// The key two spellings of one run share: directories, `[n] ` / `X.n..` prefixes, tool prefixes and suffixes
/// (`.PG.Quantity`, ` MaxLFQ Intensity`, `LFQ intensity `, …) and run-file extensions removed.
/// `/data/A_01.raw`, `[1] A_01.raw.PG.Quantity`, `X.1..A_01.raw.PG.Quantity` and `A_01` all give `A_01`.
pub fn run_key(name: &str) -> String {
    let mut s = basename(name);
    if let Some(rest) = run_index_prefix(s) {
        s = rest;
    }
    if let Some(rest) = TOOL_PREFIXES.iter().find_map(|p| strip_prefix_ci(s, p)) {
        if !rest.trim().is_empty() {
            s = rest.trim_start();
        }
    }
    if let Some(rest) = TOOL_SUFFIXES.iter().find_map(|p| strip_suffix_ci(s, p)) {
        if !rest.trim().is_empty() {
            s = rest.trim_end();
        }
    }
    run_stem(s).to_string()
}

/// [`run_key`] with letter case and punctuation ignored (R's `make.names` turns `-` and spaces into `.`; Excel and
/// people change case): the last resort when matching names.
pub fn loose_key(name: &str) -> String {
    run_key(name).chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { '.' }).collect()
}

/// The name of `candidates` closest to `name` by edit distance on [`run_key`]s (first [`MAX_COMPARED_CHARS`]
/// characters; at most [`MAX_CANDIDATES`] candidates looked at). `None` when there are no candidates.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let cut = |s: &str| run_key(s).chars().take(MAX_COMPARED_CHARS).collect::<String>();
    let key = cut(name);
    candidates
        .into_iter()
        .take(MAX_CANDIDATES)
        .map(|c| (strsim::levenshtein(&key, &cut(c)), c))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Display names for run columns: each header's [`run_key`] when those are unique and non-empty, else the headers
/// as they are (two runs of the same name in different folders keep their paths).
pub fn clean_run_names(headers: &[String]) -> Vec<String> {
    let keys: Vec<String> = headers.iter().map(|h| run_key(h)).collect();
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    if keys.iter().all(|k| !k.is_empty() && seen.insert(k.as_str())) {
        keys
    } else {
        headers.to_vec()
    }
}

/// For each wanted name, the index of the available name it is: the same text, else the same [`run_key`], else the
/// same [`loose_key`]; at each step only a key that one wanted and one available name share counts, and every
/// available name is taken at most once. Linear in the number of names (hash maps, no pairwise comparison).
pub fn match_names(wanted: &[String], available: &[String]) -> Vec<Option<usize>> {
    let mut out = vec![None; wanted.len()];
    let mut used = vec![false; available.len()];
    let exact = |s: &str| s.trim().to_string();
    let levels: [&dyn Fn(&str) -> String; 3] = [&exact, &run_key, &loose_key];
    for key in levels {
        let mut index: HashMap<String, Option<usize>> = HashMap::with_capacity(available.len());
        for (i, a) in available.iter().enumerate().filter(|(i, _)| !used[*i]) {
            index.entry(key(a)).and_modify(|e| *e = None).or_insert(Some(i));
        }
        let mut wanted_keys: HashMap<String, usize> = HashMap::with_capacity(wanted.len());
        let keys: Vec<Option<String>> = wanted.iter().zip(&out).map(|(w, o)| o.is_none().then(|| key(w))).collect();
        for k in keys.iter().flatten() {
            *wanted_keys.entry(k.clone()).or_default() += 1;
        }
        for (w, k) in keys.iter().enumerate() {
            let Some(k) = k else { continue };
            if wanted_keys[k] != 1 {
                continue;
            }
            if let Some(Some(i)) = index.get(k) {
                if !used[*i] {
                    out[w] = Some(*i);
                    used[*i] = true;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_run_spelled_by_every_tool_has_one_key() {
        for spelling in [
            "/scratch/cpanse/PXD028735/dia/LFQ_A_Beta_01.mzML",
            r"D:\projects\astral\LFQ_A_Beta_01.raw",
            "LFQ_A_Beta_01.raw",
            "LFQ_A_Beta_01.d.zip",
            "[3] LFQ_A_Beta_01.raw.PG.Quantity",
            "X.3..LFQ_A_Beta_01.raw.PG.Quantity",
            "LFQ_A_Beta_01 MaxLFQ Intensity",
            "LFQ intensity LFQ_A_Beta_01",
            "  LFQ_A_Beta_01  ",
            "LFQ_A_Beta_01",
        ] {
            assert_eq!(run_key(spelling), "LFQ_A_Beta_01", "{spelling}");
        }
        assert_eq!(run_key("A_LFQ"), "A");
        assert_eq!(run_key("Intensity"), "Intensity", "a bare tool word is a name, not an empty key");
        assert_eq!(run_key(".raw"), ".raw");
        assert_eq!(run_key("[x] a"), "[x] a");
    }

    #[test]
    fn loose_keys_forgive_case_and_r_mangling() {
        assert_eq!(loose_key("C3L-00606-N"), loose_key("C3L.00606.N"));
        assert_eq!(loose_key("sampleD09.raw"), loose_key("sampled09"));
        assert_ne!(loose_key("S1"), loose_key("S11"));
    }

    #[test]
    fn names_match_exactly_then_by_key_then_loosely_and_each_column_once() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let available = v(&["/data/A_01.raw", "/data/A_02.raw", "C3L.00606.N", "B_01", "B_01.raw"]);
        let wanted = v(&["A_02", "A_01", "C3L-00606-N", "B_01", "nope"]);
        assert_eq!(match_names(&wanted, &available), [Some(1), Some(0), Some(2), Some(3), None]);
        // Two design names with one key: neither is guessed.
        assert_eq!(match_names(&v(&["x.raw", "x.d"]), &v(&["x"])), [None, None]);
    }

    #[test]
    fn matching_is_linear_in_the_number_of_columns() {
        let available: Vec<String> = (0..200_000).map(|i| format!("/runs/sample_{i}.raw")).collect();
        let wanted: Vec<String> = (0..200_000).rev().map(|i| format!("sample_{i}")).collect();
        let m = match_names(&wanted, &available);
        assert!(m.iter().enumerate().all(|(w, i)| *i == Some(199_999 - w)));
    }

    #[test]
    fn closest_candidate_by_edit_distance() {
        let cands = ["H1", "H2", "CD34_Low_1", "N5"];
        assert_eq!(closest("H_1", cands), Some("H1"));
        assert_eq!(closest("CD34Low1.raw", cands), Some("CD34_Low_1"));
        assert_eq!(closest("x", std::iter::empty()), None);
    }

    #[test]
    fn clean_names_fall_back_to_headers_when_keys_collide() {
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(clean_run_names(&h(&["/a/x.raw", "/a/y.raw"])), ["x", "y"]);
        assert_eq!(clean_run_names(&h(&["/a/x.raw", "/b/x.raw"])), ["/a/x.raw", "/b/x.raw"]);
    }
}
