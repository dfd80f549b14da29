# Reference values for crates/proteo-stats/tests/ftest_vs_r.rs, from R 4.2.2 with limma 3.54.1.
# Run from the repository root:  Rscript crates/proteo-stats/tests/reference/ftest_reference.R
# The moderated F of "any difference among the groups" from each protein's own fit: lm.fit on the protein's observed
# samples, its estimable group coefficients' differences to the first, their unscaled covariance from that fit, and
# s2.post / df.prior from eBayes. Also limma's own F (classifyTestsF over all pairwise contrasts, the design's shared
# covariance), which the per-protein F must equal on proteins without missing values.
# Writes crates/proteo-stats/tests/fixtures/ftest_<case>_{values,design,results}.tsv.

suppressPackageStartupMessages(library(limma))
stopifnot(packageVersion("limma") == "3.54.1")

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(script) else "crates/proteo-stats/tests/reference"
source(file.path(here, "fixtures_common.R"))

per_protein_f <- function(y, X, group_cols, s2_post, df2) {
  obs <- is.finite(y)
  if (!any(obs)) return(c(NA, NA, NA, NA))
  fit <- lm.fit(X[obs, , drop = FALSE], y[obs])
  r <- fit$rank
  piv <- fit$qr$pivot[seq_len(r)]
  V <- chol2inv(fit$qr$qr[seq_len(r), seq_len(r), drop = FALSE])
  est <- group_cols[group_cols %in% piv & !is.na(fit$coefficients[group_cols])]
  if (length(est) < 2) return(c(NA, NA, NA, NA))
  pos <- match(est, piv)
  q <- length(est) - 1
  b <- fit$coefficients[est]
  L <- cbind(-1, diag(q))
  Vg <- V[pos, pos, drop = FALSE]
  lb <- L %*% b
  f <- as.numeric(t(lb) %*% solve(L %*% Vg %*% t(L), lb)) / (q * s2_post)
  c(f, q, df2, pf(f, q, df2, lower.tail = FALSE))
}

run_case <- function(case, m, X, group_cols) {
  colnames(m) <- paste0("S", seq_len(ncol(m)))
  fit <- lmFit(m, X)
  eb <- eBayes(fit)
  k <- length(group_cols)
  pairs <- combn(k, 2)
  C <- matrix(0, ncol(X), ncol(pairs))
  for (j in seq_len(ncol(pairs))) { C[group_cols[pairs[1, j]], j] <- 1; C[group_cols[pairs[2, j]], j] <- -1 }
  shared <- eBayes(contrasts.fit(fit, C))
  df2 <- eb$df.residual + eb$df.prior
  res <- t(sapply(seq_len(nrow(m)), function(i) per_protein_f(m[i, ], X, group_cols, eb$s2.post[i], df2[i])))
  write_matrix(m, sprintf("ftest_%s_values.tsv", case))
  write_matrix(X, sprintf("ftest_%s_design.tsv", case))
  out <- data.frame(f = res[, 1], df1 = res[, 2], df2 = res[, 3], p_value = res[, 4],
                    limma_f = shared$F, complete = as.numeric(rowSums(is.na(m)) == 0))
  write_matrix(out, sprintf("ftest_%s_results.tsv", case))
  writeLines(paste(group_cols - 1, collapse = "\t"), file.path(out_dir, sprintf("ftest_%s_groups.tsv", case)))
}

set.seed(7)
# Four groups of four, missing values at random and by intensity, and proteins with a whole group missing.
g <- factor(rep(c("A", "B", "C", "D"), each = 4))
X <- model.matrix(~ 0 + g); colnames(X) <- levels(g)
n <- 300
m <- matrix(rnorm(n * 16, 22, 1), n) + outer(rnorm(n, 0, 0.5) * (seq_len(n) %% 3 == 0), c(0, 1, 2, 3)[as.integer(g)])
m[sample(length(m), 0.04 * length(m))] <- NA
m[1:5, g == "D"] <- NA
m[6:8, g %in% c("C", "D")] <- NA
m[9, g != "A"] <- NA
run_case("four_groups", m, X, 1:4)

# Three groups with a batch factor: the F tests the groups, adjusted for batch.
g3 <- factor(rep(c("A", "B", "C"), each = 6))
batch <- factor(rep(c("b1", "b2"), 9))
X3 <- model.matrix(~ 0 + g3 + batch); colnames(X3) <- c("A", "B", "C", "b2")
m3 <- matrix(rnorm(200 * 18, 20, 1), 200) + outer(rep(0.7, 200), as.numeric(batch == "b2")) +
  outer(rnorm(200, 0, 0.6), c(0, 1, -1)[as.integer(g3)])
m3[sample(length(m3), 0.03 * length(m3))] <- NA
m3[1:3, g3 == "C"] <- NA
run_case("batch", m3, X3, 1:3)
cat("wrote ftest fixtures to", out_dir, "\n")
