# Reference values for proteo_stats::hyper (dhyper, phyper_upper) from base R.
# Regenerate (from the crate directory):  Rscript tests/reference/hyper_reference.R
# Writes tests/fixtures/hyper_cases.tsv with columns
#   k, big_k, n_total, n_drawn, dhyper = dhyper(k, K, N-K, n), upper = phyper(k-1, K, N-K, n, lower.tail=FALSE)
# Parameterisation: urn of N items, K successes, n drawn, k successes drawn.
args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
out_dir <- file.path(dirname(dirname(normalizePath(script))), "fixtures")

urns <- list()
add <- function(N, K, n) urns[[length(urns) + 1]] <<- c(N, K, n)
for (N in c(10, 57, 200, 1000, 4999, 12345, 30000)) {
  for (fK in c(0, 1 / N, 0.01, 0.1, 0.37, 0.5, 0.9, 1)) {
    for (fn in c(1 / N, 0.02, 0.2, 0.5, 0.83, 1)) {
      K <- round(fK * N); n <- max(1, round(fn * N))
      add(N, K, n)
    }
  }
}
# Shapes that occur in over-representation analysis: background of a few thousand proteins, sets of 10-500,
# selections of tens to a thousand.
for (N in c(1459, 5000, 30000)) for (K in c(10, 37, 250, 500)) for (n in c(3, 40, 400, 1200)) add(N, K, n)

fmt <- function(x) sprintf("%.17g", x)
rows <- list()
for (u in urns) {
  N <- u[1]; K <- u[2]; n <- u[3]
  lo <- max(0, n - (N - K)); hi <- min(K, n)
  mu <- n * K / N
  ks <- c(0, 1, 2, lo, lo + 1, floor(mu), ceiling(mu) + 1, hi - 1, hi, hi + 1)
  # Walk into the upper tail geometrically until the tail probability is below ~1e-300.
  step <- max(1, (hi - mu) / 40)
  for (j in 1:40) ks <- c(ks, round(mu + j * step))
  ks <- sort(unique(ks[ks >= 0 & ks <= n + 1]))
  for (k in ks) {
    d <- dhyper(k, K, N - K, n)
    p <- phyper(k - 1, K, N - K, n, lower.tail = FALSE)
    rows[[length(rows) + 1]] <- c(k, K, N, n, fmt(d), fmt(p))
  }
}
m <- do.call(rbind, rows)
colnames(m) <- c("k", "big_k", "n_total", "n_drawn", "dhyper", "upper")
write.table(m, file.path(out_dir, "hyper_cases.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
cat(sprintf("%s: %d rows, R %s\n", file.path(out_dir, "hyper_cases.tsv"), nrow(m), getRversion()))
