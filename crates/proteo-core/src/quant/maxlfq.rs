//! MaxLFQ for one protein (Cox et al. 2014, MCP 13:2513), as the `iq` R package's `maxLFQ()` computes it.
//!
//! Pairwise log-ratios between runs are medians over the precursors both runs quantified; the protein profile is the
//! least-squares fit to those ratios within each connected component of runs, and each component's level is anchored
//! as iq does: its estimates sum to the component size times the mean of all its observed log2 values. A run alone in
//! its component gets the median of its precursors. The normal equations are solved with nalgebra's Cholesky
//! factorisation; a component whose runs all share precursors pairwise has a closed-form solution (derived in
//! [`solve_component`]), which is what makes 1 000-run cohorts tractable.

use nalgebra::{DMatrix, DVector};

/// Precursors two runs must share for their ratio to enter the fit. iq and DIA-NN use every pair with at least one
/// shared precursor (iq `maxLFQ`, DIA-NN R package `maxlfq_solve`).
pub const DEFAULT_MIN_SHARED: usize = 1;

/// One protein's estimate: log2 abundance per run (`NaN` = not quantified) and how many connected components of runs
/// the fit had (more than one means the levels of different components are not comparable, iq's "annotation").
#[derive(Debug, Clone, PartialEq)]
pub struct ProteinEstimate {
    pub log2: Vec<f64>,
    pub components: usize,
}

/// Reusable buffers, so quantifying many proteins does not allocate per protein.
#[derive(Default)]
pub struct Workspace {
    ratios: Vec<f64>,
    pair: Vec<f64>,
    by_run: Vec<f64>,
    component: Vec<usize>,
    stack: Vec<usize>,
    members: Vec<usize>,
    observed: Vec<f64>,
}

/// MaxLFQ of a protein whose precursors × runs log2 values are `x` (row-major, `n_precursors × n_runs`, `NaN` =
/// missing). `min_shared` ≥ 1 is the number of precursors a pair of runs must share.
pub fn maxlfq(x: &[f64], n_precursors: usize, n_runs: usize, min_shared: usize, ws: &mut Workspace) -> ProteinEstimate {
    debug_assert_eq!(x.len(), n_precursors * n_runs);
    let min_shared = min_shared.max(1);
    let mut log2 = vec![f64::NAN; n_runs];
    if n_precursors == 1 {
        log2.copy_from_slice(x);
        // Every run with a value shares this one precursor: one component (none when it has no value at all).
        let components = usize::from(log2.iter().any(|v| !v.is_nan()));
        return ProteinEstimate { log2, components };
    }
    // Run-major copy: the pair loop below reads two runs' precursors contiguously.
    let mut by_run = std::mem::take(&mut ws.by_run);
    by_run.clear();
    by_run.extend((0..n_runs).flat_map(|r| (0..n_precursors).map(move |p| x[p * n_runs + r])));
    let column = |r: usize| &by_run[r * n_precursors..(r + 1) * n_precursors];
    let present = |r: usize| column(r).iter().any(|v| !v.is_nan());

    // Pairwise medians, kept for every pair that shares enough precursors; NaN marks "no edge".
    let mut ratio = std::mem::take(&mut ws.pair);
    ratio.clear();
    ratio.resize(n_runs * n_runs, f64::NAN);
    for i in 0..n_runs {
        let ci = column(i);
        for j in i + 1..n_runs {
            ws.ratios.clear();
            ws.ratios.extend(ci.iter().zip(column(j)).filter(|(a, b)| !a.is_nan() && !b.is_nan()).map(|(a, b)| b - a));
            if ws.ratios.len() >= min_shared {
                let m = median(&mut ws.ratios);
                ratio[i * n_runs + j] = m;
                ratio[j * n_runs + i] = -m;
            }
        }
    }

    // Connected components over the runs with at least one value; runs are visited in order, so labels are stable.
    ws.component.clear();
    ws.component.resize(n_runs, usize::MAX);
    let mut components = 0;
    for start in 0..n_runs {
        if ws.component[start] != usize::MAX || !present(start) {
            continue;
        }
        ws.stack.clear();
        ws.stack.push(start);
        ws.component[start] = components;
        while let Some(r) = ws.stack.pop() {
            for k in 0..n_runs {
                if ws.component[k] == usize::MAX && !ratio[r * n_runs + k].is_nan() {
                    ws.component[k] = components;
                    ws.stack.push(k);
                }
            }
        }
        components += 1;
    }

    for c in 0..components {
        ws.members.clear();
        ws.members.extend((0..n_runs).filter(|&r| ws.component[r] == c));
        ws.observed.clear();
        for &r in &ws.members {
            ws.observed.extend(column(r).iter().copied().filter(|v| !v.is_nan()));
        }
        if ws.members.len() == 1 {
            log2[ws.members[0]] = median(&mut ws.observed);
            continue;
        }
        let mean = ws.observed.iter().sum::<f64>() / ws.observed.len() as f64;
        let solution = solve_component(&ws.members, &ratio, n_runs, mean);
        for (k, &r) in ws.members.iter().enumerate() {
            log2[r] = solution[k];
        }
    }
    ws.pair = ratio;
    ws.by_run = by_run;
    ProteinEstimate { log2, components }
}

/// Least-squares fit of the runs `members` (one connected component) to the pairwise ratios, summing to
/// `members.len() × mean`.
///
/// With `r_ij` = median(x_j − x_i) the fit minimises Σ_{i<j} (w_j − w_i − r_ij)² over the pairs with a ratio. Its
/// normal equations are `L w = b`, with `L` the Laplacian of the pair graph and `b_i = Σ_j r_ji`; iq adds the
/// constraint Σ w = S (S = n·mean) through a Lagrange row. For a connected component `L + 11ᵀ` is positive definite,
/// and `(L + 11ᵀ) w = b + S·1` has exactly iq's solution (summing its rows gives n·Σw = n·S, hence `L w = b`).
/// When every pair has a ratio, `L = nI − 11ᵀ` and the solution is `w = (b + S)/n`.
fn solve_component(members: &[usize], ratio: &[f64], n_runs: usize, mean: f64) -> Vec<f64> {
    let n = members.len();
    let total = n as f64 * mean;
    let mut b = vec![0.0; n];
    let mut degree = vec![0usize; n];
    for (a, &i) in members.iter().enumerate() {
        for &j in members {
            let r = ratio[j * n_runs + i];
            if j != i && !r.is_nan() {
                b[a] += r;
                degree[a] += 1;
            }
        }
    }
    if degree.iter().all(|&d| d == n - 1) {
        return b.iter().map(|bi| (bi + total) / n as f64).collect();
    }
    let mut m = DMatrix::<f64>::from_element(n, n, 1.0);
    for (a, &i) in members.iter().enumerate() {
        m[(a, a)] += degree[a] as f64;
        for (c, &j) in members.iter().enumerate() {
            if c != a && !ratio[i * n_runs + j].is_nan() {
                m[(a, c)] -= 1.0;
            }
        }
    }
    let rhs = DVector::from_iterator(n, b.iter().map(|bi| bi + total));
    match m.clone().cholesky() {
        Some(chol) => chol.solve(&rhs).iter().copied().collect(),
        // Unreachable for a connected component (the matrix is positive definite); kept so rounding on a
        // near-singular system cannot lose a protein.
        None => {
            m.svd(true, true).solve(&rhs, 1e-12).map(|s| s.iter().copied().collect()).unwrap_or_else(|_| vec![mean; n])
        }
    }
}

/// Median of `values` (reordered in place); the mean of the two middle values for an even count, as R's `median`.
fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let mid = n / 2;
    let (_, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return upper;
    }
    let lower = values[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    0.5 * (lower + upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NA: f64 = f64::NAN;

    fn run(x: &[f64], p: usize, n: usize) -> ProteinEstimate {
        maxlfq(x, p, n, DEFAULT_MIN_SHARED, &mut Workspace::default())
    }

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x.is_nan() && y.is_nan()) || (x - y).abs() <= tol)
    }

    #[test]
    fn consistent_ratios_are_recovered_exactly_and_anchored_to_the_mean() {
        // Two precursors with the same profile shifted by 3: ratios are exact, the level is the mean of all values.
        let x = [10.0, 11.0, 12.5, 13.0, 14.0, 15.5];
        let e = run(&x, 2, 3);
        let mean = x.iter().sum::<f64>() / 6.0;
        assert!((e.log2[1] - e.log2[0] - 1.0).abs() < 1e-12 && (e.log2[2] - e.log2[1] - 1.5).abs() < 1e-12);
        assert!((e.log2.iter().sum::<f64>() - 3.0 * mean).abs() < 1e-12);
        assert_eq!(e.components, 1);
    }

    #[test]
    fn single_precursor_is_passed_through() {
        let e = run(&[1.0, NA, 3.0], 1, 3);
        assert!(close(&e.log2, &[1.0, NA, 3.0], 0.0));
    }

    #[test]
    fn disconnected_runs_form_components_and_lonely_runs_take_their_median() {
        // Runs 0,1 share precursor 0; run 2 shares nothing with them (precursors 1 and 2 only there).
        #[rustfmt::skip]
        let x = [
            5.0, 6.0, NA,
            NA,  NA,  7.0,
            NA,  NA,  9.0,
        ];
        let e = run(&x, 3, 3);
        assert_eq!(e.components, 2);
        assert!(close(&e.log2, &[5.0, 6.0, 8.0], 1e-12), "{:?}", e.log2);
        let all_missing = run(&[NA; 6], 2, 3);
        assert!(all_missing.log2.iter().all(|v| v.is_nan()));
        assert_eq!(all_missing.components, 0);
    }

    #[test]
    fn incomplete_graph_uses_the_cholesky_path_and_equals_the_lagrange_system() {
        // Run 0 and run 2 share no precursor, but both share with run 1: one component, not complete.
        #[rustfmt::skip]
        let x = [
            1.0, 2.0, NA,  4.0,
            NA,  3.5, 5.0, 6.1,
            0.5, NA,  NA,  3.0,
        ];
        let e = run(&x, 3, 4);
        assert_eq!(e.components, 1);
        // iq's bordered system [2AtA 1; 1' 0][w; λ] = [2Atb; n·mean], solved densely here as the reference.
        let n = 4;
        let mut ata = DMatrix::<f64>::zeros(n + 1, n + 1);
        let mut atb = DVector::<f64>::zeros(n + 1);
        let col = |r: usize| (0..3).map(|p| x[p * n + r]).collect::<Vec<_>>();
        for i in 0..n {
            for j in i + 1..n {
                let mut d: Vec<f64> =
                    col(i).iter().zip(col(j)).filter(|(a, b)| !a.is_nan() && !b.is_nan()).map(|(a, b)| b - a).collect();
                if d.is_empty() {
                    continue;
                }
                let r = median(&mut d);
                ata[(i, j)] = -2.0;
                ata[(j, i)] = -2.0;
                ata[(i, i)] += 2.0;
                ata[(j, j)] += 2.0;
                atb[i] -= 2.0 * r;
                atb[j] += 2.0 * r;
            }
            ata[(i, n)] = 1.0;
            ata[(n, i)] = 1.0;
        }
        let obs: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
        atb[n] = obs.iter().sum::<f64>() / obs.len() as f64 * n as f64;
        let reference = ata.lu().solve(&atb).unwrap();
        assert!(close(&e.log2, &reference.as_slice()[..n], 1e-12), "{:?} vs {reference}", e.log2);
    }

    #[test]
    fn closed_form_equals_the_factorised_solution() {
        let members = [0, 1, 2, 3];
        let mut ratio = vec![NA; 16];
        let w = [0.3, -1.2, 2.0, 0.7];
        for i in 0..4 {
            for j in 0..4 {
                if i != j {
                    ratio[i * 4 + j] =
                        w[j] - w[i] + 0.01 * ((i * 7 + j * 3) % 5) as f64 * if i < j { 1.0 } else { -1.0 };
                }
            }
        }
        let closed = solve_component(&members, &ratio, 4, 0.5);
        // The same system solved densely.
        let mut m = DMatrix::<f64>::from_element(4, 4, 1.0);
        let mut rhs = DVector::<f64>::from_element(4, 2.0);
        for a in 0..4 {
            m[(a, a)] += 3.0;
            for c in 0..4 {
                if c != a {
                    m[(a, c)] -= 1.0;
                    rhs[a] += ratio[c * 4 + a];
                }
            }
        }
        let dense = m.lu().solve(&rhs).unwrap();
        assert!(close(&closed, dense.as_slice(), 1e-12));
    }

    #[test]
    fn min_shared_drops_weak_pairs() {
        // Runs 0,1 share two precursors, run 2 shares one with each: with min_shared 2 run 2 stands alone.
        #[rustfmt::skip]
        let x = [
            1.0, 2.0, 4.0,
            1.5, 2.5, NA,
        ];
        let strict = maxlfq(&x, 2, 3, 2, &mut Workspace::default());
        assert_eq!(strict.components, 2);
        assert_eq!(strict.log2[2], 4.0);
        assert_eq!(run(&x, 2, 3).components, 1);
    }

    #[test]
    fn median_matches_r() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
