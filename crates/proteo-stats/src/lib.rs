//! Pure numerics for proteo: special functions, distributions, limma-style linear models, classical tests, multiple testing.

pub mod anova;
pub mod dist;
pub mod hyper;
pub mod impute;
pub mod limma;
pub mod normalize;
pub mod padjust;
pub mod ptukey;
pub mod special;
pub mod ttest;
pub mod tukey;
