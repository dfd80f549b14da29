# Reference numbers for DE at cohort scale, computed with R + limma, for tests/cohort_de_vs_r.rs.
# Rebuilds proteo_core::synthetic::cohort_matrix(10000, 1000, 5) exactly (MINSTD streams, see synthetic.rs), fits
# ~ 0 + group, all 10 pairwise contrasts (first-listed - later-listed, as proteo reads "default" when no group is
# named like a control), eBayes with the moderated F, BH within each contrast and for F over all proteins, and writes
# every 37th protein to tests/fixtures/cohort_de_slice.tsv.
# Run from crates/proteo-core: Rscript tests/reference/cohort_de_reference.R   (R 4.2.2, limma 3.54.1 from Debian)
# With two arguments (proteins samples) it only builds that cohort and prints the time of lmFit + contrasts.fit +
# eBayes + BH (used by scripts/bench-cohort), writing nothing.
suppressPackageStartupMessages(library(limma))
args <- commandArgs(trailingOnly = TRUE)
n_prot <- if (length(args) >= 2) as.integer(args[1]) else 10000L
n_samp <- if (length(args) >= 2) as.integer(args[2]) else 1000L
n_groups <- 5L
m_mod <- 2147483647; a_mod <- 48271
cohort <- function(n_prot, n_samp, n_groups) {
  state <- (7919 * (seq_len(n_prot) - 1) + 1) %% m_mod
  step <- function() { state <<- (state * a_mod) %% m_mod; state / m_mod }
  level <- 20 + 8 * step()
  scale <- 0.5 + step()
  p <- seq_len(n_prot) - 1
  effect_group <- ifelse(p < n_prot %/% 5, p %% n_groups, -1)
  m <- matrix(0, n_prot, n_samp)
  for (j in seq_len(n_samp)) {
    noise <- step() + step() + step() + step() - 2
    effect <- ifelse(effect_group == (j - 1) %% n_groups, 0.8, 0)
    m[, j] <- level + noise * scale + effect
  }
  rownames(m) <- sprintf("P%05d", p)
  colnames(m) <- sprintf("S%05d", seq_len(n_samp) - 1)
  m
}
m <- cohort(n_prot, n_samp, n_groups)
group <- factor(sprintf("G%d", (seq_len(n_samp) - 1) %% n_groups + 1), levels = sprintf("G%d", seq_len(n_groups)))
design <- model.matrix(~ 0 + group)
colnames(design) <- levels(group)
pairs <- combn(levels(group), 2)
names_c <- paste0(pairs[1, ], "-", pairs[2, ])
cm <- makeContrasts(contrasts = names_c, levels = design)
started <- proc.time()[["elapsed"]]
fit <- eBayes(contrasts.fit(lmFit(m, design), cm))
adj <- apply(fit$p.value, 2, p.adjust, method = "BH")
f_adj <- p.adjust(fit$F.p.value, method = "BH")
elapsed <- proc.time()[["elapsed"]] - started
if (length(args) >= 2) {
  cat(sprintf("R limma fit (lmFit + contrasts.fit + eBayes F + BH), %d x %d, %d contrasts: %.3f s\n",
              n_prot, n_samp, length(names_c), elapsed))
  quit(save = "no")
}
fmt <- function(x) sprintf("%.17g", x)
slice <- seq(1, n_prot, by = 37)
rows <- list()
for (cn in names_c) {
  rows[[cn]] <- data.frame(protein = rownames(m)[slice], test = cn, estimate = fmt(fit$coefficients[slice, cn]),
                           statistic = fmt(fit$t[slice, cn]), p_value = fmt(fit$p.value[slice, cn]),
                           adj_p_value = fmt(adj[slice, cn]))
}
rows[["F"]] <- data.frame(protein = rownames(m)[slice], test = "F", estimate = fmt(fit$df.total[slice]),
                          statistic = fmt(fit$F[slice]), p_value = fmt(fit$F.p.value[slice]),
                          adj_p_value = fmt(f_adj[slice]))
out <- "tests/fixtures/cohort_de_slice.tsv"
con <- file(out, "w")
# The header pins the input: a few matrix cells that the test compares bit for bit with cohort_matrix.
cat(sprintf("# R %s limma %s; %d x %d, groups %d; s2.prior %s df.prior %s; cells %s %s %s %s\n",
            as.character(getRversion()), as.character(packageVersion("limma")), n_prot, n_samp, n_groups,
            fmt(fit$s2.prior), fmt(fit$df.prior), fmt(m[1, 1]), fmt(m[2, 3]), fmt(m[n_prot, n_samp]),
            fmt(m[2000, 1 + 2000 %% n_groups])), file = con)
write.table(do.call(rbind, rows), con, sep = "\t", quote = FALSE, row.names = FALSE)
close(con)
cat(sprintf("wrote %s (fit %.2f s; s2.prior %.4f, df.prior %.3f)\n", out, elapsed, fit$s2.prior, fit$df.prior))
