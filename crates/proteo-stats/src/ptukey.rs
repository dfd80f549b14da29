//! The studentized range distribution: direct quadrature (`ptukey`, `ptukey_upper`) and tabulated fast evaluators.
//!
//! # Method
//! With `k` means, `m = k − 1`, `Q` the standard normal upper tail and `s ~ sqrt(χ²_ν / ν)`:
//!
//! * the range `w` of `k` standard normals has upper tail
//!   `R(w) = k ∫ φ(z) [Q(z)^m − (Q(z) − Q(z+w))^m] dz = k ∫ φ(z) Q(z)^m (−expm1(m·log1p(−Q(z+w)/Q(z)))) dz`,
//!   a sum of positive terms without cancellation, so tiny upper tails keep their relative accuracy (R's `ptukey`
//!   computes `1 − CDF` and cannot resolve them);
//! * the studentized range has upper tail `P(q) = ∫ f_s(s) R(q s) ds`, integrated in `u = ln s`.
//!
//! Both integrals are trapezoid sums, which converge geometrically for these analytic, fast-decaying integrands
//! (R instead uses fixed Gauss–Legendre panels after Copenhaver & Holland 1988): the inner one on a `z` grid over a
//! window around the integrand's peak (near `z = −w/2` for large `w`), scaled by `e^{w²/4}` so it cannot underflow;
//! the outer one marching down from the right end of the χ density until the terms fall `e^−40` below the running
//! maximum, in log space, so `ln P` stays exact far below `f64`'s range. The normal tail is our own
//! ([`upper_normal`], ~1e-14 relative) because `statrs::erfc` is only good to ~1e-10.
//!
//! # Tables
//! [`StudentizedRange`] tabulates, for one `(k, ν)`, piecewise Chebyshev interpolants ([`CHEB_NODES`] nodes per
//! panel) of: `ln R(w)` on `[0, w_max]` (about 1.5 ms, shared per `k` by [`StudentizedRangeCache`]); `P(q)` on
//! `[0, 1]`; `ln P(q)` in `ln q` on `[1, 2ν + 8]`; and beyond that the power-law factor `ln(P(q)·q^ν)` as a function
//! of `v = 1/q²` on `[0, (2ν + 8)^−2]`, which is analytic in `v` and so covers `q → ∞` with no fallback. For large `ν`
//! the body stops where `P < e^−745` and 0 (the correctly rounded `f64`) is returned beyond. A table for `ν ≈ 25`
//! builds in about 0.5 ms (1.5 ms for `ν = 2`) and answers in about 25 ns (release build, one core).
//!
//! # Accuracy (asserted by the tests here and in `tests/classic_vs_r.rs`)
//! * Quadrature, tables and the defining double integral evaluated independently by R's `integrate()`
//!   (`tests/reference/classic_reference.R`) agree to 2e-11 relative on 608 grid points with `k = 2..20`,
//!   `ν = 2, 3, 5, 10` (asserted: 1e-10); for `k = 2`, `P` equals the t tail `2·pt(−q/√2, ν)` to the same bound.
//! * Against R 4.2.2 `ptukey` for `ν = 27 .. 1000, ∞` (743 points with R's upper tail above 1e-12): at most
//!   2.0e-8 absolute (asserted: 1e-6), which we attribute to R: at the spot checks with `ν = 27, 60, 1000` we match
//!   the integral to 1e-10 relative. For `ν ≤ 10` R's `ptukey` is off the integral by up to 2.7e-3 in the upper
//!   tail (1.3e-5 already at `k = 2, ν = 2, q = 1`, where the exact value is `1 − 1/√5`).
//! * Tables against the quadrature on grids 10× denser than the nodes, several `(k, ν)`: `|Δ ln R| ≤ 6e-11`,
//!   `|ΔP| ≤ 5e-11` relative wherever `P > 1e-300` (asserted: 5e-10); table against the direct quadrature on the
//!   R grid: asserted 1e-9 relative.
//! * Quadrature steps: halving either step changes `ln P` by less than 1e-12.

use std::sync::Arc;

use statrs::function::gamma::ln_gamma;

/// Step of the inner trapezoid rule in `z`: at most `Z_STEP_MAX`, and at most `Z_STEP_SCALE / sqrt(k)`. The narrowest
/// factor of the integrands is `φ(z)^k` (width `1/sqrt(k)`), so the trapezoid error is about
/// `exp(−2π²·(1/(Z_STEP_SCALE))²) ≈ 1e-19` (checked against a half step in the tests).
const Z_STEP_MAX: f64 = 0.2;
const Z_STEP_SCALE: f64 = 0.67;
/// The inner window is `[−w/2 − Z_LEFT, min(Z_RIGHT_CAP, −w/2 + Z_RIGHT_PEAK)]`: outside it the integrand is below
/// `e^−40` of its peak (bounds `m·φ(z)·Q(z+w)` and `φ(z)`).
const Z_LEFT: f64 = 9.0;
const Z_RIGHT_CAP: f64 = 8.5;
const Z_RIGHT_PEAK: f64 = 8.0;
/// Window of the lower-tail integrand `φ(z)(Φ(z+w)−Φ(z))^m`, which never leaves `|z| < 9.5`.
const Z_LOWER_HALF_WIDTH: f64 = 9.5;
/// Outer trapezoid step in `u = ln s`: at most this, and at most `U_STEP_SCALE` times the width
/// `1/sqrt(4ν + 2)` of the integrand's peak (error `exp(−2π²/1.5²) ≈ 1e-19`).
const U_STEP_MAX: f64 = 0.1;
const U_STEP_SCALE: f64 = 0.67;
/// Log-terms this far below the running maximum end the outer march (the rest of the sum is below 1e-20).
const LOG_CUTOFF: f64 = 40.0;
/// Below this `ln P` the probability underflows `f64` (smallest normal ≈ e^−708, subnormal e^−745).
const LN_UNDERFLOW: f64 = -745.2;
/// Nodes per Chebyshev panel of the `ln R` and `P` tables (degree 11).
pub const CHEB_NODES: usize = 12;
/// Width of a panel of the `ln R(w)` table on `[0, RANGE_NEAR_END]`, where the shape changes with `k`, and beyond
/// it, where `ln R(w)` is close to `−w²/4 + const`.
const RANGE_PANEL_WIDTH: f64 = 1.0;
const RANGE_NEAR_END: f64 = 12.0;
const RANGE_FAR_PANEL_WIDTH: f64 = 6.0;
/// `P(q)` itself is tabulated on `[0, SMALL_Q]` in `SMALL_PANELS` panels, `ln P` in `ln q` above it.
const SMALL_Q: f64 = 1.0;
const SMALL_PANELS: usize = 2;
/// Width in `ln q` of a body panel.
const BODY_PANEL_WIDTH: f64 = 0.4;
/// R's `ptukey` refuses `df < 2` (returns `NaN`); so do we.
const MIN_DF: f64 = 2.0;

/// Below this argument the normal tail uses Marsaglia's (2004) positive series, above it Laplace's continued
/// fraction; both give about 1e-15 relative accuracy there. (`statrs::erfc` 0.19 is only good to about 1e-10
/// relative, e.g. at `x = 1`, which would cap the accuracy of everything here.)
const NORMAL_SERIES_LIMIT: f64 = 2.5;
/// Terms of Laplace's continued fraction needed at `x = NORMAL_SERIES_LIMIT` for full precision; larger `x`
/// converge faster.
const NORMAL_CF_TERMS: usize = 90;
/// The fast normal tail tabulates the Mills ratio `Q(x)/φ(x)` (an entire function) on `[0, MILLS_END]` in
/// Chebyshev panels of this width; beyond `MILLS_END`, `Q(x) < 1e-330` underflows to 0.
const MILLS_PANEL_WIDTH: f64 = 1.0;
const MILLS_END: f64 = 39.0;
const MILLS_NODES: usize = 16;

fn normal_density(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal upper tail `Q(x) = P(Z > x)` by series / continued fraction, ~1e-15 relative: the reference
/// from which the fast [`upper_normal`] table is built.
fn upper_normal_reference(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 1.0 - upper_normal_reference(-x);
    }
    let density = normal_density(x);
    if x <= NORMAL_SERIES_LIMIT {
        // Φ(x) − 1/2 = φ(x) Σ x^{2n+1} / (1·3···(2n+1)).
        let x2 = x * x;
        let (mut term, mut sum) = (x, x);
        let mut n = 1.0;
        while term > 1e-17 * sum {
            term *= x2 / (2.0 * n + 1.0);
            sum += term;
            n += 1.0;
        }
        0.5 - density * sum
    } else if density == 0.0 {
        0.0
    } else {
        // Q(x) = φ(x) / (x + 1/(x + 2/(x + 3/(x + …)))), evaluated from the tail.
        let terms = ((NORMAL_CF_TERMS as f64) * (NORMAL_SERIES_LIMIT / x).powi(2)).ceil() as usize + 8;
        let mut t = x;
        for j in (1..=terms).rev() {
            t = x + j as f64 / t;
        }
        density / t
    }
}

fn mills_table() -> &'static Chebyshev<MILLS_NODES> {
    static TABLE: std::sync::OnceLock<Chebyshev<MILLS_NODES>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let panels = (MILLS_END / MILLS_PANEL_WIDTH).round() as usize;
        Chebyshev::build(0.0, MILLS_PANEL_WIDTH, panels, |x| upper_normal_reference(x) / normal_density(x))
    })
}

/// Standard normal upper tail `Q(x) = P(Z > x)` with about 1e-14 relative accuracy on both sides (verified against
/// R `pnorm` in the tests), from a once-built table of the Mills ratio.
pub fn upper_normal(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 1.0 - upper_normal(-x);
    }
    if x >= MILLS_END {
        return 0.0;
    }
    normal_density(x) * mills_table().eval(x)
}

/// `w_max` with `R(w) < e^−750` beyond it, from `R(w) ≤ k(k−1)/2 · 2Q(w/√2) ≤ k² e^{−w²/4}`.
fn range_w_max(k: f64) -> f64 {
    2.0 * (750.0 + 2.0 * k.ln()).sqrt()
}

/// Precomputed inner-integral data for one `k` on the grid `z_i = z0 + i·Z_STEP`.
#[derive(Debug)]
struct Inner {
    k: f64,
    m: f64,
    w_max: f64,
    z0: f64,
    z_step: f64,
    /// `ln φ(z_i) + m ln Q(z_i)`.
    log_base: Vec<f64>,
    /// `Q(z_i)`.
    q: Vec<f64>,
}

impl Inner {
    fn new(k: f64) -> Self {
        Self::with_step(k, Z_STEP_MAX.min(Z_STEP_SCALE / k.sqrt()))
    }

    fn with_step(k: f64, z_step: f64) -> Self {
        let w_max = range_w_max(k);
        let z0 = ((-(w_max / 2.0 + Z_LEFT)) / z_step).floor() * z_step - z_step;
        let n = ((Z_LOWER_HALF_WIDTH - z0) / z_step).ceil() as usize + 2;
        let m = k - 1.0;
        let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let mut log_base = Vec::with_capacity(n);
        let mut q = Vec::with_capacity(n);
        for i in 0..n {
            let z = z0 + i as f64 * z_step;
            let qz = upper_normal(z);
            q.push(qz);
            log_base.push(-0.5 * z * z - half_ln_2pi + m * qz.ln());
        }
        Self { k, m, w_max, z0, z_step, log_base, q }
    }

    fn index_range(&self, lo: f64, hi: f64) -> std::ops::RangeInclusive<usize> {
        let first = ((lo - self.z0) / self.z_step).ceil().max(0.0) as usize;
        let last = (((hi - self.z0) / self.z_step).floor() as usize).min(self.q.len() - 1);
        first..=last
    }

    /// `ln R(w)`, the log upper tail of the range of `k` standard normals; `−∞` beyond `w_max`.
    fn ln_upper(&self, w: f64) -> f64 {
        if w <= 0.0 {
            return 0.0;
        }
        if w > self.w_max {
            return f64::NEG_INFINITY;
        }
        // Scaling by e^{w²/4} keeps the terms near 1 at the peak z ≈ −w/2 for large w.
        let scale = 0.25 * w * w;
        let lo = -0.5 * w - Z_LEFT;
        let hi = Z_RIGHT_CAP.min(-0.5 * w + Z_RIGHT_PEAK);
        let mut sum = 0.0;
        for i in self.index_range(lo, hi) {
            let z = self.z0 + i as f64 * self.z_step;
            let r = upper_normal(z + w) / self.q[i];
            let d = -(self.m * (-r).ln_1p()).exp_m1();
            sum += (self.log_base[i] + scale).exp() * d;
        }
        (self.k * self.z_step * sum).ln() - scale
    }

    /// `ln W(w)`, the log CDF of the range of `k` standard normals, computed directly (accurate when `W` is small).
    fn ln_lower(&self, w: f64) -> f64 {
        if w <= 0.0 {
            return f64::NEG_INFINITY;
        }
        let mut sum = 0.0;
        let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        for i in self.index_range(-Z_LOWER_HALF_WIDTH, Z_LOWER_HALF_WIDTH) {
            let z = self.z0 + i as f64 * self.z_step;
            // Difference of the two tails taken on the side where both are small.
            let d = if z + 0.5 * w >= 0.0 {
                self.q[i] - upper_normal(z + w)
            } else {
                upper_normal(-z - w) - upper_normal(-z)
            };
            if d > 0.0 {
                sum += (-0.5 * z * z - half_ln_2pi + self.m * d.ln()).exp();
            }
        }
        (self.k * self.z_step * sum).ln()
    }
}

/// Below this `x = ν/2` the Stirling remainder of `ln Γ(x)` comes from `ln_gamma`, above it from its series
/// (truncation error below `1/(1188 x⁹) < 1e-15`).
const STIRLING_SERIES_FROM: f64 = 20.0;

/// `ln Γ(x) − [(x − ½) ln x − x + ½ ln 2π]`.
fn stirling_remainder(x: f64) -> f64 {
    if x < STIRLING_SERIES_FROM {
        return ln_gamma(x) - ((x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln());
    }
    let y = 1.0 / (x * x);
    (1.0 / 12.0 - y * (1.0 / 360.0 - y * (1.0 / 1260.0 - y / 1680.0))) / x
}

/// `e^t − 1 − t` without cancellation for small `t`: a series below `|t| = 0.05`, `expm1(t) − t` above (which loses
/// at most `log2(2/|t|)` bits; inside the outer window `x·t² ≲ 80`, so the error in `x·(e^t − 1 − t)` is below 1e-13).
fn exp_minus_linear(t: f64) -> f64 {
    if t.abs() > 0.05 {
        return t.exp_m1() - t;
    }
    let (mut term, mut sum, mut n) = (0.5 * t * t, 0.5 * t * t, 2.0);
    while term.abs() > 1e-17 * sum {
        n += 1.0;
        term *= t / n;
        sum += term;
    }
    sum
}

/// The outer integrand's weight `ln[s f_s(s)]` at `s = e^u`, where `f_s` is the density of `sqrt(χ²_ν / ν)`.
/// Written as `ln 2 + ½ ln x − ½ ln 2π − remainder(x) − x (e^{2u} − 1 − 2u)` with `x = ν/2`, which keeps full
/// precision for huge `ν` (the textbook form subtracts numbers of size `ν ln ν`).
struct ChiWeight {
    half_df: f64,
    log_constant: f64,
}

impl ChiWeight {
    fn new(df: f64) -> Self {
        let x = 0.5 * df;
        let log_constant =
            std::f64::consts::LN_2 + 0.5 * x.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln() - stirling_remainder(x);
        Self { half_df: x, log_constant }
    }

    #[inline]
    fn ln(&self, u: f64) -> f64 {
        self.log_constant - self.half_df * exp_minus_linear(2.0 * u)
    }
}

/// The `u > 0` where the χ log weight has fallen `LOG_CUTOFF` below its maximum at `u = 0` (Newton from the right
/// on the convex `(e^{2u} − 1)/2 − u − c/ν`, starting at `sqrt(c/ν)`, which lies to the right of the root).
fn chi_right_end(df: f64) -> f64 {
    let c = LOG_CUTOFF / df;
    let mut u = c.sqrt().max(0.5 * (1.0 + 2.0 * c).ln());
    for _ in 0..60 {
        let e = (2.0 * u).exp();
        let f = 0.5 * (e - 1.0) - u - c;
        let step = f / (e - 1.0);
        u -= step;
        if step.abs() < 1e-12 * u.max(1e-300) {
            break;
        }
    }
    u
}

/// `ln ∫ f_s(s) g(q s) ds` for `g = exp(ln_inner)`, `0 ≤ g ≤ 1`, by a trapezoid march in `u = ln s` (log space).
/// `w_cap` bounds the inner argument where `g` vanishes (for the upper tail), `∞` otherwise.
fn ln_outer(q: f64, df: f64, w_cap: f64, ln_inner: impl Fn(f64) -> f64) -> f64 {
    ln_outer_with_step(q, df, w_cap, U_STEP_MAX.min(U_STEP_SCALE / (4.0 * df + 2.0).sqrt()), ln_inner)
}

fn ln_outer_with_step(q: f64, df: f64, w_cap: f64, h: f64, ln_inner: impl Fn(f64) -> f64) -> f64 {
    let weight = ChiWeight::new(df);
    let mut u = chi_right_end(df).min((w_cap / q).ln());
    let mut g_max = f64::NEG_INFINITY;
    let mut sum = 0.0;
    loop {
        let chi = weight.ln(u);
        // ln_inner ≤ 0, so `chi` bounds every later term once u < 0 (where the χ weight rises with u).
        if u < 0.0 && (chi < g_max - LOG_CUTOFF || chi < -1e5) {
            break;
        }
        let g = chi + ln_inner(q * u.exp());
        if g > g_max {
            sum = sum * (g_max - g).exp() + 1.0;
            g_max = g;
        } else if g > g_max - LOG_CUTOFF - 10.0 {
            sum += (g - g_max).exp();
        }
        u -= h;
    }
    if g_max == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    g_max + (h * sum).ln()
}

fn invalid(q: f64, nmeans: f64, df: f64) -> bool {
    q.is_nan() || nmeans.is_nan() || df.is_nan() || nmeans < 2.0 || df < MIN_DF
}

/// `ln P(Q > q)` by quadrature for a prepared inner integral.
fn ln_upper_direct(inner: &Inner, q: f64, df: f64) -> f64 {
    if df.is_infinite() {
        return inner.ln_upper(q);
    }
    ln_outer(q, df, inner.w_max, |w| inner.ln_upper(w))
}

/// Upper tail `P(Q > q)` of the studentized range of `nmeans` means with `df` degrees of freedom, by direct
/// quadrature: `ptukey(q, nmeans, df, lower.tail = FALSE)` of R, but accurate in relative terms far into the tail.
/// `NaN` for `df < 2` or `nmeans < 2` (as R). Costs about 0.3 ms; use [`StudentizedRange`] for many calls.
pub fn ptukey_upper(q: f64, nmeans: f64, df: f64) -> f64 {
    if invalid(q, nmeans, df) {
        return f64::NAN;
    }
    if q <= 0.0 {
        return 1.0;
    }
    if q.is_infinite() {
        return 0.0;
    }
    ln_upper_direct(&Inner::new(nmeans), q, df).exp().min(1.0)
}

/// Lower CDF `P(Q ≤ q)`, R `ptukey(q, nmeans, df)` with `nranges = 1`. Computed as `1 − upper` where the upper tail
/// is below one half and directly otherwise, so small lower tails keep their relative accuracy too.
pub fn ptukey(q: f64, nmeans: f64, df: f64) -> f64 {
    if invalid(q, nmeans, df) {
        return f64::NAN;
    }
    if q <= 0.0 {
        return 0.0;
    }
    if q.is_infinite() {
        return 1.0;
    }
    let inner = Inner::new(nmeans);
    let upper = ln_upper_direct(&inner, q, df).exp();
    if upper < 0.5 {
        return 1.0 - upper;
    }
    let ln_lower =
        if df.is_infinite() { inner.ln_lower(q) } else { ln_outer(q, df, f64::INFINITY, |w| inner.ln_lower(w)) };
    ln_lower.exp().min(1.0)
}

/// Piecewise Chebyshev interpolant on `[lo, lo + panels·width]` with `N` first-kind nodes per panel.
#[derive(Debug, Clone)]
struct Chebyshev<const N: usize = CHEB_NODES> {
    lo: f64,
    width: f64,
    coeffs: Vec<[f64; N]>,
}

impl<const N: usize> Chebyshev<N> {
    fn build(lo: f64, width: f64, panels: usize, mut f: impl FnMut(f64) -> f64) -> Self {
        let mut coeffs = Vec::with_capacity(panels);
        for p in 0..panels {
            coeffs.push(Self::panel(lo + p as f64 * width, width, &mut f));
        }
        Self { lo, width, coeffs }
    }

    fn panel(start: f64, width: f64, f: &mut impl FnMut(f64) -> f64) -> [f64; N] {
        let n = N as f64;
        let angle = |j: usize| std::f64::consts::PI * (j as f64 + 0.5) / n;
        let values: Vec<f64> = (0..N).map(|j| f(start + 0.5 * width * (1.0 + angle(j).cos()))).collect();
        let mut c = [0.0; N];
        for (i, ci) in c.iter_mut().enumerate() {
            let s: f64 = values.iter().enumerate().map(|(j, v)| v * (i as f64 * angle(j)).cos()).sum();
            *ci = 2.0 / n * s;
        }
        c[0] *= 0.5;
        c
    }

    fn end(&self) -> f64 {
        self.lo + self.coeffs.len() as f64 * self.width
    }

    #[inline]
    fn eval(&self, x: f64) -> f64 {
        let t = (x - self.lo) / self.width;
        let p = (t.max(0.0) as usize).min(self.coeffs.len() - 1);
        let s = 2.0 * (t - p as f64) - 1.0;
        let c = &self.coeffs[p];
        let (mut b1, mut b2) = (0.0, 0.0);
        for &ci in c[1..].iter().rev() {
            let b0 = 2.0 * s * b1 - b2 + ci;
            b2 = b1;
            b1 = b0;
        }
        c[0] + s * b1 - b2
    }
}

/// Table of `ln R(w)` for one `k`, shared by all `ν` through [`StudentizedRangeCache`].
#[derive(Debug)]
struct RangeTable {
    w_max: f64,
    near: Chebyshev,
    far: Chebyshev,
}

impl RangeTable {
    fn new(k: usize) -> Self {
        let inner = Inner::new(k as f64);
        let near_panels = (RANGE_NEAR_END / RANGE_PANEL_WIDTH).ceil() as usize;
        let near = Chebyshev::build(0.0, RANGE_NEAR_END / near_panels as f64, near_panels, |w| inner.ln_upper(w));
        let far_panels = ((inner.w_max - RANGE_NEAR_END) / RANGE_FAR_PANEL_WIDTH).ceil() as usize;
        let far_width = (inner.w_max - RANGE_NEAR_END) / far_panels as f64;
        let far = Chebyshev::build(RANGE_NEAR_END, far_width, far_panels, |w| inner.ln_upper(w));
        Self { w_max: inner.w_max, near, far }
    }

    #[inline]
    fn ln_upper(&self, w: f64) -> f64 {
        if w <= 0.0 {
            0.0
        } else if w < RANGE_NEAR_END {
            self.near.eval(w).min(0.0)
        } else if w <= self.w_max {
            self.far.eval(w)
        } else {
            f64::NEG_INFINITY
        }
    }
}

#[derive(Debug, Clone)]
enum Shape {
    /// `df < 2` or `k < 2`: every call returns `NaN`.
    Invalid,
    /// `ν = ∞`: `P(q) = R(q)`.
    Normal,
    Finite {
        small: Chebyshev,
        body: Chebyshev,
        /// `ln(P q^ν)` in `v = 1/q²` on `[0, 1/body_end²]`; `None` when `P` underflows before the body's end.
        tail: Option<Chebyshev>,
        body_end_q: f64,
    },
}

/// Fast upper tail of the studentized range for one `(k, ν)`: about 0.5 ms to build (plus 1.5 ms for the per-`k`
/// range table unless a [`StudentizedRangeCache`] already holds it), then about 25 ns per call. See the module docs
/// for the layout and the verified error bounds.
#[derive(Debug, Clone)]
pub struct StudentizedRange {
    nmeans: usize,
    df: f64,
    range: Arc<RangeTable>,
    shape: Shape,
}

impl StudentizedRange {
    /// Tables for `nmeans` means and `df` residual degrees of freedom (`f64::INFINITY` allowed).
    pub fn new(nmeans: usize, df: f64) -> Self {
        Self::with_range(nmeans, df, Arc::new(RangeTable::new(nmeans.max(2))))
    }

    fn with_range(nmeans: usize, df: f64, range: Arc<RangeTable>) -> Self {
        let shape = if nmeans < 2 || df.is_nan() || df < MIN_DF {
            Shape::Invalid
        } else if df.is_infinite() {
            Shape::Normal
        } else {
            Self::finite_shape(df, &range)
        };
        Self { nmeans, df, range, shape }
    }

    fn finite_shape(df: f64, range: &RangeTable) -> Shape {
        let ln_p = |q: f64| ln_outer(q, df, range.w_max, |w| range.ln_upper(w));
        let small = Chebyshev::build(0.0, SMALL_Q / SMALL_PANELS as f64, SMALL_PANELS, |q| ln_p(q).exp());
        let x_end = (2.0 * df + 8.0).ln();
        let panels = (x_end / BODY_PANEL_WIDTH).ceil() as usize;
        let width = x_end / panels as f64;
        let mut coeffs = Vec::with_capacity(panels);
        let mut x = SMALL_Q.ln();
        while coeffs.len() < panels && ln_p(x.exp()) > LN_UNDERFLOW {
            coeffs.push(Chebyshev::panel(x, width, &mut |x: f64| ln_p(x.exp())));
            x += width;
        }
        let body = Chebyshev { lo: SMALL_Q.ln(), width, coeffs };
        let body_end_q = body.end().exp();
        let tail = (body.coeffs.len() == panels).then(|| {
            let v_end = 1.0 / (body_end_q * body_end_q);
            Chebyshev::build(0.0, v_end, 1, |v| {
                let q = 1.0 / v.sqrt();
                ln_p(q) + df * q.ln()
            })
        });
        Shape::Finite { small, body, tail, body_end_q }
    }

    pub fn nmeans(&self) -> usize {
        self.nmeans
    }

    pub fn df(&self) -> f64 {
        self.df
    }

    /// `P(Q > q)`, clamped to `[0, 1]`; `NaN` for `NaN` input or an invalid `(k, ν)`.
    #[inline]
    pub fn upper(&self, q: f64) -> f64 {
        if q.is_nan() {
            return f64::NAN;
        }
        if q <= 0.0 {
            return if matches!(self.shape, Shape::Invalid) { f64::NAN } else { 1.0 };
        }
        match &self.shape {
            Shape::Invalid => f64::NAN,
            Shape::Normal => self.range.ln_upper(q).exp(),
            Shape::Finite { small, body, tail, body_end_q } => {
                if q < SMALL_Q {
                    small.eval(q).clamp(0.0, 1.0)
                } else if q < *body_end_q {
                    body.eval(q.ln()).exp().min(1.0)
                } else if let Some(tail) = tail {
                    if q.is_infinite() {
                        0.0
                    } else {
                        (tail.eval(1.0 / (q * q)) - self.df * q.ln()).exp().min(1.0)
                    }
                } else {
                    0.0
                }
            }
        }
    }
}

/// Cache of [`StudentizedRange`] tables keyed by `(k, ν)`, sharing the per-`k` range table, so that one DE run
/// builds each table once. Lookups remember the last key, which makes runs of calls with the same key cheap.
#[derive(Debug, Default)]
pub struct StudentizedRangeCache {
    ranges: Vec<(usize, Arc<RangeTable>)>,
    tables: Vec<StudentizedRange>,
    last: usize,
}

impl StudentizedRangeCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The table for `(nmeans, df)`, built on first use.
    pub fn get(&mut self, nmeans: usize, df: f64) -> &StudentizedRange {
        let same = |t: &StudentizedRange| t.nmeans == nmeans && t.df.to_bits() == df.to_bits();
        if !self.tables.get(self.last).is_some_and(same) {
            self.last = match self.tables.iter().position(same) {
                Some(i) => i,
                None => {
                    let range = match self.ranges.iter().find(|(k, _)| *k == nmeans) {
                        Some((_, r)) => Arc::clone(r),
                        None => {
                            let r = Arc::new(RangeTable::new(nmeans.max(2)));
                            self.ranges.push((nmeans, Arc::clone(&r)));
                            r
                        }
                    };
                    self.tables.push(StudentizedRange::with_range(nmeans, df, range));
                    self.tables.len() - 1
                }
            };
        }
        &self.tables[self.last]
    }

    /// `P(Q > q)` for `nmeans` means and `df` degrees of freedom.
    pub fn upper(&mut self, q: f64, nmeans: usize, df: f64) -> f64 {
        self.get(nmeans, df).upper(q)
    }

    /// Number of `(k, ν)` tables built so far.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluation points per node spacing in the dense checks.
    const DENSITY: usize = 10;
    /// Asserted bounds of the module docs.
    const RANGE_TABLE_LN_TOL: f64 = 5e-10;
    const TABLE_ABS_TOL: f64 = 5e-10;
    const TABLE_REL_TOL: f64 = 5e-10;

    fn dense(start: f64, end: f64) -> impl Iterator<Item = f64> {
        let n = DENSITY * CHEB_NODES;
        (0..=n).map(move |i| start + (end - start) * i as f64 / n as f64)
    }

    fn panels(c: &Chebyshev) -> impl Iterator<Item = f64> + '_ {
        (0..c.coeffs.len()).flat_map(|p| dense(c.lo + p as f64 * c.width, c.lo + (p + 1) as f64 * c.width))
    }

    #[test]
    fn range_table_matches_quadrature_on_a_dense_grid() {
        let mut failures = 0;
        for k in [2, 3, 5, 9, 14, 20] {
            let table = RangeTable::new(k);
            let inner = Inner::new(k as f64);
            let mut worst = 0.0f64;
            for w in panels(&table.near).chain(panels(&table.far)) {
                let exact = inner.ln_upper(w);
                worst = worst.max((table.ln_upper(w) - exact).abs());
            }
            eprintln!("range table k={k}: max |Δ ln R| = {worst:.1e}");
            failures += usize::from(worst > RANGE_TABLE_LN_TOL);
        }
        assert_eq!(failures, 0, "range tables beyond {RANGE_TABLE_LN_TOL:e}");
    }

    #[test]
    fn studentized_table_matches_quadrature_on_a_dense_grid() {
        let mut failures = 0;
        for (k, df) in [(2, 2.0), (3, 5.0), (9, 23.0), (9, 27.0), (20, 2.0), (5, 100.0), (20, 1000.0), (4, 3.5)] {
            let table = StudentizedRange::new(k, df);
            let range = &table.range;
            let exact = |q: f64| ln_outer(q, df, range.w_max, |w| range.ln_upper(w)).exp();
            let Shape::Finite { small, body, tail, body_end_q } = &table.shape else { panic!("finite df") };
            let mut qs: Vec<(f64, usize)> =
                panels(small).map(|q| (q, 0)).chain(panels(body).map(|x| (x.exp(), 1))).collect();
            if let Some(tail) = tail {
                qs.extend(panels(tail).filter(|&v| v > 0.0).map(|v| (1.0 / v.sqrt(), 2)));
                qs.extend([1e3, 1e6, 1e9].map(|f| (f * body_end_q, 2)));
            }
            let (mut worst_abs, mut worst_rel) = (0.0f64, 0.0f64);
            let mut by_piece = [0.0f64; 3];
            for (q, piece) in qs {
                let (ours, reference) = (table.upper(q), exact(q));
                worst_abs = worst_abs.max((ours - reference).abs());
                if reference > 1e-300 {
                    worst_rel = worst_rel.max((ours - reference).abs() / reference);
                    by_piece[piece] = by_piece[piece].max((ours - reference).abs() / reference);
                }
            }
            eprintln!("  relative error by piece (small, body, tail): {by_piece:?}");
            eprintln!("table k={k} df={df}: max abs error {worst_abs:.1e}, max rel error {worst_rel:.1e}");
            failures += usize::from(worst_abs > TABLE_ABS_TOL || worst_rel > TABLE_REL_TOL);
        }
        assert_eq!(failures, 0, "tables beyond {TABLE_ABS_TOL:e} absolute or {TABLE_REL_TOL:e} relative");
    }

    #[test]
    fn quadrature_is_converged_against_half_steps() {
        for k in [2.0, 9.0, 20.0] {
            let (inner, fine) = (Inner::new(k), Inner::with_step(k, 0.5 * Inner::new(k).z_step));
            for w in [0.01, 0.5, 2.0, 5.0, 12.0, 30.0, 50.0] {
                let (a, b) = (inner.ln_upper(w), fine.ln_upper(w));
                // Near w = 0 both sums are 1 up to rounding of the ~100 terms.
                assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()), "k={k} w={w}: {a} vs {b}");
            }
            for df in [2.0f64, 7.0, 60.0, 1000.0] {
                let h = U_STEP_MAX.min(U_STEP_SCALE / (4.0 * df + 2.0).sqrt());
                for q in [0.5, 3.0, 8.0, 40.0, 1e4] {
                    let a = ln_outer_with_step(q, df, inner.w_max, h, |w| inner.ln_upper(w));
                    let b = ln_outer_with_step(q, df, inner.w_max, 0.5 * h, |w| inner.ln_upper(w));
                    assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()), "k={k} df={df} q={q}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn chi_weight_integrates_to_one_and_matches_the_textbook_form() {
        for df in [2.0f64, 3.5, 27.0, 1000.0, 1e6, 1e12] {
            let w = ChiWeight::new(df);
            let h = U_STEP_MAX.min(U_STEP_SCALE / (4.0 * df + 2.0).sqrt());
            let total: f64 = (-4000..4000).map(|i| w.ln(i as f64 * h).exp()).sum::<f64>() * h;
            assert!((total - 1.0).abs() < 1e-13, "df={df}: {total}");
            if df <= 1000.0 {
                let textbook = |u: f64| {
                    0.5 * df * df.ln() - (0.5 * df - 1.0) * std::f64::consts::LN_2 - ln_gamma(0.5 * df) + df * u
                        - 0.5 * df * (2.0 * u).exp()
                };
                for u in [-1.0, -0.1, 0.0, 0.05, 0.3] {
                    assert!((w.ln(u) - textbook(u)).abs() < 1e-10 * (1.0 + textbook(u).abs()), "df={df} u={u}");
                }
            }
        }
    }

    #[test]
    fn large_df_approaches_the_normal_limit() {
        let normal = StudentizedRange::new(9, f64::INFINITY);
        for df in [1e6, 1e9, 1e12] {
            let table = StudentizedRange::new(9, df);
            for q in [1.0, 3.0, 4.5, 6.0, 10.0] {
                let (a, b) = (table.upper(q), normal.upper(q));
                // The df correction is O(q⁴/ν) relative.
                assert!((a - b).abs() <= 1e-9 * b + 2.0 * q.powi(4) / df * b, "df={df} q={q}: {a:e} vs {b:e}");
            }
        }
    }

    #[test]
    fn tiny_upper_tails_keep_relative_accuracy() {
        // k = 2: Q = sqrt(2)|Z| for df = ∞, and P(|T_2| > t) = 2 / (r (r + t)), r = sqrt(t² + 2), for df = 2.
        let normal = StudentizedRange::new(2, f64::INFINITY);
        let two = StudentizedRange::new(2, 2.0);
        for q in [1.0, 5.0, 12.0, 25.0, 40.0, 52.0] {
            let exact = 2.0 * upper_normal(q / std::f64::consts::SQRT_2);
            for ours in [ptukey_upper(q, 2.0, f64::INFINITY), normal.upper(q)] {
                assert!((ours - exact).abs() <= 1e-12 * exact, "q={q}: {ours:e} vs {exact:e}");
            }
        }
        for q in [1.0, 30.0, 1e3, 1e6, 1e12] {
            let t = q / std::f64::consts::SQRT_2;
            let r = (t * t + 2.0).sqrt();
            let exact = 2.0 / (r * (r + t));
            for ours in [ptukey_upper(q, 2.0, 2.0), two.upper(q)] {
                assert!((ours - exact).abs() <= 1e-9 * exact, "q={q}: {ours:e} vs {exact:e}");
            }
        }
    }

    #[test]
    fn edge_cases_are_nan_or_clamped_without_panic() {
        let table = StudentizedRange::new(9, 27.0);
        assert!(table.upper(f64::NAN).is_nan());
        assert_eq!(table.upper(0.0), 1.0);
        assert_eq!(table.upper(-1.0), 1.0);
        assert_eq!(table.upper(f64::INFINITY), 0.0);
        assert!(StudentizedRange::new(9, 1.0).upper(3.0).is_nan());
        assert!(StudentizedRange::new(1, 10.0).upper(3.0).is_nan());
        assert!(StudentizedRange::new(5, f64::NAN).upper(3.0).is_nan());
        assert!(ptukey(3.0, 4.0, 1.5).is_nan() && ptukey_upper(3.0, 1.0, 10.0).is_nan());
        assert_eq!((ptukey(0.0, 4.0, 10.0), ptukey_upper(f64::INFINITY, 4.0, 10.0)), (0.0, 1.0 - 1.0));
        let large_df = StudentizedRange::new(9, 1000.0);
        assert_eq!(large_df.upper(500.0), 0.0);
        let mut last = 1.0;
        for i in 0..4000 {
            let p = table.upper(i as f64 * 0.01);
            // Monotone up to the interpolation error (the range table is good to ~1e-11 near P = 1).
            assert!(
                (0.0..=1.0).contains(&p) && p <= last + 1e-11,
                "not monotone at q = {}: {p:e} after {last:e}",
                i as f64 * 0.01
            );
            last = p;
        }
    }

    #[test]
    fn cache_builds_each_table_once() {
        let mut cache = StudentizedRangeCache::new();
        let a = cache.upper(4.0, 9, 27.0);
        let b = cache.upper(4.0, 9, 23.0);
        assert_eq!(cache.upper(4.0, 9, 27.0), a);
        assert_eq!(cache.upper(4.0, 9, 23.0), b);
        assert_eq!((cache.len(), cache.ranges.len()), (2, 1));
        assert!(b > a);
    }
}
