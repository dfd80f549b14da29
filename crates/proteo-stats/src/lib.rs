//! Pure numerics for proteo: special functions, distributions, limma-style linear models, classical tests, multiple testing, gene-set tests (CAMERA, preranked GSEA).

pub mod anova;
pub mod boxplot;
pub mod camera;
pub mod dist;
pub mod gsea;
pub mod hyper;
pub mod impute;
pub mod limma;
pub mod normalize;
pub mod padjust;
pub mod ptukey;
pub mod special;
pub mod ttest;
pub mod tukey;
