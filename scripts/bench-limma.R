# R's time for the DE work `proteo bench` times, on the same synthetic matrix (from `proteo synthetic`):
# limma lmFit + all-pairs contrasts.fit + eBayes (moderated t and F) + BH for every contrast, on the log2 matrix
# with its missing values (limma then fits proteins one by one) and on a complete matrix (missing values imputed
# Perseus-style, as proteo's QC does by default); and one-way ANOVA + Tukey HSD p-values for every pair,
# vectorised, with ptukey. Run by scripts/bench-vs-r:  Rscript scripts/bench-limma.R matrix.tsv design.tsv [reps]
suppressPackageStartupMessages(library(limma))
args <- commandArgs(trailingOnly = TRUE)
reps <- if (length(args) >= 3) as.integer(args[3]) else 5L
raw <- read.delim(args[1], check.names = FALSE, row.names = 1)
design_tab <- read.delim(args[2])
m <- log2(as.matrix(raw[, design_tab$sample]))
m[!is.finite(m)] <- NA
group <- factor(design_tab$group, levels = unique(design_tab$group))
set.seed(1)
imputed <- apply(m, 2, function(x) {
  miss <- is.na(x)
  x[miss] <- rnorm(sum(miss), mean(x, na.rm = TRUE) - 1.8 * sd(x, na.rm = TRUE), 0.3 * sd(x, na.rm = TRUE))
  x
})
X <- model.matrix(~ 0 + group)
colnames(X) <- levels(group)
pairs <- combn(levels(group), 2)
C <- makeContrasts(contrasts = paste0(pairs[2, ], "-", pairs[1, ]), levels = X)

limma_all <- function(y) {
  fit <- eBayes(contrasts.fit(lmFit(y, X), C))
  adj <- apply(fit$p.value, 2, p.adjust, method = "BH")
  f_adj <- p.adjust(fit$F.p.value, method = "BH")
  invisible(list(adj, f_adj))
}
tukey_all <- function(y) {
  k <- nlevels(group)
  n <- as.vector(table(group))
  means <- sapply(levels(group), function(g) rowMeans(y[, group == g, drop = FALSE]))
  resid <- y - means[, as.integer(group)]
  df <- ncol(y) - k
  mse <- rowSums(resid^2) / df
  p <- matrix(NA_real_, nrow(y), ncol(pairs))
  for (j in seq_len(ncol(pairs))) {
    a <- match(pairs[1, j], levels(group)); b <- match(pairs[2, j], levels(group))
    q <- abs(means[, b] - means[, a]) / sqrt(mse / 2 * (1 / n[a] + 1 / n[b]))
    p[, j] <- ptukey(q, k, df, lower.tail = FALSE)
  }
  invisible(p)
}
median_ms <- function(f, reps) median(replicate(reps, system.time(f())[["elapsed"]])) * 1000

cat(sprintf("R %s, limma %s; %d proteins x %d samples, %d groups, %.0f%% missing; median of %d runs\n",
            getRversion(), packageVersion("limma"), nrow(m), ncol(m), nlevels(group), 100 * mean(is.na(m)), reps))
cat(sprintf("%-52s %10.1f ms\n", sprintf("R limma all-pairs (%d) + F + BH, complete matrix", ncol(C)),
            median_ms(function() limma_all(imputed), reps)))
cat(sprintf("%-52s %10.1f ms\n", "R limma, same, missing values kept",
            median_ms(function() limma_all(m), reps)))
cat(sprintf("%-52s %10.1f ms\n", sprintf("R ANOVA + ptukey, %d Tukey p-values (1 run)", nrow(m) * ncol(pairs)),
            median_ms(function() tukey_all(imputed), 1)))
