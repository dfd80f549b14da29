# Reference numbers for designs beyond one factor, computed with R + limma, for tests/tests/designs_vs_r.rs.
# Case "batch_age": 3 groups x 6, two batches crossing the groups, numeric covariate `age`, 12 % missing;
#   model ~ 0 + group + batch + age; contrasts "B-A,C-A,(B+C)/2-A"; eBayes, eBayes(trend = TRUE),
#   eBayes(robust = TRUE) and eBayes(trend = TRUE, robust = TRUE) (per-protein noise sd 0.2 + Exp(4) gives the
#   variance outliers that make robust's prior df differ by protein).
# Case "paired": 6 subjects each measured in groups A, B, C (column `pair`); model ~ 0 + group + pair;
#   all pairs; eBayes and treat(lfc = 0.5).
# proteo runs on the same TSVs with --log2-input --normalize none --impute none --min-valid 1.
# Run from the repository root: Rscript tests/reference/design_reference.R   (R 4.2.2, limma 3.54.1)
suppressPackageStartupMessages(library(limma))
out <- "tests/fixtures"
set.seed(20261122)
fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
write_tab <- function(df, file, na = "NA") {
  for (j in seq_along(df)) if (is.numeric(df[[j]])) df[[j]] <- ifelse(is.na(df[[j]]), na, sprintf("%.17g", df[[j]]))
  write.table(df, file.path(out, file), sep = "\t", quote = FALSE, row.names = FALSE)
}
simulate <- function(n_prot, samples, effect) {
  m <- t(sapply(seq_len(n_prot), function(i) rnorm(length(samples), 22 + rnorm(1, 0, 2), 0.2 + rexp(1, 4)) + effect(i)))
  m[runif(length(m)) < 0.12] <- NA
  m[1, ] <- 20 + seq_along(samples) / 10          # complete row
  m <- m[rowSums(!is.na(m)) >= 4, ]                # every protein fittable
  rownames(m) <- sprintf("PR%04d", seq_len(nrow(m)))
  colnames(m) <- samples
  m
}
results <- function(fit, coefs, case, test) do.call(rbind, lapply(coefs, function(cn) {
  tt <- if (test == "treat") topTreat(fit, coef = cn, number = Inf, sort.by = "none") else
    topTable(fit, coef = cn, number = Inf, sort.by = "none")
  data.frame(case = case, test = test, protein_id = rownames(fit$coefficients), contrast = cn, log2fc = tt$logFC,
             t = tt$t, p_value = tt$P.Value, adj_p_value = tt$adj.P.Val)
}))

# ---- batch + covariate -----------------------------------------------------------------------------------
g1 <- factor(rep(c("A", "B", "C"), each = 6), levels = c("A", "B", "C"))
batch <- factor(rep(c("b1", "b2"), 9))
age <- round(runif(18, 25, 70))
s1 <- sprintf("S%02d", 1:18)
m1 <- simulate(250, s1, function(i) (i %% 5 == 0) * c(A = 0, B = 1.5, C = -1)[as.character(g1)] +
                 0.4 * (batch == "b2") + 0.01 * (age - 50))
write_tab(data.frame(protein_id = rownames(m1), m1, check.names = FALSE), "design_batch_age_matrix.tsv", na = "")
write.table(data.frame(sample = s1, group = g1, batch = batch, age = age), file.path(out, "design_batch_age_design.tsv"),
            sep = "\t", quote = FALSE, row.names = FALSE)
X1 <- model.matrix(~ 0 + g1 + batch + age); colnames(X1) <- c("A", "B", "C", "batchb2", "age")
C1 <- makeContrasts(contrasts = c("B-A", "C-A", "(B+C)/2-A"), levels = X1)
cf1 <- contrasts.fit(lmFit(m1, X1), C1)
r1 <- rbind(results(eBayes(cf1), colnames(C1), "batch_age", "ebayes"),
            results(eBayes(cf1, trend = TRUE), colnames(C1), "batch_age", "trend"),
            results(eBayes(cf1, robust = TRUE), colnames(C1), "batch_age", "robust"),
            results(eBayes(cf1, trend = TRUE, robust = TRUE), colnames(C1), "batch_age", "robust_trend"))

# ---- paired (repeated measures) ----------------------------------------------------------------------------
subj <- factor(rep(sprintf("subj%d", 1:6), 3))
g2 <- factor(rep(c("A", "B", "C"), each = 6), levels = c("A", "B", "C"))
s2 <- sprintf("T%02d", 1:18)
subject_effect <- rnorm(6, 0, 1)[as.integer(subj)]
m2 <- simulate(250, s2, function(i) subject_effect + (i %% 4 == 0) * c(A = 0, B = 0.8, C = 1.6)[as.character(g2)])
write_tab(data.frame(protein_id = rownames(m2), m2, check.names = FALSE), "design_paired_matrix.tsv", na = "")
write.table(data.frame(sample = s2, group = g2, pair = subj), file.path(out, "design_paired_design.tsv"),
            sep = "\t", quote = FALSE, row.names = FALSE)
X2 <- model.matrix(~ 0 + g2 + subj); colnames(X2) <- c("A", "B", "C", paste0("subj", 2:6))
C2 <- makeContrasts(contrasts = c("A-B", "A-C", "B-C"), levels = X2)  # proteo all-pairs: first - later listed
cf2 <- contrasts.fit(lmFit(m2, X2), C2)
r2 <- rbind(results(eBayes(cf2), colnames(C2), "paired", "ebayes"),
            results(treat(eBayes(cf2), lfc = 0.5), colnames(C2), "paired", "treat"))
write_tab(rbind(r1, r2), "design_limma.tsv")
cat("batch_age:", nrow(m1), "proteins; paired:", nrow(m2), "proteins\n")
