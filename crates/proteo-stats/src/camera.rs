//! limma `camera` (Wu & Smyth, Nucleic Acids Res. 2012) on per-gene moderated t statistics: Hill's t → z
//! approximation, the set's variance inflated by its inter-gene correlation, a two-sample t on the z-scores.
//!
//! Written from limma 3.54.1's `camera.default` and `.zscoreTHill` (R source), branch for branch; limma has no
//! library form we could call.

use crate::dist::StudentT;

/// limma `camera(inter.gene.cor = 0.01)`: the default correlation assumed between the genes of a set.
pub const DEFAULT_INTER_GENE_COR: f64 = 0.01;
/// limma `zscoreT(approx = TRUE)` caps the degrees of freedom here.
const MAX_DF: f64 = 1e100;
/// limma `camera` floors residual variances at this before standardizing residuals.
const MIN_SIGMA2: f64 = 1e-8;

/// limma `zscoreT(x, df, approx = TRUE, method = "hill")`: the z-score with the same tail probability as `x` on
/// `df` degrees of freedom (Hill 1970, Algorithm 396).
pub fn zscore_t_hill(x: f64, df: f64) -> f64 {
    let df = df.min(MAX_DF);
    let a = df - 0.5;
    let b = 48.0 * a * a;
    let mut z = a * (x / df * x).ln_1p();
    z = (((((-0.4 * z - 3.3) * z - 24.0) * z - 85.5) / (0.8 * z * z + 100.0 + b) + z + 3.0) / b + 1.0) * z.sqrt();
    if x > 0.0 {
        z
    } else if x < 0.0 {
        -z
    } else {
        0.0 * z
    }
}

/// How the inter-gene correlation of a set is obtained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InterGeneCorrelation {
    /// A fixed value for every set (`inter.gene.cor = ρ`); the t has G − 2 df.
    Fixed(f64),
    /// Estimated per set from the model's standardized residuals (`inter.gene.cor = NA`); the t has
    /// min(residual df, G − 2) df.
    Estimated,
}

/// One set's CAMERA result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraResult {
    /// Genes of the set with a statistic (`NGenes`).
    pub n_genes: usize,
    /// The inter-gene correlation used: the fixed value, or the estimate (NaN for one gene).
    pub correlation: f64,
    /// The two-sample t of the set's mean z against the other genes'.
    pub t: f64,
    /// `pt(t, df)`: evidence the set is down.
    pub down: f64,
    /// `pt(t, df, lower.tail = FALSE)`: evidence the set is up.
    pub up: f64,
    /// `2 · min(down, up)` (limma's `PValue`).
    pub p_value: f64,
    /// True when limma calls the direction "Up" (`down ≥ up`).
    pub is_up: bool,
}

/// The genes' z-scores and their moments, shared by every set of one contrast.
#[derive(Debug, Clone)]
pub struct Camera {
    z: Vec<f64>,
    mean: f64,
    var: f64,
    /// Standardized residuals, genes × residual df (row-major), for [`InterGeneCorrelation::Estimated`].
    residuals: Option<(Vec<f64>, usize)>,
}

impl Camera {
    /// `t[g]` and `df[g]`: each gene's moderated t and its total degrees of freedom (limma's `df.total`, one value
    /// for every gene when no value is missing). Genes whose t or df is not finite must be left out by the caller.
    ///
    /// # Panics
    /// When `t` and `df` differ in length.
    pub fn new(t: &[f64], df: &[f64]) -> Camera {
        assert_eq!(t.len(), df.len(), "one df per t");
        let z: Vec<f64> = t.iter().zip(df).map(|(&t, &d)| zscore_t_hill(t, d)).collect();
        let g = z.len() as f64;
        let mean = z.iter().sum::<f64>() / g;
        let var = z.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (g - 1.0);
        Camera { z, mean, var, residuals: None }
    }

    /// Adds the residuals that [`InterGeneCorrelation::Estimated`] needs: `residuals[g * n + i]` is gene g's
    /// least-squares residual on sample i, `residual_df` = samples − design rank. Each gene's residuals are scaled
    /// by its residual SD (limma: `U / sqrt(pmax(sigma2, 1e-8))`); since only lengths and inner products of the
    /// residual effects enter, residuals in sample space give what limma's QR residual effects give.
    ///
    /// # Panics
    /// When `residuals` is not genes × `n_samples` long.
    pub fn with_residuals(mut self, residuals: &[f64], n_samples: usize, residual_df: usize) -> Camera {
        assert_eq!(residuals.len(), self.z.len() * n_samples, "residuals must be genes × samples");
        let mut u = residuals.to_vec();
        for row in u.chunks_exact_mut(n_samples) {
            let sigma2 = row.iter().map(|r| r * r).sum::<f64>() / residual_df as f64;
            let scale = sigma2.max(MIN_SIGMA2).sqrt();
            row.iter_mut().for_each(|r| *r /= scale);
        }
        self.residuals = Some((u, residual_df));
        self
    }

    /// Number of genes (G).
    pub fn n_genes(&self) -> usize {
        self.z.len()
    }

    /// Tests the set `members` (gene indices, distinct). `None` when the correlation is to be estimated but no
    /// residuals were given.
    pub fn test(&self, members: &[usize], correlation: InterGeneCorrelation) -> Option<CameraResult> {
        let g = self.z.len();
        let m = members.len();
        let m2 = g - m;
        let (vif, reported, df) = match correlation {
            InterGeneCorrelation::Fixed(rho) => (1.0 + (m as f64 - 1.0) * rho, rho, (g as f64) - 2.0),
            InterGeneCorrelation::Estimated => {
                let (u, residual_df) = self.residuals.as_ref()?;
                let n = u.len() / g.max(1);
                let df = (*residual_df as f64).min(g as f64 - 2.0);
                if m > 1 {
                    let mut col_means = vec![0.0; n];
                    for &gene in members {
                        for (c, v) in col_means.iter_mut().zip(&u[gene * n..(gene + 1) * n]) {
                            *c += v;
                        }
                    }
                    let ss: f64 = col_means.iter().map(|c| (c / m as f64) * (c / m as f64)).sum();
                    let vif = m as f64 * ss / *residual_df as f64;
                    (vif, (vif - 1.0) / (m as f64 - 1.0), df)
                } else {
                    (1.0, f64::NAN, df)
                }
            }
        };
        // allow.neg.cor = FALSE.
        let vif = vif.max(1.0);
        let (gf, mf, m2f) = (g as f64, m as f64, m2 as f64);
        let mean_in = members.iter().map(|&i| self.z[i]).sum::<f64>() / mf;
        let delta = gf / m2f * (mean_in - self.mean);
        let var_pooled = ((gf - 1.0) * self.var - delta * delta * mf * m2f / gf) / (gf - 2.0);
        let t = delta / (var_pooled * (vif / mf + 1.0 / m2f)).sqrt();
        let dist = StudentT::new(df);
        let (down, up) = if t.is_nan() { (f64::NAN, f64::NAN) } else { (dist.upper(-t), dist.upper(t)) };
        Some(CameraResult {
            n_genes: m,
            correlation: reported,
            t,
            down,
            up,
            p_value: 2.0 * down.min(up),
            is_up: down.partial_cmp(&up) != Some(std::cmp::Ordering::Less),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hill_z_is_odd_and_tends_to_t_for_large_df() {
        assert_eq!(zscore_t_hill(0.0, 5.0), 0.0);
        assert_eq!(zscore_t_hill(-2.0, 7.0), -zscore_t_hill(2.0, 7.0));
        assert!((zscore_t_hill(1.5, 1e8) - 1.5).abs() < 1e-6);
        // R 4.2.2: limma::zscoreT(3, 4, approx = TRUE, method = "hill") = 2.054371 (qnorm(pt(3, 4)) = 2.054349).
        assert!((zscore_t_hill(3.0, 4.0) - 2.054371).abs() < 1e-6, "{}", zscore_t_hill(3.0, 4.0));
    }

    #[test]
    fn a_shifted_set_is_up_and_the_estimated_variant_needs_residuals() {
        let t: Vec<f64> = (0..200).map(|i| ((i * 37 % 101) as f64 - 50.0) / 25.0).collect();
        let mut t2 = t.clone();
        for v in &mut t2[..20] {
            *v += 3.0;
        }
        let cam = Camera::new(&t2, &vec![10.0; 200]);
        let r = cam.test(&(0..20).collect::<Vec<_>>(), InterGeneCorrelation::Fixed(DEFAULT_INTER_GENE_COR)).unwrap();
        assert!(r.is_up && r.p_value < 1e-6, "{r:?}");
        assert_eq!(r.n_genes, 20);
        assert!(cam.test(&[0, 1], InterGeneCorrelation::Estimated).is_none());
    }
}
