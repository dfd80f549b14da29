use nalgebra::DMatrix;
use proteo_stats::limma::*;
fn main() {
    let (ng, ngr, reps) = (5000usize, 9usize, 4usize);
    let ns = ngr * reps;
    let mut state = 12345u64;
    let mut rnd = || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; (state >> 11) as f64 / (1u64 << 53) as f64 };
    let mut v = vec![0.0; ng * ns];
    for g in 0..ng { let base = 20.0 + 4.0 * rnd(); let sd = if std::env::var("HETERO").is_ok() { 0.1 + 0.5 * rnd() * rnd() } else { 0.3 }; for s in 0..ns { let u: f64 = (0..12).map(|_| rnd()).sum::<f64>() - 6.0; v[g*ns+s] = if rnd() < 0.1 { f64::NAN } else { base + (s / reps) as f64 * 0.1 * (g % 7) as f64 + sd * u }; } }
    let design = DMatrix::from_fn(ns, ngr, |i, j| if i / reps == j { 1.0 } else { 0.0 });
    let mut pairs = vec![];
    for a in 0..ngr { for b in a+1..ngr { pairs.push((a,b)); } }
    let c = DMatrix::from_fn(ngr, pairs.len(), |i, j| if i == pairs[j].1 { 1.0 } else if i == pairs[j].0 { -1.0 } else { 0.0 });
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        let fit = lm_fit(&v, ns, &design).unwrap();
        let t1 = t0.elapsed();
        let cf = contrasts_fit(&fit, &c);
        let t2 = t0.elapsed();
        let eb = ebayes(&cf, &EbayesOptions::default()).unwrap();
        let t3 = t0.elapsed();
        println!("d0 {} dft {} t0..5 {:?}", eb.df_prior[0], eb.df_total[0], &eb.t[..5]);
        println!("lm_fit {:?} contrasts {:?} ebayes {:?} total {:?} (p0 {})", t1, t2 - t1, t3 - t2, t3, eb.p_value[0]);
    }
}
#[allow(dead_code)]
pub fn bench_pt() {
    let t0 = std::time::Instant::now();
    let mut s = 0.0;
    for i in 0..180_000 { let t = ((i % 1000) as f64 - 500.0) / 100.0; s += proteo_stats::dist::pt_two_sided(t, 27.3 + (i % 5) as f64); }
    println!("180k pt: {:?} ({s})", t0.elapsed());
}
