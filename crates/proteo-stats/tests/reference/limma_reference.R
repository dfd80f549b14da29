# Reference values for crates/proteo-stats/tests/limma_vs_r.rs, from R 4.2.2 with limma 3.54.1.
# Run from the repository root:  Rscript crates/proteo-stats/tests/reference/limma_reference.R
# Writes crates/proteo-stats/tests/fixtures/limma_<case>_{values,design,contrasts,results}.tsv.
# Uses only base R, limma, splines (through limma's trend) and statmod (through robust = TRUE).

suppressPackageStartupMessages(library(limma))
stopifnot(packageVersion("limma") == "3.54.1")

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
out_dir <- if (length(script)) file.path(dirname(script), "..", "fixtures") else "crates/proteo-stats/tests/fixtures"
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

fmt <- function(x) ifelse(is.na(x) & !is.nan(x), "NA", ifelse(is.nan(x), "NA", sprintf("%.17g", x)))

write_matrix <- function(m, file) {
  m <- as.matrix(m)
  lines <- c(paste(colnames(m), collapse = "\t"),
             apply(m, 1, function(r) paste(fmt(r), collapse = "\t")))
  writeLines(lines, file.path(out_dir, file))
}

# Long format: quantity, gene (1-based, 0 if none), column (1-based, 0 if none), value.
long <- new.env()
start_results <- function() assign("rows", character(0), envir = long)
add <- function(name, x) {
  if (is.matrix(x)) {
    g <- rep(seq_len(nrow(x)), times = ncol(x))
    j <- rep(seq_len(ncol(x)), each = nrow(x))
    v <- as.vector(x)
  } else if (length(x) == 1) {
    g <- 0L; j <- 0L; v <- x
  } else {
    g <- seq_along(x); j <- 0L; v <- x
  }
  assign("rows", c(get("rows", envir = long), paste(name, g, j, fmt(v), sep = "\t")), envir = long)
}
finish_results <- function(case) {
  writeLines(c("quantity\tgene\tcolumn\tvalue", get("rows", envir = long)),
             file.path(out_dir, sprintf("limma_%s_results.tsv", case)))
}

add_fit <- function(fit, ngenes) {
  add("coefficients", fit$coefficients)
  add("stdev_unscaled", fit$stdev.unscaled)
  add("sigma", fit$sigma)
  add("df_residual", fit$df.residual)
  add("amean", fit$Amean)
  add("cov_coefficients", fit$cov.coefficients)
  add("s2_prior", rep_len(fit$s2.prior, ngenes))
  add("df_prior", rep_len(fit$df.prior, ngenes))
  add("s2_post", fit$s2.post)
  add("t", fit$t)
  add("df_total", fit$df.total)
  add("p_value", fit$p.value)
  adj <- sapply(seq_len(ncol(fit$p.value)), function(j) {
    tt <- topTable(fit, coef = j, number = Inf, sort.by = "none")
    stopifnot(isTRUE(all.equal(unname(tt$adj.P.Val), unname(p.adjust(fit$p.value[, j], "BH")))))
    tt$adj.P.Val
  })
  add("adj_p_value", matrix(adj, nrow = ngenes))
  if (!is.null(fit$F)) {
    F.stat <- classifyTestsF(fit, fstat.only = TRUE)
    add("f", fit$F)
    add("f_df1", attr(F.stat, "df1"))
    add("f_df2", rep_len(attr(F.stat, "df2"), ngenes))
    add("f_p_value", fit$F.p.value)
  }
}

write_case <- function(case, y, design, contrasts, trend = FALSE, treat_lfc = NULL, robust = FALSE) {
  write_matrix(y, sprintf("limma_%s_values.tsv", case))
  write_matrix(design, sprintf("limma_%s_design.tsv", case))
  fit <- lmFit(y, design)
  if (!is.null(contrasts)) {
    write_matrix(contrasts, sprintf("limma_%s_contrasts.tsv", case))
    fit <- contrasts.fit(fit, contrasts)
  }
  efit <- eBayes(fit, trend = trend, robust = robust)
  start_results()
  add_fit(efit, nrow(y))
  if (!is.null(treat_lfc)) {
    # limma 3.54.1 treat() stops with "NAs are not allowed in subscripted assignments" when a
    # coefficient is NA. Its p-values are elementwise given squeezeVar (which uses only sigma and
    # df.residual), so run it with NA coefficients masked and put NA back.
    na <- is.na(fit$coefficients)
    masked <- fit
    masked$coefficients[na] <- 0
    masked$stdev.unscaled[na] <- 1
    tfit <- treat(masked, lfc = treat_lfc, trend = trend, robust = robust)
    tfit$t[na] <- NA
    tfit$p.value[na] <- NA
    add("treat_t", tfit$t)
    add("treat_p_value", tfit$p.value)
  }
  finish_results(case)
}

all_pairs <- function(levels) {
  design_cols <- paste0("group", levels)
  pairs <- combn(length(levels), 2)
  cm <- matrix(0, length(levels), ncol(pairs), dimnames = list(design_cols, NULL))
  for (k in seq_len(ncol(pairs))) {
    cm[pairs[2, k], k] <- 1
    cm[pairs[1, k], k] <- -1
  }
  colnames(cm) <- sprintf("%s-%s", levels[pairs[2, ]], levels[pairs[1, ]])
  cm
}

simulate <- function(ngenes, group, missing, trend = FALSE) {
  ns <- length(group)
  base <- rnorm(ngenes, 22, 2)
  sd <- if (trend) 0.1 + 0.6 * exp(-(base - 18) / 3) else sqrt(0.2 / rchisq(ngenes, 4) * 4)
  effect <- matrix(0, ngenes, nlevels(group))
  de <- sample(ngenes, round(ngenes / 5))
  effect[de, ] <- rnorm(length(de) * nlevels(group), 0, 1.5)
  y <- base + effect[, as.integer(group)] + matrix(rnorm(ngenes * ns), ngenes) * sd
  y[matrix(runif(ngenes * ns) < missing, ngenes)] <- NA
  dimnames(y) <- list(sprintf("P%04d", seq_len(ngenes)), sprintf("S%02d", seq_len(ns)))
  y
}

# (1) 3 groups x 4 replicates, 200 proteins, ~15 % missing, with the awkward rows.
set.seed(20260101)
group <- factor(rep(c("A", "B", "C"), each = 4))
y <- simulate(200, group, 0.15)
A <- group == "A"; B <- group == "B"; C <- group == "C"
y[1, ] <- rnorm(12, 21); y[1, which(A)[-1]] <- NA            # group A has one value
y[2, ] <- rnorm(12, 23); y[2, B] <- NA                       # group B has no values
y[3, ] <- NA                                                 # nothing observed
y[4, ] <- 20                                                 # zero variance
y[5, ] <- rnorm(12, 19); y[5, C] <- NA; y[5, which(A)[-1]] <- NA  # C empty, A one value
y[6, ] <- NA; y[6, c(1, 5, 9)] <- c(20, 21, 22)              # one value per group: df 0
y[7, ] <- NA; y[7, c(5, 6)] <- c(24, 24.5)                   # only group B, two values
design <- model.matrix(~ 0 + group)
write_case("three_groups", y, design, all_pairs(levels(group)), treat_lfc = 1)
# trend = TRUE needs an Amean for every protein (limma stops on NA covariates): drop the empty row;
# the df = 0 rows then take their prior from the spline's prediction (fitFDist's predict branch).
write_case("three_groups_trend", y[-3, ], design, all_pairs(levels(group)), trend = TRUE)

# (2) 2 groups x 3 replicates, complete, intercept design, no contrasts.
set.seed(20260102)
group <- factor(rep(c("ctrl", "trt"), each = 3))
y <- simulate(100, group, 0)
write_case("two_groups", y, model.matrix(~ group), NULL)

# (3) 9 groups x 4 replicates, 300 proteins, 10 % missing, all 36 pairs; (6) the same with trend.
set.seed(20260103)
group <- factor(rep(sprintf("G%d", 1:9), each = 4))
y <- simulate(300, group, 0.10, trend = TRUE)
stopifnot(all(rowSums(!is.na(y)) > 0))
design <- model.matrix(~ 0 + group)
write_case("nine_groups", y, design, all_pairs(levels(group)))
write_case("nine_groups_trend", y, design, all_pairs(levels(group)), trend = TRUE)

# (4) groups + batch + numeric covariate: non-orthogonal contrasts, with missing values.
set.seed(20260104)
group <- factor(rep(c("A", "B", "C"), each = 4))
batch <- factor(rep(c("b1", "b2"), times = 6))
age <- round(runif(12, 30, 70))
y <- simulate(150, group, 0.12) + outer(rep(1, 150), 0.02 * age + 0.5 * (batch == "b2"))
design <- model.matrix(~ 0 + group + batch + age)
cm <- rbind(all_pairs(levels(group)), batchb2 = 0, age = 0)
write_case("batch_covariate", y, design, cm)

# (5) a single protein.
set.seed(20260105)
group <- factor(rep(c("A", "B"), each = 3))
y <- simulate(1, group, 0)
write_case("single_gene", y, model.matrix(~ 0 + group), all_pairs(levels(group)))

# (9) residual variances less dispersed than chi-square: evar <= 0, df.prior = Inf.
set.seed(20260109)
group <- factor(rep(c("A", "B"), each = 3))
design <- model.matrix(~ 0 + group)
H <- qr.Q(qr(design), complete = TRUE)[, 3:6]              # residual space
y <- t(sapply(1:60, function(i) {
  r <- H %*% rnorm(4); r <- r / sqrt(sum(r^2) / 4) * (1 + 0.01 * rnorm(1))
  as.vector(design %*% rnorm(2, 20, 1) + r)
}))
dimnames(y) <- list(sprintf("P%04d", 1:60), sprintf("S%02d", 1:6))
write_case("infinite_prior_df", y, design, all_pairs(levels(group)))
stopifnot(is.infinite(eBayes(lmFit(y, design))$df.prior))

# Distribution tails used by the moderated statistics: R pt / pf / pchisq / pnorm.
dist <- character(0)
for (df in c(0.7, 1, 2.5, 4.1781519583078124, 10, 27.3, 100, 1000, 1e5, 3.9e5, 4.1e5, 1e6, Inf))
  for (t in c(0, 1e-8, 0.5, 1, 2, 3, 5, 10, 20, 40, 100, 1e3, 1e10, 1e60, -3, -0.5)) {
    dist <- c(dist, paste("pt_upper", fmt(t), fmt(df), "NA", fmt(pt(t, df, lower.tail = FALSE)), sep = "\t"))
    dist <- c(dist, paste("pt_two_sided", fmt(t), fmt(df), "NA", fmt(2 * pt(-abs(t), df)), sep = "\t"))
  }
for (df1 in c(1, 2, 8, 35)) for (df2 in c(0.5, 3, 27.3, 400, 1e5, 1e6, 1e7, Inf))
  for (f in c(1e-6, 0.01, 0.5, 1, 2, 5, 20, 100, 1e3, 1e4))
    dist <- c(dist, paste("pf_upper", fmt(f), fmt(df1), fmt(df2), fmt(pf(f, df1, df2, lower.tail = FALSE)), sep = "\t"))
for (df in c(1, 2, 8, 35)) for (x in c(1e-5, 0.1, 1, 5, 20, 100, 500, 1300))
  dist <- c(dist, paste("pchisq_upper", fmt(x), fmt(df), "NA", fmt(pchisq(x, df, lower.tail = FALSE)), sep = "\t"))
for (x in c(-37.5, -20, -5, -1, 0, 2))
  dist <- c(dist, paste("pnorm_lower", fmt(x), "NA", "NA", fmt(pnorm(x)), sep = "\t"))
writeLines(c("function\tx\tpar1\tpar2\tvalue", dist), file.path(out_dir, "limma_dist_reference.tsv"))

# Robust empirical Bayes (eBayes robust = TRUE → squeezeVar → fitFDistRobustly). Appended after
# everything above so that the earlier fixtures do not change.
stopifnot(packageVersion("statmod") >= "1.4")

# (10) the nine-group data again: unequal residual df (missing values) map to the largest df by
# F quantiles; with trend the robust trend is a lowess of the log variances.
set.seed(20260103)
group <- factor(rep(sprintf("G%d", 1:9), each = 4))
y <- simulate(300, group, 0.10, trend = TRUE)
design <- model.matrix(~ 0 + group)
write_case("nine_groups_robust", y, design, all_pairs(levels(group)), robust = TRUE)
write_case("nine_groups_robust_trend", y, design, all_pairs(levels(group)), trend = TRUE, robust = TRUE)

# (11) deliberate outlier variances: 3 groups x 4, complete, 400 proteins; 12 proteins with a
# 5-40x larger residual sd and 6 with a 20x smaller one. The prior df is finite and the outliers
# get a shrunken per-protein prior df.
set.seed(20260111)
group <- factor(rep(c("A", "B", "C"), each = 4))
y <- simulate(400, group, 0)
resid_scale <- rep(1, 400)
resid_scale[1:12] <- exp(seq(log(5), log(40), length.out = 12))
resid_scale[13:18] <- 1 / 20
y <- rowMeans(y) + (y - rowMeans(y)) * resid_scale
design <- model.matrix(~ 0 + group)
write_case("outliers_robust", y, design, all_pairs(levels(group)), treat_lfc = 1, robust = TRUE)
stopifnot(is.finite(eBayes(lmFit(y, design), robust = TRUE)$df.prior),
          length(unique(eBayes(lmFit(y, design), robust = TRUE)$df.prior)) > 1)
# The same proteins with intensity-dependent variance: robust + trend.
write_case("outliers_robust_trend", y, design, all_pairs(levels(group)), trend = TRUE, robust = TRUE)

# (12) the three-group data with its awkward rows: proteins without residual df are left out of
# the robust fit and get the pooled prior df (and with trend a prior variance interpolated in Amean).
set.seed(20260101)
group <- factor(rep(c("A", "B", "C"), each = 4))
y <- simulate(200, group, 0.15)
A <- group == "A"; B <- group == "B"; C <- group == "C"
y[1, ] <- rnorm(12, 21); y[1, which(A)[-1]] <- NA
y[2, ] <- rnorm(12, 23); y[2, B] <- NA
y[3, ] <- NA
y[4, ] <- 20
y[5, ] <- rnorm(12, 19); y[5, C] <- NA; y[5, which(A)[-1]] <- NA
y[6, ] <- NA; y[6, c(1, 5, 9)] <- c(20, 21, 22)
y[7, ] <- NA; y[7, c(5, 6)] <- c(24, 24.5)
design <- model.matrix(~ 0 + group)
write_case("three_groups_robust", y, design, all_pairs(levels(group)), treat_lfc = 1, robust = TRUE)
write_case("three_groups_robust_trend", y[-3, ], design, all_pairs(levels(group)), trend = TRUE, robust = TRUE)

# (13) variances less dispersed than chi-square (non-robust df.prior = Inf) plus four outliers:
# the winsorized variance is below that of df2 = Inf, so only the outliers get a finite prior df.
set.seed(20260113)
group <- factor(rep(c("A", "B"), each = 3))
design <- model.matrix(~ 0 + group)
H <- qr.Q(qr(design), complete = TRUE)[, 3:6]
y <- t(sapply(1:80, function(i) {
  r <- H %*% rnorm(4); r <- r / sqrt(sum(r^2) / 4) * (1 + 0.01 * rnorm(1))
  if (i <= 4) r <- r * c(3, 6, 10, 0.05)[i]
  as.vector(design %*% rnorm(2, 20, 1) + r)
}))
dimnames(y) <- list(sprintf("P%04d", 1:80), sprintf("S%02d", 1:6))
write_case("infinite_prior_df_robust", y, design, all_pairs(levels(group)), robust = TRUE)
stopifnot(any(is.infinite(eBayes(lmFit(y, design), robust = TRUE)$df.prior)),
          any(is.finite(eBayes(lmFit(y, design), robust = TRUE)$df.prior)))
