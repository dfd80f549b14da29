# Reference numbers for the bundled MaxQuant example, computed independently of proteo with R + limma.
# Mirrors `proteo run data/example/proteinGroups.txt --design data/example/experimental_design.tsv --impute none`:
# drop Reverse / Potential contaminant / Only identified by site, LFQ intensities, 0 -> NA, log2, keep proteins with
# >= floor(n/2)+1 valid values in some group, subtract each sample's median, then limma (all pairs, first - later
# listed group in design order, as proteo reads all-pairs when no group is named like a control) with moderated F
# (limma's classifyTestsF and the per-protein F of any group difference), Welch t-tests and one-way ANOVA + TukeyHSD.
# Run from the repository root: Rscript tests/reference/example_reference.R   (R 4.2.2, limma 3.54.1 from Debian)
suppressPackageStartupMessages(library(limma))
source("crates/proteo-stats/tests/reference/studentized_range_integral.R")
out <- "tests/fixtures"
pg <- read.delim("data/example/proteinGroups.txt", check.names = FALSE, quote = "", stringsAsFactors = FALSE,
                 na.strings = character(0), colClasses = "character")
design_tab <- read.delim("data/example/experimental_design.tsv", stringsAsFactors = FALSE)
flag <- function(col) if (col %in% names(pg)) pg[[col]] == "+" else rep(FALSE, nrow(pg))
keep_rows <- !(flag("Reverse") | flag("Potential contaminant") | flag("Only identified by site"))
pg <- pg[keep_rows, ]
samples <- design_tab$label
groups <- factor(design_tab$condition, levels = unique(design_tab$condition))
m <- sapply(samples, function(s) as.numeric(pg[[paste("LFQ intensity", s)]]))
rownames(m) <- pg[["Protein IDs"]]
m[m == 0] <- NA
m <- log2(m)
valid <- sapply(levels(groups), function(g) rowSums(!is.na(m[, groups == g, drop = FALSE])))
need <- floor(table(groups)[levels(groups)] / 2) + 1
keep <- apply(sweep(valid, 2, need, ">="), 1, any)
m <- m[keep, ]
m <- sweep(m, 2, apply(m, 2, median, na.rm = TRUE), "-")
cat("proteins kept:", nrow(m), "\n")

fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
write_tab <- function(df, file) {
  for (j in seq_along(df)) if (is.numeric(df[[j]])) df[[j]] <- fmt(df[[j]])
  write.table(df, file.path(out, file), sep = "\t", quote = FALSE, row.names = FALSE)
}
write_tab(data.frame(protein_id = rownames(m), m, check.names = FALSE), "example_matrix.tsv")

lv <- levels(groups)
pairs <- list()
for (a in seq_along(lv)) for (b in seq_along(lv)) if (a < b) pairs[[length(pairs) + 1]] <- c(lv[a], lv[b])
names(pairs) <- sapply(pairs, paste, collapse = "-")

X <- model.matrix(~ 0 + groups); colnames(X) <- lv
C <- sapply(pairs, function(p) { v <- setNames(rep(0, length(lv)), lv); v[p[1]] <- 1; v[p[2]] <- -1; v })
fit <- eBayes(contrasts.fit(lmFit(m, X), C))
de <- do.call(rbind, lapply(names(pairs), function(cn) {
  tt <- topTable(fit, coef = cn, number = Inf, sort.by = "none")
  data.frame(protein_id = rownames(m), contrast = cn, log2fc = tt$logFC, t = tt$t, p_value = tt$P.Value,
             adj_p_value = tt$adj.P.Val, avg_expr = tt$AveExpr, df = fit$df.total)
}))
write_tab(de, "example_limma.tsv")
# Per-protein F of any group difference: lm.fit on the protein's observed samples, its estimable group means'
# differences to the first, their covariance from that fit, s2.post and df.prior from eBayes.
pp_f <- t(sapply(seq_len(nrow(m)), function(i) {
  y <- m[i, ]; obs <- is.finite(y)
  lf <- lm.fit(X[obs, , drop = FALSE], y[obs]); r <- lf$rank; piv <- lf$qr$pivot[seq_len(r)]
  est <- which(seq_len(ncol(X)) %in% piv & !is.na(lf$coefficients))
  if (length(est) < 2) return(c(NA, NA, NA))
  V <- chol2inv(lf$qr$qr[seq_len(r), seq_len(r), drop = FALSE])[match(est, piv), match(est, piv), drop = FALSE]
  q <- length(est) - 1; L <- cbind(-1, diag(q)); lb <- L %*% lf$coefficients[est]
  f <- as.numeric(t(lb) %*% solve(L %*% V %*% t(L), lb)) / (q * fit$s2.post[i])
  c(f, q, pf(f, q, fit$df.residual[i] + fit$df.prior, lower.tail = FALSE))
}))
write_tab(data.frame(protein_id = rownames(m), f = pp_f[, 1], df1 = pp_f[, 2], p_value = pp_f[, 3],
                     adj_p_value = p.adjust(pp_f[, 3], "BH"), limma_f = fit$F, limma_p_value = fit$F.p.value,
                     limma_adj_p_value = p.adjust(fit$F.p.value, "BH")), "example_limma_f.tsv")
write_tab(data.frame(s2_prior = fit$s2.prior, df_prior = fit$df.prior), "example_limma_prior.tsv")

welch <- do.call(rbind, lapply(names(pairs), function(cn) {
  p <- pairs[[cn]]
  r <- t(apply(m, 1, function(y) {
    a <- y[groups == p[1]]; b <- y[groups == p[2]]; a <- a[!is.na(a)]; b <- b[!is.na(b)]
    if (length(a) < 2 || length(b) < 2) return(c(mean(a) - mean(b), NA, NA, NA))
    tt <- t.test(a, b)
    c(mean(a) - mean(b), tt$statistic, tt$parameter, tt$p.value)
  }))
  data.frame(protein_id = rownames(m), contrast = cn, log2fc = r[, 1], t = r[, 2], df = r[, 3], p_value = r[, 4],
             adj_p_value = p.adjust(r[, 4], "BH"))
}))
write_tab(welch, "example_welch.tsv")

aov_rows <- lapply(seq_len(nrow(m)), function(i) {
  y <- m[i, ]; ok <- !is.na(y); g <- droplevels(groups[ok])
  na <- list(f = c(NA, NA, NA, NA), tukey = setNames(rep(NA, length(pairs)), names(pairs)))
  # fewer than 2 groups with values, or no residual df: no test (proteo reports NaN)
  if (nlevels(g) < 2 || sum(ok) - nlevels(g) < 1) return(na)
  fit_aov <- aov(y[ok] ~ g)
  tab <- summary(fit_aov)[[1]]   # oneway.test refuses groups of 1; the ANOVA table does not
  hsd <- TukeyHSD(fit_aov)$g
  df_res <- tab[2, "Df"]
  # R's ptukey is off by up to 1e-3 at df <= 10: there use the integral (exact pf when only 2 groups are present).
  tk <- sapply(names(pairs), function(cn) {
    # TukeyHSD names a pair later - earlier level; the p-value is the same either way round.
    key <- if (cn %in% rownames(hsd)) cn else paste(rev(strsplit(cn, "-")[[1]]), collapse = "-")
    if (!(key %in% rownames(hsd))) return(NA)
    if (df_res > 10) return(hsd[key, "p adj"])
    if (nlevels(g) == 2) return(tab[1, "Pr(>F)"])
    q <- abs(hsd[key, "diff"]) / sqrt(tab[2, "Mean Sq"] / 2 * sum(1 / table(g)[strsplit(cn, "-")[[1]]]))
    studentized_upper(q, nlevels(g), df_res)
  })
  list(f = c(tab[1, "F value"], tab[1, "Df"], tab[2, "Df"], tab[1, "Pr(>F)"]), tukey = tk)
})
fa <- t(sapply(aov_rows, `[[`, "f"))
write_tab(data.frame(protein_id = rownames(m), f = fa[, 1], df1 = fa[, 2], df2 = fa[, 3], p_value = fa[, 4],
                     adj_p_value = p.adjust(fa[, 4], "BH")), "example_anova_f.tsv")
tk <- t(sapply(aov_rows, `[[`, "tukey"))
write_tab(do.call(rbind, lapply(names(pairs), function(cn)
  data.frame(protein_id = rownames(m), contrast = cn, tukey_p_value = tk[, cn]))), "example_tukey.tsv")
