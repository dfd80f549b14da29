# The R side of scripts/bench-vs-r: what an R user runs for the answer `proteo run` gives, timed inside R.
# Prints two lines: "fit" = limma lmFit + all-pairs contrasts.fit + eBayes + BH on the prepared matrix (the
# statistics alone, median of reps), and "whole" = the whole script once: read.delim, log2, the majority-valid
# filter, median normalisation, Perseus-style imputation, the fit, topTable for every contrast and write.table of
# every contrast's table. Machine-readable lines start with "time".
#   Rscript scripts/bench-limma-whole.R matrix.tsv design.tsv out_dir [reps]
suppressPackageStartupMessages(library(limma))
args <- commandArgs(trailingOnly = TRUE)
reps <- if (length(args) >= 4) as.integer(args[4]) else 5L
out_dir <- args[3]
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

prepare <- function() {
  raw <- read.delim(args[1], check.names = FALSE, row.names = 1)
  design_tab <- read.delim(args[2])
  m <- log2(as.matrix(raw[, design_tab$sample]))
  m[!is.finite(m)] <- NA
  group <- factor(design_tab$group, levels = unique(design_tab$group))
  # Keep a protein with at least floor(n/2)+1 valid values in some group (proteo's default filter).
  valid <- sapply(levels(group), function(g) rowSums(!is.na(m[, group == g, drop = FALSE])))
  need <- floor(as.vector(table(group)) / 2) + 1
  m <- m[apply(sweep(valid, 2, need, ">="), 1, any), , drop = FALSE]
  m <- sweep(m, 2, apply(m, 2, median, na.rm = TRUE))
  set.seed(1)
  m <- apply(m, 2, function(x) {
    miss <- is.na(x)
    x[miss] <- rnorm(sum(miss), mean(x, na.rm = TRUE) - 1.8 * sd(x, na.rm = TRUE), 0.3 * sd(x, na.rm = TRUE))
    x
  })
  list(m = m, group = group)
}
contrasts_of <- function(group) {
  X <- model.matrix(~ 0 + group)
  colnames(X) <- levels(group)
  pairs <- combn(levels(group), 2)
  list(X = X, C = makeContrasts(contrasts = paste0(pairs[1, ], "-", pairs[2, ]), levels = X))
}
fit_all <- function(y, X, C) {
  fit <- eBayes(contrasts.fit(lmFit(y, X), C))
  adj <- apply(fit$p.value, 2, p.adjust, method = "BH")
  f_adj <- p.adjust(fit$F.p.value, method = "BH")
  list(fit = fit, adj = adj, f_adj = f_adj)
}
whole <- function() {
  d <- prepare()
  mc <- contrasts_of(d$group)
  r <- fit_all(d$m, mc$X, mc$C)
  for (j in seq_len(ncol(mc$C))) {
    tt <- topTable(r$fit, coef = j, number = Inf, sort.by = "P")
    write.table(tt, file.path(out_dir, sprintf("contrast_%02d.tsv", j)), sep = "\t", quote = FALSE, col.names = NA)
  }
  ft <- topTable(r$fit, number = Inf, sort.by = "F")
  write.table(ft, file.path(out_dir, "ftest.tsv"), sep = "\t", quote = FALSE, col.names = NA)
  invisible(nrow(d$m))
}

whole_s <- system.time(kept <- whole())[["elapsed"]]
d <- prepare()
mc <- contrasts_of(d$group)
fit_s <- median(replicate(reps, system.time(fit_all(d$m, mc$X, mc$C))[["elapsed"]]))
cat(sprintf("R %s, limma %s; %d proteins kept x %d samples, %d groups, %d contrasts\n", getRversion(),
            packageVersion("limma"), kept, ncol(d$m), nlevels(d$group), ncol(mc$C)))
cat(sprintf("time fit %.1f ms (lmFit + contrasts.fit + eBayes + BH, median of %d)\n", fit_s * 1000, reps))
cat(sprintf("time whole %.1f ms (read, log2, filter, normalise, impute, fit, topTable, write; one run)\n",
            whole_s * 1000))
