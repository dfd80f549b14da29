//! Polygamma functions (digamma, trigamma, psigamma of order 2) and limma's inverse trigamma.

use std::f64::consts::PI;

/// Arguments at or above this use the asymptotic (Bernoulli) series; smaller ones recur upwards.
/// With terms through x^-14 (digamma) the truncation error at 10 is below 1e-16 relative.
const ASYMPTOTIC_FROM: f64 = 10.0;
/// The ψ″ series loses relative accuracy faster (the value itself is O(x^-2)): start it later.
const ASYMPTOTIC_FROM_PSIGAMMA2: f64 = 16.0;

/// limma 3.54 `trigammaInverse`: above this the answer is `1/sqrt(x)`.
const TRIGAMMA_INVERSE_LARGE: f64 = 1e7;
/// limma 3.54 `trigammaInverse`: below this the answer is `1/x`.
const TRIGAMMA_INVERSE_SMALL: f64 = 1e-6;
/// limma 3.54 `trigammaInverse`: Newton stops when the relative step is below this.
const TRIGAMMA_INVERSE_TOL: f64 = 1e-8;
/// limma 3.54 `trigammaInverse`: iteration limit (limma warns and returns the last iterate).
const TRIGAMMA_INVERSE_MAX_ITER: usize = 50;

fn is_nonpositive_integer(x: f64) -> bool {
    x <= 0.0 && x == x.floor()
}

/// Digamma ψ(x), the derivative of `ln Γ(x)` (R `digamma`). Poles (0, −1, −2, …) give NaN.
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY || is_nonpositive_integer(x) {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    if x < 0.0 {
        // ψ(x) = ψ(1 − x) − π cot(πx)
        return digamma(1.0 - x) - PI / (PI * x).tan();
    }
    let mut x = x;
    let mut acc = 0.0;
    while x < ASYMPTOTIC_FROM {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let r = 1.0 / (x * x);
    let series = r
        * (1.0 / 12.0
            - r * (1.0 / 120.0
                - r * (1.0 / 252.0 - r * (1.0 / 240.0 - r * (1.0 / 132.0 - r * (691.0 / 32760.0 - r / 12.0))))));
    acc + x.ln() - 0.5 / x - series
}

/// Trigamma ψ′(x) (R `trigamma`). Poles give +∞ like R.
pub fn trigamma(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if is_nonpositive_integer(x) {
        return f64::INFINITY;
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    if x < 0.0 {
        // ψ′(x) = π² / sin²(πx) − ψ′(1 − x)
        let s = (PI * x).sin();
        return PI * PI / (s * s) - trigamma(1.0 - x);
    }
    let mut x = x;
    let mut acc = 0.0;
    while x < ASYMPTOTIC_FROM {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let r = 1.0 / (x * x);
    let series = 1.0 / 6.0
        - r * (1.0 / 30.0
            - r * (1.0 / 42.0 - r * (1.0 / 30.0 - r * (5.0 / 66.0 - r * (691.0 / 2730.0 - r * 7.0 / 6.0)))));
    acc + 1.0 / x + 0.5 * r + series * r / x
}

/// Second derivative of digamma, ψ″(x) (R `psigamma(x, deriv = 2)`). Poles give NaN.
pub fn psigamma2(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY || is_nonpositive_integer(x) {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    if x < 0.0 {
        // ψ″(x) = ψ″(1 − x) − 2π³ cot(πx) / sin²(πx)
        let s = (PI * x).sin();
        let c = (PI * x).cos();
        return psigamma2(1.0 - x) - 2.0 * PI * PI * PI * c / (s * s * s);
    }
    let mut x = x;
    let mut acc = 0.0;
    while x < ASYMPTOTIC_FROM_PSIGAMMA2 {
        acc -= 2.0 / (x * x * x);
        x += 1.0;
    }
    let r = 1.0 / (x * x);
    let series = 0.5
        - r * (1.0 / 6.0 - r * (1.0 / 6.0 - r * (3.0 / 10.0 - r * (5.0 / 6.0 - r * (691.0 / 210.0 - r * 35.0 / 2.0)))));
    acc - r - r / x - series * r * r
}

/// limma's `trigammaInverse`: the y with ψ′(y) = x, by limma's Newton iteration and special cases
/// (NaN → NaN, x < 0 → NaN, x > 1e7 → 1/√x, x < 1e-6 → 1/x).
pub fn trigamma_inverse(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x > TRIGAMMA_INVERSE_LARGE {
        return 1.0 / x.sqrt();
    }
    if x < TRIGAMMA_INVERSE_SMALL {
        return 1.0 / x;
    }
    let mut y = 0.5 + 1.0 / x;
    for _ in 0..=TRIGAMMA_INVERSE_MAX_ITER {
        let tri = trigamma(y);
        let dif = tri * (1.0 - tri / x) / psigamma2(y);
        y += dif;
        if -dif / y < TRIGAMMA_INVERSE_TOL {
            break;
        }
    }
    y
}

/// `stirlerr(n) = ln(n!) - (n + 1/2) ln(n) + n - ln(√(2π))` for n = 0..=15, computed with mpmath at 40 digits
/// (`mpmath.log(mpmath.factorial(n)) - ...`) and rounded to the nearest double. n = 0 is a placeholder (unused).
pub(crate) const STIRLERR_SMALL: [f64; 16] = [
    0.0,
    0.08106146679532726,
    0.0413406959554093,
    0.02767792568499834,
    0.020790672103765093,
    0.016644691189821193,
    0.013876128823070748,
    0.01189670994589177,
    0.010411265261972096,
    0.009255462182712733,
    0.00833056343336287,
    0.007573675487951841,
    0.00694284010720953,
    0.006408994188004207,
    0.0059513701127588475,
    0.005554733551962801,
];
/// `stirlerr`: up to here the exact form (a table for integers, `lgamma` otherwise); above, the Stirling series.
const STIRLERR_EXACT_UPTO: f64 = 15.0;
/// `bd0`: the series is used when |x − np| is below this fraction of x + np.
const BD0_SERIES_BELOW: f64 = 0.1;
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// R's `stirlerr(n)` = ln Γ(n + 1) − (n + ½) ln n + n − ln √(2π), the error of Stirling's formula (Loader 2000;
/// R nmath/stirlerr.c): exact for n ≤ 15, then the asymptotic series cut where the next term is below double precision.
pub(crate) fn stirlerr(n: f64) -> f64 {
    const S0: f64 = 1.0 / 12.0;
    const S1: f64 = 1.0 / 360.0;
    const S2: f64 = 1.0 / 1260.0;
    const S3: f64 = 1.0 / 1680.0;
    const S4: f64 = 1.0 / 1188.0;
    if n <= STIRLERR_EXACT_UPTO {
        if n >= 1.0 && n.fract() == 0.0 {
            return STIRLERR_SMALL[n as usize];
        }
        return statrs::function::gamma::ln_gamma(n + 1.0) - (n + 0.5) * n.ln() + n - LN_SQRT_2PI;
    }
    let nn = n * n;
    if n > 500.0 {
        (S0 - S1 / nn) / n
    } else if n > 80.0 {
        (S0 - (S1 - S2 / nn) / nn) / n
    } else if n > 35.0 {
        (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n
    } else {
        (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n
    }
}

/// R's `bd0(x, np)` = x ln(x/np) + np − x, by a series in v = (x−np)/(x+np) where the direct form cancels
/// (Loader 2000; R nmath/bd0.c).
pub(crate) fn bd0(x: f64, np: f64) -> f64 {
    if !x.is_finite() || !np.is_finite() || np == 0.0 {
        return f64::NAN;
    }
    if (x - np).abs() < BD0_SERIES_BELOW * (x + np) {
        let mut v = (x - np) / (x + np);
        let mut s = (x - np) * v;
        if s.abs() < f64::MIN_POSITIVE {
            return s;
        }
        let mut ej = 2.0 * x * v;
        v *= v;
        for j in 1..1000 {
            ej *= v;
            let s1 = s + ej / f64::from(2 * j + 1);
            if s1 == s {
                return s1;
            }
            s = s1;
        }
    }
    x * (x / np).ln() + np - x
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // reference values exactly as R prints them with %.17g
mod tests {
    use super::*;

    /// Reference values from R 4.2.2: `sprintf("%.17g", digamma(x))` etc.
    const TOL: f64 = 1e-14;
    const TOL_NEGATIVE: f64 = 1e-12;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn recurrence_identities_hold() {
        for &x in &[0.3, 1.7, 4.2, 9.99, 10.0, 23.5] {
            assert!(close(digamma(x + 1.0), digamma(x) + 1.0 / x, 1e-14), "digamma {x}");
            assert!(close(trigamma(x + 1.0), trigamma(x) - 1.0 / (x * x), 1e-13), "trigamma {x}");
            assert!(close(psigamma2(x + 1.0), psigamma2(x) + 2.0 / (x * x * x), 1e-13), "psigamma2 {x}");
        }
    }

    /// (x, digamma, trigamma, psigamma(x, 2)) from R 4.2.2.
    const R_POLYGAMMA: [(f64, f64, f64, f64); 10] = [
        (0.050000000000000003, -20.497844991299871, 401.53235734211506, -16002.108158021943),
        (0.5, -1.9635100260214231, 4.934802200544679, -16.82879664423432),
        (1.0, -0.57721566490153231, 1.6449340668482264, -2.4041138063191885),
        (2.5, 0.70315664064524341, 0.49035775610023491, -0.23620405164172742),
        (9.9900000000000002, 2.2507003728312012, 0.10527695014824182, -0.011073070531461055),
        (10.0, 2.2517525890667214, 0.10516633568168572, -0.011049834970802063),
        (33.299999999999997, 3.4904672385202429, 0.030485444095338887, -0.0009292903678115174),
        (100000.0, 11.512920464961896, 1.0000050000166665e-05, -1.0000100000499997e-10),
        (-0.5, 0.036489973978577089, 8.934802200544679, -0.8287966442343162),
        (-2.2999999999999998, 3.3173231575618258, 14.7259121609613, 68.713792529270421),
    ];

    /// (x, limma::trigammaInverse(x)) from limma 3.54.1.
    const R_TRIGAMMA_INVERSE: [(f64, f64); 9] = [
        (9.9999999999999995e-08, 10000000.0),
        (9.9999999999999995e-07, 1000000.4999999162),
        (0.01, 100.49916668194319),
        (0.29999999999999999, 3.8087190120511671),
        (1.0, 1.4262551202150788),
        (5.0, 0.49616873470410694),
        (100.0, 0.10072375880005269),
        (1000000.0, 0.0010000008212676086),
        (20000000.0, 0.00022360679774997895),
    ];

    #[test]
    fn polygamma_matches_r() {
        for &(x, d, t, p) in &R_POLYGAMMA {
            // R's own reflection loses a few digits for x < 0 (R gives ψ(−0.5) = 0.0364899739785770,
            // the exact value is 2 − γ − 2 ln 2 = 0.0364899739785765): compare those more loosely.
            let tol = if x < 0.0 { TOL_NEGATIVE } else { TOL };
            assert!(close(digamma(x), d, tol), "digamma({x}) = {} vs R {d}", digamma(x));
            assert!(close(trigamma(x), t, tol), "trigamma({x}) = {} vs R {t}", trigamma(x));
            assert!(close(psigamma2(x), p, tol), "psigamma2({x}) = {} vs R {p}", psigamma2(x));
        }
        // Near the positive root R itself returns rounding noise (4.4e-16): compare absolutely.
        assert!(digamma(1.4616321449683622).abs() < 1e-15);
        assert!(digamma(0.0).is_nan() && digamma(-3.0).is_nan());
        assert_eq!(trigamma(0.0), f64::INFINITY);
    }

    #[test]
    fn trigamma_inverse_matches_limma() {
        for &(x, y) in &R_TRIGAMMA_INVERSE {
            // limma stops Newton at a 1e-8 relative step, so the iterates agree to far below that.
            assert!(close(trigamma_inverse(x), y, 1e-12), "trigammaInverse({x}) = {} vs {y}", trigamma_inverse(x));
        }
    }

    #[test]
    fn trigamma_inverse_inverts() {
        for &y in &[0.05, 0.5, 1.0, 3.0, 17.0, 250.0] {
            let x = trigamma(y);
            assert!(close(trigamma_inverse(x), y, 1e-8), "y {y}");
        }
        assert!(trigamma_inverse(-1.0).is_nan());
        assert_eq!(trigamma_inverse(4e7), 1.0 / 4e7f64.sqrt());
        assert_eq!(trigamma_inverse(1e-7), 1e7);
    }
}
