# Shared by normalize_reference.R, ftest_reference.R and impute_reference.R: where fixtures go and how numbers are
# written (17 significant digits, NA for missing). Source it with the calling script's directory in `here`.
out_dir <- file.path(here, "..", "fixtures")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
write_matrix <- function(m, file) {
  m <- as.matrix(m)
  writeLines(c(paste(colnames(m), collapse = "\t"), apply(m, 1, function(r) paste(fmt(r), collapse = "\t"))),
             file.path(out_dir, file))
}
