# Reference values for tests/classic_vs_r.rs: t-tests, one-way ANOVA, ptukey and TukeyHSD from base R.
# Run from crates/proteo-stats:  Rscript tests/reference/classic_reference.R   (R 4.2.2, base + stats only)
# Writes tests/fixtures/classic_*.tsv: numbers as sprintf("%.17g"), NA for missing, vectors comma-separated.

set.seed(20261122)
out_dir <- file.path("tests", "fixtures")

num <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
vec <- function(x) paste(num(x), collapse = ",")
write_tsv <- function(df, name) {
  write.table(df, file.path(out_dir, name), sep = "\t", quote = FALSE, row.names = FALSE)
}
or_na <- function(expr) tryCatch(expr, error = function(e) NULL)

# ---- two-sample t-tests ------------------------------------------------------------------------------------
t_cases <- list(
  list(id = "equal_n5", a = rnorm(5, 20, 1), b = rnorm(5, 21, 1)),
  list(id = "unequal_n3_n8", a = rnorm(3, 20, 0.5), b = rnorm(8, 20.7, 2)),
  list(id = "n2_n2", a = rnorm(2, 18, 1), b = rnorm(2, 19.5, 1)),
  list(id = "with_nan", a = c(rnorm(4, 25, 1), NA, NA), b = c(NA, rnorm(6, 24, 1.5))),
  list(id = "tiny_p", a = rnorm(10, 30, 0.1), b = rnorm(10, 25, 0.1)),
  list(id = "large_n", a = rnorm(40, 0, 1), b = rnorm(35, 0.3, 1.3)),
  list(id = "one_value_in_a", a = c(22.1), b = rnorm(4, 21, 1)),
  list(id = "one_constant_group", a = c(3, 3, 3), b = c(1, 2, 3, 6)),
  list(id = "both_constant", a = c(1, 1), b = c(2, 2)),
  list(id = "empty_a", a = c(NA, NA), b = rnorm(3))
)
t_rows <- lapply(t_cases, function(cs) {
  a <- cs$a[!is.na(cs$a)]
  b <- cs$b[!is.na(cs$b)]
  w <- or_na(t.test(a, b))
  s <- or_na(t.test(a, b, var.equal = TRUE))
  data.frame(
    case = cs$id, a = vec(cs$a), b = vec(cs$b),
    welch_t = num(if (is.null(w)) NA else w$statistic), welch_df = num(if (is.null(w)) NA else w$parameter),
    welch_p = num(if (is.null(w)) NA else w$p.value),
    student_t = num(if (is.null(s)) NA else s$statistic), student_df = num(if (is.null(s)) NA else s$parameter),
    student_p = num(if (is.null(s)) NA else s$p.value),
    diff = num(if (length(a) && length(b)) mean(a) - mean(b) else NA)
  )
})
write_tsv(do.call(rbind, t_rows), "classic_ttest.tsv")

# ---- one-way ANOVA -----------------------------------------------------------------------------------------
# groups are 0-based indices; n_groups may exceed the groups present (an all-missing group).
make_groups <- function(sizes) rep(seq_along(sizes) - 1L, sizes)
anova_cases <- list()
g <- make_groups(c(5, 5, 5)); anova_cases$three_balanced <- list(y = rnorm(15, rep(c(20, 21, 20.5), each = 5)), g = g, n = 3)
g <- make_groups(c(3, 6, 4)); anova_cases$three_unbalanced <- list(y = rnorm(13, rep(c(20, 22, 20), c(3, 6, 4)), rep(c(0.5, 2, 1), c(3, 6, 4))), g = g, n = 3)
g <- make_groups(rep(4, 9)); y <- rnorm(36, rep(seq(20, 24, length.out = 9), each = 4)); y[sample(36, 4)] <- NA
anova_cases$nine_groups_missing <- list(y = y, g = g, n = 9)
g <- make_groups(c(2, 5, 3, 4, 6, 2, 3, 4, 5)); anova_cases$nine_unbalanced <- list(y = rnorm(length(g), g * 0.3, 1 + g / 5), g = g, n = 9)
g <- make_groups(c(1, 4, 4)); anova_cases$singleton_group <- list(y = rnorm(9, c(21, rep(20, 8))), g = g, n = 3)
g <- make_groups(c(3, 3, 3)); anova_cases$empty_group <- list(y = c(rnorm(6), NA, NA, NA), g = g, n = 4)
g <- make_groups(c(3, 3)); anova_cases$zero_within_variance <- list(y = c(1, 1, 1, 2, 2, 2), g = g, n = 2)
g <- make_groups(c(3, 3)); anova_cases$one_group_present <- list(y = c(1, 2, 4, NA, NA, NA), g = g, n = 2)

anova_rows <- lapply(names(anova_cases), function(id) {
  cs <- anova_cases[[id]]
  keep <- !is.na(cs$y)
  y <- cs$y[keep]
  f <- factor(cs$g[keep])
  classical <- c(NA, NA, NA, NA, NA)
  if (nlevels(f) >= 2 && length(y) > nlevels(f)) {
    tab <- summary(aov(y ~ f))[[1]]
    classical <- c(tab[1, "F value"], tab[1, "Df"], tab[2, "Df"], tab[1, "Pr(>F)"], tab[2, "Mean Sq"])
    if (tab[2, "Sum Sq"] < 1e-20) {
      # aov leaves rounding-level residuals here; oneway.test gives the exact answer (F = Inf, p = 0).
      ow <- oneway.test(y ~ f, var.equal = TRUE)
      classical <- c(ow$statistic, ow$parameter, ow$p.value, 0)
    }
  }
  welch <- or_na(oneway.test(y ~ f, var.equal = FALSE))
  welch <- if (is.null(welch)) rep(NA, 4) else c(welch$statistic, welch$parameter, welch$p.value)
  data.frame(
    case = id, values = vec(cs$y), groups = paste(cs$g, collapse = ","), n_groups = cs$n,
    f = num(classical[1]), df1 = num(classical[2]), df2 = num(classical[3]), p = num(classical[4]),
    mse = num(classical[5]),
    welch_f = num(welch[1]), welch_df1 = num(welch[2]), welch_df2 = num(welch[3]), welch_p = num(welch[4])
  )
})
write_tsv(do.call(rbind, anova_rows), "classic_anova.tsv")

# ---- ptukey grid -------------------------------------------------------------------------------------------
# An independent reference: the defining double integral by integrate() with pnorm/dnorm, to tell our error from
# R ptukey's own (R's fixed Gauss-Legendre scheme is off by up to 1e-3 in the upper tail for df <= 5).
source(file.path(dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))), "studentized_range_integral.R"))
# q at fixed upper-tail probabilities plus a few fixed q, for k = 2..20 and df from 2 to 1000 and Inf.
grid <- list()
for (k in 2:20) {
  for (df in c(2, 3, 5, 10, 27, 60, 200, 1000, Inf)) {
    qs <- c(0.25, 1, sapply(c(0.9, 0.5, 0.1, 0.01, 1e-3, 1e-5), function(p) qtukey(p, k, df, lower.tail = FALSE)))
    # qtukey warns (and may return NaN) where its search fails at extreme p; a finite q is still a grid point.
    for (q in qs[is.finite(qs)]) {
      grid[[length(grid) + 1]] <- data.frame(
        q = num(q), k = k, df = num(df),
        lower = num(ptukey(q, k, df)), upper = num(ptukey(q, k, df, lower.tail = FALSE)),
        upper_integrate = num(if (df <= 10) studentized_upper(q, k, df) else NA)
      )
    }
  }
}
write_tsv(do.call(rbind, grid), "classic_ptukey.tsv")

indep <- list()
for (pt in list(c(10, 20, 2), c(3.5, 3, 10), c(5, 9, 27), c(2, 2, 2), c(7, 20, 5), c(4, 5, 60), c(6, 9, 3),
                c(3, 12, 1000), c(20, 9, 5), c(1.2, 4, 2))) {
  indep[[length(indep) + 1]] <- data.frame(
    q = num(pt[1]), k = pt[2], df = num(pt[3]),
    upper_integrate = num(studentized_upper(pt[1], pt[2], pt[3])),
    upper_ptukey = num(ptukey(pt[1], pt[2], pt[3], lower.tail = FALSE))
  )
}
write_tsv(do.call(rbind, indep), "classic_ptukey_integrate.tsv")

# Normal tail for upper_normal.
x <- seq(-8, 37, by = 0.37)
write_tsv(data.frame(x = num(x), upper = num(pnorm(x, lower.tail = FALSE))), "classic_pnorm.tsv")

# ---- TukeyHSD ----------------------------------------------------------------------------------------------
tukey_cases <- list()
g <- make_groups(c(5, 5, 5)); tukey_cases$balanced_three <- list(y = rnorm(15, rep(c(10, 11.5, 10.2), each = 5)), g = g, n = 3)
g <- make_groups(c(3, 6, 4, 5)); tukey_cases$unbalanced_four <- list(y = rnorm(18, rep(c(10, 12, 10.5, 11), c(3, 6, 4, 5))), g = g, n = 4)
g <- make_groups(rep(4, 9)); tukey_cases$nine_by_four <- list(y = rnorm(36, rep(seq(20, 23, length.out = 9), each = 4), 0.8), g = g, n = 9)
g <- make_groups(rep(4, 9)); y <- rnorm(36, rep(seq(20, 26, length.out = 9), each = 4), 0.5); y[sample(36, 4)] <- NA
tukey_cases$nine_by_four_missing <- list(y = y, g = g, n = 9)
g <- make_groups(c(1, 3, 4)); tukey_cases$singleton_group <- list(y = rnorm(8, rep(c(5, 6, 7), c(1, 3, 4))), g = g, n = 3)

tukey_rows <- list()
for (id in names(tukey_cases)) {
  cs <- tukey_cases[[id]]
  keep <- !is.na(cs$y)
  y <- cs$y[keep]
  f <- factor(cs$g[keep])
  hsd <- TukeyHSD(aov(y ~ f))$f
  for (r in rownames(hsd)) {
    lv <- as.integer(strsplit(r, "-")[[1]])
    tukey_rows[[length(tukey_rows) + 1]] <- data.frame(
      case = id, values = vec(cs$y), groups = paste(cs$g, collapse = ","), n_groups = cs$n,
      a = lv[1], b = lv[2], diff = num(hsd[r, "diff"]), p_adj = num(hsd[r, "p adj"])
    )
  }
}
write_tsv(do.call(rbind, tukey_rows), "classic_tukey.tsv")
