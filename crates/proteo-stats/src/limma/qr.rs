//! Householder QR with R's limited column pivoting (LINPACK `dqrdc2`, as used by `lm.fit`).
//!
//! Hand-written rather than nalgebra's QR because limma's results depend on `dqrdc2`'s rule for
//! which coefficients are not estimable (a column whose remaining norm falls below `tol` times
//! its original norm moves to the end and its coefficient becomes `NA`), and because the per-gene
//! fits must reuse buffers instead of allocating.

/// `lm.fit`'s default tolerance for the limited pivoting.
pub(crate) const LM_FIT_TOL: f64 = 1e-7;

/// Dot product with four partial sums (vectorises; the order differs from LINPACK's `ddot`
/// only by rounding).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// dqrdc2 recomputes a downdated column norm when its square fell by more than this factor.
const NORM_RECOMPUTE: f64 = 1e-6;

/// A reusable QR workspace for matrices of at most `max_n` rows and exactly `p` columns.
pub(crate) struct Qr {
    p: usize,
    n: usize,
    /// Column-major, leading dimension `n`: R above the diagonal, Householder vectors below.
    a: Vec<f64>,
    /// First element of each Householder vector (LINPACK `qraux`).
    vfirst: Vec<f64>,
    /// Diagonal of R.
    rdiag: Vec<f64>,
    /// Whether a Householder transformation was applied at step l.
    applied: Vec<bool>,
    /// Squared norms of the columns' remaining parts and of the original columns (dqrdc2's
    /// `qraux`/`work`, squared: the pivoting test needs no square root).
    norms2: Vec<f64>,
    orig2: Vec<f64>,
    rdiag_inv: Vec<f64>,
    /// Column of the original matrix at each position.
    pub(crate) pivot: Vec<usize>,
    pub(crate) rank: usize,
    /// Inverse of the leading rank × rank block of R, row-major p × p (upper triangular).
    rinv: Vec<f64>,
    tmp: Vec<f64>,
}

impl Qr {
    pub(crate) fn new(max_n: usize, p: usize) -> Self {
        Qr {
            p,
            n: 0,
            a: vec![0.0; max_n * p],
            vfirst: vec![0.0; p],
            rdiag: vec![0.0; p],
            applied: vec![false; p],
            norms2: vec![0.0; p],
            orig2: vec![0.0; p],
            rdiag_inv: vec![0.0; p],
            pivot: (0..p).collect(),
            rank: 0,
            rinv: vec![0.0; p * p],
            tmp: vec![0.0; p],
        }
    }

    /// Column-major storage to fill before [`Qr::factor`]: `n` rows, leading dimension `n`.
    pub(crate) fn matrix_mut(&mut self, n: usize) -> &mut [f64] {
        self.n = n;
        &mut self.a[..n * self.p]
    }

    fn col_norm2(&self, j: usize, from: usize) -> f64 {
        let n = self.n;
        let c = &self.a[j * n + from..j * n + n];
        dot(c, c)
    }

    /// Factorises the matrix last written by [`Qr::matrix_mut`].
    pub(crate) fn factor(&mut self, tol: f64) {
        let (n, p) = (self.n, self.p);
        let tol2 = tol * tol;
        for j in 0..p {
            self.pivot[j] = j;
            self.applied[j] = false;
            let nj = self.col_norm2(j, 0);
            self.norms2[j] = nj;
            self.orig2[j] = if nj == 0.0 { 1.0 } else { nj };
        }
        let mut k = p;
        let lup = n.min(p);
        for l in 0..lup {
            while l < k && self.norms2[l] < self.orig2[l] * tol2 {
                // Move column l to the end, shifting the others left (dqrdc2's cycling).
                for i in 0..n {
                    let t = self.a[l * n + i];
                    for j in l + 1..p {
                        self.a[(j - 1) * n + i] = self.a[j * n + i];
                    }
                    self.a[(p - 1) * n + i] = t;
                }
                self.pivot[l..].rotate_left(1);
                self.norms2[l..].rotate_left(1);
                self.orig2[l..].rotate_left(1);
                k -= 1;
            }
            if l >= k {
                break;
            }
            if l + 1 == n {
                self.rdiag[l] = self.a[l * n + l];
                continue;
            }
            let mut nrm = self.col_norm2(l, l).sqrt();
            if nrm == 0.0 {
                self.rdiag[l] = 0.0;
                continue;
            }
            if self.a[l * n + l] != 0.0 {
                nrm = nrm.copysign(self.a[l * n + l]);
            }
            let inv = 1.0 / nrm;
            for v in &mut self.a[l * n + l..l * n + n] {
                *v *= inv;
            }
            self.a[l * n + l] += 1.0;
            let v1 = self.a[l * n + l];
            for j in l + 1..p {
                let (left, right) = self.a.split_at_mut(j * n);
                let v = &left[l * n + l..l * n + n];
                let col = &mut right[l..n];
                let t = -dot(v, col) / v1;
                for (c, vi) in col.iter_mut().zip(v) {
                    *c += t * vi;
                }
                // dqrdc2's norm downdate, recomputing after a large reduction.
                if self.norms2[j] != 0.0 {
                    let top = self.a[j * n + l];
                    let tt = (1.0 - top * top / self.norms2[j]).max(0.0);
                    if tt >= NORM_RECOMPUTE {
                        self.norms2[j] *= tt;
                    } else {
                        self.norms2[j] = self.col_norm2(j, l + 1);
                    }
                }
            }
            self.vfirst[l] = v1;
            self.applied[l] = true;
            self.rdiag[l] = -nrm;
        }
        self.rank = k.min(n);
        self.invert_r();
    }

    fn invert_r(&mut self) {
        let (p, r) = (self.p, self.rank);
        self.rinv.iter_mut().for_each(|v| *v = 0.0);
        for j in 0..r {
            self.rdiag_inv[j] = 1.0 / self.rdiag[j];
        }
        let n = self.n;
        for j in 0..r {
            self.rinv[j * p + j] = self.rdiag_inv[j];
            for i in (0..j).rev() {
                let mut s = 0.0;
                for m in i + 1..=j {
                    s += self.a[m * n + i] * self.rinv[m * p + j];
                }
                self.rinv[i * p + j] = -s * self.rdiag_inv[i];
            }
        }
    }

    /// Applies Qᵀ (the first `rank` reflections, as `dqrsl` does for `lm.fit`) to `y` in place.
    pub(crate) fn apply_qt(&self, y: &mut [f64]) {
        let n = self.n;
        for l in 0..self.rank {
            if !self.applied[l] {
                continue;
            }
            let v = &self.a[l * n + l..l * n + n];
            let t = -dot(v, &y[l..n]) / self.vfirst[l];
            for (yi, vi) in y[l..n].iter_mut().zip(v) {
                *yi += t * vi;
            }
        }
    }

    /// Least-squares fit of `y` (length n, overwritten by Qᵀy). Writes coefficients in the original
    /// column order (NaN where not estimable) and returns the residual sum of squares.
    pub(crate) fn solve(&mut self, y: &mut [f64], coef: &mut [f64]) -> f64 {
        self.apply_qt(y);
        let (p, r) = (self.p, self.rank);
        for i in 0..r {
            let row = &self.rinv[i * p + i..i * p + r];
            self.tmp[i] = row.iter().zip(&y[i..r]).map(|(a, b)| a * b).sum();
        }
        coef.iter_mut().for_each(|c| *c = f64::NAN);
        for i in 0..r {
            coef[self.pivot[i]] = self.tmp[i];
        }
        y[r..self.n].iter().map(|e| e * e).sum()
    }

    /// `sqrt(diag(chol2inv(R)))` in the original column order (NaN where not estimable).
    pub(crate) fn stdev_unscaled(&self, out: &mut [f64]) {
        let (p, r) = (self.p, self.rank);
        out.iter_mut().for_each(|c| *c = f64::NAN);
        for i in 0..r {
            let s: f64 = (i..r).map(|j| self.rinv[i * p + j] * self.rinv[i * p + j]).sum();
            out[self.pivot[i]] = s.sqrt();
        }
    }

    /// `chol2inv(R)` of the estimable block, rank × rank, in pivoted order.
    pub(crate) fn unscaled_covariance(&self) -> Vec<f64> {
        let (p, r) = (self.p, self.rank);
        let mut c = vec![0.0; r * r];
        for i in 0..r {
            for j in 0..r {
                let from = i.max(j);
                c[i * r + j] = (from..r).map(|m| self.rinv[i * p + m] * self.rinv[j * p + m]).sum();
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_column_is_pivoted_out_like_lm_fit() {
        // lm.fit(cbind(1, 0, 1:4), c(1, 3, 2, 5)): coefficient 2 is NA, the others 0.0 and 1.0... see below.
        let mut qr = Qr::new(4, 3);
        let m = qr.matrix_mut(4);
        m.copy_from_slice(&[1., 1., 1., 1., 0., 0., 0., 0., 1., 2., 3., 4.]);
        qr.factor(LM_FIT_TOL);
        assert_eq!(qr.rank, 2);
        assert_eq!(qr.pivot, vec![0, 2, 1]);
        let mut y = [1.0, 3.0, 2.0, 5.0];
        let mut coef = [0.0; 3];
        let rss = qr.solve(&mut y, &mut coef);
        // R 4.2.2: coef = 0.0, NA, 1.1; rss = sum(resid^2) = 2.7
        assert!((coef[0] - 0.0).abs() < 1e-14, "{coef:?}");
        assert!(coef[1].is_nan());
        assert!((coef[2] - 1.1).abs() < 1e-14);
        assert!((rss - 2.7).abs() < 1e-13);
    }

    #[test]
    fn collinear_later_column_is_not_estimable() {
        // Column 3 = column 1 + column 2: dqrdc2 drops the later column.
        let mut qr = Qr::new(4, 3);
        let m = qr.matrix_mut(4);
        m.copy_from_slice(&[1., 1., 0., 0., 0., 0., 1., 1., 1., 1., 1., 1.]);
        qr.factor(LM_FIT_TOL);
        assert_eq!(qr.rank, 2);
        assert_eq!(qr.pivot[2], 2);
    }
}
