# Reference values for crates/proteo-stats/tests/camera_vs_r.rs, from R 4.2.2 with limma 3.54.1.
# Run from the repository root:  Rscript crates/proteo-stats/tests/reference/camera_reference.R
# limma camera on a 300-gene × 12-sample matrix (3 groups of 4, design ~0 + group), 24 gene sets of 2–80 genes, some
# shifted in B and correlated (a shared per-sample factor), for two contrasts (B − A, C − A): the default fixed
# inter-gene correlation 0.01 and the estimated one (inter.gene.cor = NA). Also written: the moderated t and its
# df.total per gene (what camera z-scores) and the least-squares residuals (what the estimated correlation uses).
# Writes crates/proteo-stats/tests/fixtures/camera_{values,design,sets,stats,residuals,results}.tsv.

suppressPackageStartupMessages(library(limma))
stopifnot(packageVersion("limma") == "3.54.1")

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(script) else "crates/proteo-stats/tests/reference"
source(file.path(here, "fixtures_common.R"))

set.seed(20240611)
G <- 300; n <- 12
group <- factor(rep(c("A", "B", "C"), each = 4))
X <- model.matrix(~ 0 + group)
colnames(X) <- levels(group)
sd_gene <- sqrt(0.09 * 4 / rchisq(G, 4))
y <- matrix(rnorm(G * n, mean = 24, sd = 1), G, n) * 0 + 24 + matrix(rnorm(G * n), G, n) * sd_gene
sizes <- c(2, 3, 5, 8, 10, 12, 15, 15, 20, 20, 25, 30, 30, 35, 40, 40, 45, 50, 55, 60, 65, 70, 75, 80)
sets <- lapply(sizes, function(s) sort(sample.int(G, s)))
names(sets) <- sprintf("SET%02d", seq_along(sets))
# Sets 5, 9, 14: up in B; set 12 down in C; sets 9 and 20 share a per-sample factor (inter-gene correlation).
for (i in c(5, 9, 14)) y[sets[[i]], group == "B"] <- y[sets[[i]], group == "B"] + 0.6
y[sets[[12]], group == "C"] <- y[sets[[12]], group == "C"] - 0.5
for (i in c(9, 20)) {
  f <- rnorm(n, sd = 0.4)
  y[sets[[i]], ] <- sweep(y[sets[[i]], ], 2, f, "+")
}
colnames(y) <- paste0("S", seq_len(n))
rownames(y) <- sprintf("G%03d", seq_len(G))
write_matrix(y, "camera_values.tsv")
write_matrix(X, "camera_design.tsv")
writeLines(c("set\tgenes", vapply(names(sets), function(s) paste(s, paste(sets[[s]], collapse = ","), sep = "\t"), "")),
           file.path(out_dir, "camera_sets.tsv"))
fit <- lmFit(y, X)
write_matrix(residuals(fit, y), "camera_residuals.tsv")
contrasts <- list("B-A" = c(-1, 1, 0), "C-A" = c(-1, 0, 1))
stats <- NULL; results <- NULL
for (cn in names(contrasts)) {
  cv <- contrasts[[cn]]
  eb <- eBayes(contrasts.fit(fit, cv))
  stats <- rbind(stats, data.frame(contrast = cn, gene = seq_len(G), t = eb$t[, 1], df_total = eb$df.total))
  for (cor in c("fixed", "estimated")) {
    igc <- if (cor == "fixed") 0.01 else NA
    tab <- camera(y, sets, design = X, contrast = cv, inter.gene.cor = igc, sort = FALSE)
    results <- rbind(results, data.frame(contrast = cn, correlation_mode = cor, set = rownames(tab),
      n_genes = tab$NGenes, correlation = if (cor == "fixed") 0.01 else tab$Correlation,
      direction = tab$Direction, p_value = tab$PValue, fdr = tab$FDR))
  }
}
fmt_df <- function(d) { for (c in names(d)) if (is.double(d[[c]])) d[[c]] <- fmt(d[[c]]); d }
write.table(fmt_df(stats), file.path(out_dir, "camera_stats.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
write.table(fmt_df(results), file.path(out_dir, "camera_results.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
cat("camera: ", nrow(results), "rows;", sum(results$p_value < 0.05), "with p < 0.05\n")
