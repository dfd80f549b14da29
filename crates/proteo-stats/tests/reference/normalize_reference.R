# Reference values for crates/proteo-stats/tests/normalize_vs_r.rs, from R 4.2.2 with limma 3.54.1.
# Run from the repository root:  Rscript crates/proteo-stats/tests/reference/normalize_reference.R
# Writes crates/proteo-stats/tests/fixtures/normalize_*.tsv: the input matrix (NA = missing), limma's
# normalizeQuantiles and normalizeCyclicLoess of it, the reference-set variants written out in R primitives
# (normalizeQuantiles / lowess on the reference rows, approx onto every row), and lowess on vectors with ties.

suppressPackageStartupMessages(library(limma))
stopifnot(packageVersion("limma") == "3.54.1")

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(script) else "crates/proteo-stats/tests/reference"
source(file.path(here, "fixtures_common.R"))

set.seed(20240614)
n <- 300; k <- 6
base <- rnorm(n, 24, 2)
# Intensity-dependent bias per sample (what cyclic loess removes), a global shift, noise, and rounding ties.
x <- sapply(seq_len(k), function(j) base + (j - 3) * 0.3 + 0.08 * (j - 3) * (base - 24) + rnorm(n, 0, 0.4))
x <- round(x, 3)
x[sample(length(x), 0.12 * length(x))] <- NA
x[1:3, 2] <- NA
colnames(x) <- paste0("S", seq_len(k))
write_matrix(x, "normalize_values.tsv")
reference <- seq_len(n) %% 3 == 0
writeLines(c("reference", ifelse(reference, "1", "0")), file.path(out_dir, "normalize_reference_rows.tsv"))

write_matrix(normalizeQuantiles(x), "normalize_quantile.tsv")
write_matrix(normalizeCyclicLoess(x), "normalize_cyclic_loess.tsv")

# Quantile normalization on the reference rows: those rows get normalizeQuantiles of the reference submatrix, every
# other value is mapped through its sample's reference (before -> after) curve, shifted by the end offset outside it.
q_on <- x
qr <- normalizeQuantiles(x[reference, ])
for (j in seq_len(k)) {
  b <- x[reference, j]; a <- qr[, j]; ok <- !is.na(b)
  o <- order(b[ok]); bx <- b[ok][o]; ay <- a[ok][o]
  ux <- unique(bx); uy <- sapply(ux, function(u) mean(ay[bx == u]))
  lo <- min(bx); hi <- max(bx)
  lo_off <- uy[1] - ux[1]; hi_off <- uy[length(uy)] - ux[length(ux)]
  others <- which(!reference & !is.na(x[, j]))
  v <- x[others, j]
  q_on[others, j] <- ifelse(v <= lo, v + lo_off, ifelse(v >= hi, v + hi_off,
    approx(ux, uy, xout = v, ties = "ordered")$y))
  q_on[reference, j] <- qr[, j]
}
write_matrix(q_on, "normalize_quantile_on_reference.tsv")

# Cyclic loess on the reference rows: limma's "fast" loop, each curve from lowess on the reference rows
# (loessFit's iterations = 4, i.e. iter = 3) and approx(rule = 2) onto every row.
l_on <- x
for (it in 1:3) {
  a <- rowMeans(l_on, na.rm = TRUE)
  for (j in seq_len(k)) {
    m <- l_on[, j] - a
    obs <- reference & is.finite(m) & is.finite(a)
    lo <- lowess(a[obs], m[obs], f = 0.7, iter = 3L)
    f <- approx(lo$x, lo$y, xout = a, rule = 2, ties = mean)$y
    f[!is.finite(m)] <- NA
    l_on[, j] <- l_on[, j] - f
  }
}
write_matrix(l_on, "normalize_cyclic_loess_on_reference.tsv")

# lowess itself: ties, a robustness step that zeroes outliers, and the default f and delta.
xl <- round(runif(120, 0, 10), 1)
yl <- sin(xl) + rnorm(120, 0, 0.2)
yl[c(5, 50, 90)] <- yl[c(5, 50, 90)] + 6
lw <- lowess(xl, yl)
lw2 <- lowess(xl, yl, f = 0.3, iter = 0L, delta = 0)
write_matrix(cbind(x = xl, y = yl), "normalize_lowess_input.tsv")
write_matrix(cbind(x = lw$x, y = lw$y, y_f03_iter0 = lw2$y), "normalize_lowess.tsv")
cat("wrote normalize fixtures to", out_dir, "\n")
