//! Box-plot statistics: the five numbers a box shows (type-7 quartiles, Tukey whiskers), computed where the values
//! are (QC) and drawn by the report.

/// Whiskers reach the most extreme value within this many interquartile ranges of the box (Tukey's rule; R
/// `boxplot.stats` `coef = 1.5`).
pub const WHISKER_IQR: f64 = 1.5;

/// Lower whisker, Q1, median, Q3, upper whisker of the finite values (type-7 quantiles, as R's default); `None`
/// when there is no finite value.
///
/// The five numbers are themselves a sample whose five numbers they are (each whisker end is a value within the
/// fences of the same quartiles), so a box drawn from `[w0, q1, median, q3, w1]` is the box of the whole sample.
pub fn five_numbers(values: &[f64]) -> Option<[f64; 5]> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| {
        let h = (v.len() - 1) as f64 * p;
        let (f, c) = (h.floor() as usize, h.ceil() as usize);
        v[f] + (h - f as f64) * (v[c] - v[f])
    };
    let (q1, med, q3) = (q(0.25), q(0.5), q(0.75));
    let iqr = q3 - q1;
    let w0 = v.iter().copied().find(|&x| x >= q1 - WHISKER_IQR * iqr).unwrap_or(q1);
    let w1 = v.iter().rev().copied().find(|&x| x <= q3 + WHISKER_IQR * iqr).unwrap_or(q3);
    Some([w0, q1, med, q3, w1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_numbers_are_r_type_7_quartiles_with_tukey_whiskers() {
        // R 4.2.2: quantile(c(1,2,3,4,100), type = 7) -> 1, 2, 3, 4, 100; whiskers within 1.5 IQR: 1 and 4.
        assert_eq!(five_numbers(&[1.0, 2.0, 3.0, 4.0, 100.0, f64::NAN]), Some([1.0, 2.0, 3.0, 4.0, 4.0]));
        // quantile(c(2.5, 7.1, 3.3, 9.8, 4.4, 6.0), c(.25, .5, .75)) -> 3.575 5.200 6.825; fences 2.5 and 9.8 inside.
        let s = five_numbers(&[2.5, 7.1, 3.3, 9.8, 4.4, 6.0]).unwrap();
        for (got, want) in s.iter().zip([2.5, 3.575, 5.2, 6.825, 9.8]) {
            assert!((got - want).abs() < 1e-12, "{s:?}");
        }
        assert_eq!(five_numbers(&[f64::NAN, f64::INFINITY]), None);
    }

    #[test]
    fn the_five_numbers_are_their_own_five_numbers() {
        // What lets QC store five numbers per sample and the report draw the same box from them, bit for bit.
        let mut x = 0.37_f64;
        let values: Vec<f64> = (0..997)
            .map(|i| {
                x = (x * 3.9 * (1.0 - x)).clamp(1e-9, 1.0 - 1e-9);
                if i % 50 == 0 {
                    40.0 * x
                } else {
                    20.0 + x
                }
            })
            .collect();
        let s = five_numbers(&values).unwrap();
        assert!(s[0] > 20.0 || s[4] < 40.0, "the outliers are outside the whiskers: {s:?}");
        assert_eq!(five_numbers(&s), Some(s));
    }
}
