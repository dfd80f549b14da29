# Reference values for crates/proteo-stats/tests/impute_vs_r.rs, from R 4.2.2 with Bioconductor impute 1.72.3
# (Debian r-bioc-impute). Run from the repository root:  Rscript crates/proteo-stats/tests/reference/impute_reference.R
# impute.knn(x, k = 10, rowmax = 0.5, colmax = 0.8, maxp = nrow(x)): maxp at the row count, so the matrix is not
# split by two-means clustering first (proteo never splits); two rows above rowmax get column means.
# Writes crates/proteo-stats/tests/fixtures/impute_knn_{values,result}.tsv.

suppressPackageStartupMessages(library(impute))
stopifnot(packageVersion("impute") == "1.72.3")
args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(script) else "crates/proteo-stats/tests/reference"
source(file.path(here, "fixtures_common.R"))

set.seed(11)
n <- 400; k <- 12
x <- matrix(rnorm(n, 24, 2), n, k) + matrix(rnorm(n * k, 0, 0.5), n, k) +
  outer(rep(1, n), rep(c(0, 0.6, -0.4), each = 4))
# Missing more often at low intensity, as in proteomics; ties in distance from duplicated rows.
p_miss <- plogis(-(x - 21.5) * 1.5)
x[matrix(runif(n * k), n, k) < p_miss] <- NA
x[10, ] <- x[11, ]
x[20, c(1, 2, 3, 4, 5, 6, 7)] <- NA
x[21, c(2, 4, 6, 8, 10, 12, 1)] <- NA
# impute's mean fallback (mean.miss) runs `x[imiss] <- 0` with an integer 0/1 `imiss`, which zeroes x[1, 1] rather
# than the missing entries; with x[1, 1] missing that is harmless, so the fallback is compared as documented.
x[1, 1] <- NA
colnames(x) <- paste0("S", seq_len(k))
write_matrix(x, "impute_knn_values.tsv")
imp <- suppressWarnings(impute.knn(x, k = 10, rowmax = 0.5, colmax = 0.8, maxp = nrow(x)))$data
write_matrix(imp, "impute_knn_result.tsv")
cat("wrote impute fixtures to", out_dir, "; missing:", sum(is.na(x)), "\n")
