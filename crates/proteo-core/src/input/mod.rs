//! Reading the user's files: intensity tables (plain matrix, MaxQuant) and the sample design.

mod design;
pub(crate) mod error;
mod matrix;
mod maxquant;
pub(crate) mod text;

pub use design::{align_to_design, read_design};
pub use error::InputError;

use crate::model::{InputFormat, InputReport, IntensityTable};
use crate::quant::{self, QuantParams};

/// Reads an intensity table (UTF-8, optionally gzip-compressed; tab, comma or semicolon separated). `file_name` is
/// only for messages. `format: None` detects the format from the header: MaxQuant when it has `Protein IDs` and an
/// `LFQ intensity <s>` or `Intensity <s>` column, a precursor-level report (Parquet, or a header
/// [`quant::looks_like_precursor_report`] recognises) quantified with the default [`QuantParams`], a plain matrix
/// otherwise.
pub fn read_intensities(
    bytes: &[u8],
    file_name: &str,
    format: Option<InputFormat>,
) -> Result<(IntensityTable, InputReport), InputError> {
    read_input(bytes, file_name, format, &QuantParams::default())
}

/// [`read_intensities`] with the parameters precursor-level reports are quantified with.
pub fn read_input(
    bytes: &[u8],
    file_name: &str,
    format: Option<InputFormat>,
    quant_params: &QuantParams,
) -> Result<(IntensityTable, InputReport), InputError> {
    if format.is_none() && quant::is_parquet(bytes) {
        return quant::read_precursor_report(bytes, file_name, quant_params);
    }
    let text = text::decode(bytes, file_name)?;
    let rows = text::Rows::open(&text, file_name)?;
    if format.is_none() && quant::looks_like_precursor_report(&rows.header).is_some() {
        drop(rows);
        return quant::read_precursor_text(&text, file_name, quant_params);
    }
    let format =
        format.unwrap_or(if maxquant::is_maxquant(&rows.header) { InputFormat::Maxquant } else { InputFormat::Matrix });
    match format {
        InputFormat::Matrix => matrix::read(rows, file_name),
        InputFormat::Maxquant => maxquant::read(rows, file_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_picks_maxquant_only_with_protein_ids_and_sample_intensities() {
        let fmt = |text: &str| read_intensities(text.as_bytes(), "x", None).map(|(_, r)| r.format);
        assert_eq!(fmt("Protein IDs\tLFQ intensity A\nP1\t1\n").unwrap(), "maxquant");
        assert_eq!(fmt("Protein IDs\tIntensity A\nP1\t1\n").unwrap(), "maxquant");
        // Only the total `Intensity` column: not MaxQuant per-sample data, read as a matrix with sample `Intensity`.
        let (t, r) = read_intensities(b"Protein IDs\tIntensity\nP1\t1\n", "x", None).unwrap();
        assert_eq!((r.format.as_str(), t.samples[0].as_str()), ("matrix", "Intensity"));
        assert_eq!(fmt("id,LFQ intensity A\nP1,1\n").unwrap(), "matrix");
    }

    #[test]
    fn crlf_and_utf16_through_the_public_api() {
        let (t, _) = read_intensities(b"id\tS1\r\nP1\t2\r\n", "x", None).unwrap();
        assert_eq!((t.protein_ids[0].as_str(), t.values[0]), ("P1", 2.0));
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("id\tS1\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert!(matches!(read_intensities(&utf16, "x", None), Err(InputError::Utf16 { .. })));
        assert!(matches!(read_design(&utf16, "x"), Err(InputError::Utf16 { .. })));
        assert!(matches!(
            read_design(b"label\tcondition\nH\xE91\tA\n", "x"),
            Err(InputError::InvalidUtf8 { line: 2, .. })
        ));
    }

    #[test]
    fn odd_inputs_never_panic() {
        let inputs: &[&[u8]] = &[
            b"",
            b"\n",
            b"\t",
            b"\t\n\t",
            b"\"",
            b"\"unterminated\tquote\n1\t2",
            b"id",
            b"id\n",
            b"id\nP1\n",
            b"\xEF\xBB\xBF",
            b"\x00",
            b"\x00\x00\x00\x00",
            b"\x1F\x8B",
            b"a\tb\n\t\t\t\t\n",
            b";;;\n;;;\n",
            b"id\tS\nP\t\"1\n2\"\n",
            b"\r\r\r",
            b"id\t\nP1\t\n",
        ];
        for bytes in inputs {
            for format in [None, Some(InputFormat::Matrix), Some(InputFormat::Maxquant)] {
                assert!(read_intensities(bytes, "x", format).is_err(), "{bytes:?} {format:?}");
            }
            assert!(read_design(bytes, "x").is_err(), "{bytes:?}");
        }
    }
}
