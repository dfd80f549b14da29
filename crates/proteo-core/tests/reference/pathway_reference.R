# Reference over-representation analysis for proteo_core::pathway, in base R 4.2.2 (phyper, p.adjust).
# Regenerate (from the crate directory):  Rscript tests/reference/pathway_reference.R
# Writes to tests/fixtures/:
#   pathway_uniprot.gmt, pathway_symbol.gmt      small GMT files (UniProt- and symbol-keyed), with duplicate members
#   pathway_background.tsv                        protein_id, gene_names, selected (1 = in the selection)
#   pathway_expected_uniprot.tsv, pathway_expected_symbol.tsv   expected result rows
#   pathway_summary.tsv                           key, min_size, max_size, n_annotated (N), n_selected (n), n_tested
# Method (as documented in pathway.rs): N = background groups with >= 1 key in any set; n = selected among them;
# per set K = background groups with any key in it; tested if min <= K <= max; k = selected groups in it;
# p = phyper(k-1, K, N-K, n, lower.tail=FALSE); BH over tested sets; rows with k >= 1 ordered by p, then term id.
args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
out_dir <- file.path(dirname(dirname(normalizePath(script))), "fixtures")
set.seed(20240517)
MIN_SIZE <- 5
MAX_SIZE <- 40
fmt <- function(x) sprintf("%.17g", x)

n_acc <- 320
acc <- sprintf("%s%05d", sample(c("P", "Q", "O"), n_acc, replace = TRUE), sample(10000:99999, n_acc))
sym <- sprintf("GENE%d", seq_len(n_acc))

# Background: 260 protein groups built from the first 300 accessions (the last 20 occur only in the gene sets),
# with isoforms, multi-accession groups, contaminant / decoy / FASTA-header spellings, and unannotated accessions.
ids <- character(0); genes <- character(0)
pool <- sample(300)
pos <- 1
take <- function(m) { r <- pool[pos:(pos + m - 1)]; pos <<- pos + m; r }
for (g in 1:260) {
  kind <- sample(c("single", "iso", "multi", "con", "sp", "decoy_mix", "unannotated"), 1,
                 prob = c(0.5, 0.1, 0.15, 0.05, 0.05, 0.05, 0.1))
  if (kind == "multi" && pos + 2 <= 300) {
    ix <- take(sample(2:3, 1))
    id <- paste(ifelse(runif(length(ix)) < 0.3, paste0(acc[ix], "-", sample(2:12, length(ix))), acc[ix]),
                collapse = ";")
    gn <- paste(sym[ix], collapse = ";")
  } else if (kind == "unannotated" || pos > 300) {
    id <- sprintf("A0A%06d", g); gn <- if (runif(1) < 0.5) "" else sprintf("ORPHAN%d", g)
  } else {
    ix <- take(1)
    id <- switch(kind,
      single = acc[ix], iso = paste0(acc[ix], "-", sample(2:4, 1)), con = paste0("CON__", acc[ix]),
      sp = sprintf("sp|%s|%s_HUMAN", acc[ix], sym[ix]), decoy_mix = paste0(acc[ix], ";REV__", acc[sample(300, 1)]))
    gn <- sym[ix]
  }
  ids <- c(ids, id); genes <- c(genes, gn)
}
ids <- c(ids, "REV__P99999", "CON__ENSEMBL:ENSBTAP00000024146")
genes <- c(genes, "", "")

# Gene sets over the accession universe: sizes 2..90, some with a theme that the selection is enriched for.
n_sets <- 45
set_members <- lapply(seq_len(n_sets), function(s) sample(n_acc, sample(c(2:12, 15, 25, 35, 45, 60, 90), 1)))
theme <- sample(n_acc, 60)
for (s in 1:6) set_members[[s]] <- unique(c(sample(theme, 8 + 2 * s), set_members[[s]][1:3]))
term_id <- sprintf("GO:%07d", sample(1:9999999, n_sets))
term_name <- sprintf("process %d of test", seq_len(n_sets))

write_gmt <- function(keys, file) {
  lines <- vapply(seq_len(n_sets), function(s) {
    m <- keys[set_members[[s]]]
    if (s %% 5 == 0) m <- c(m, m[1])  # duplicate member: must be counted once
    paste(c(term_id[s], term_name[s], m), collapse = "\t")
  }, "")
  writeLines(lines, file.path(out_dir, file))
}
write_gmt(acc, "pathway_uniprot.gmt")
write_gmt(sym, "pathway_symbol.gmt")

# Selection: groups containing a theme accession with probability 0.6, others 0.08.
norm_acc <- function(id) {
  p <- trimws(strsplit(id, ";", fixed = TRUE)[[1]])
  p <- p[!startsWith(p, "REV__")]
  p <- sub("^CON__", "", p)
  bar <- grepl("|", p, fixed = TRUE)
  p[bar] <- vapply(strsplit(p[bar], "|", fixed = TRUE), `[`, "", 2)
  p <- sub("-[0-9]+$", "", p)
  unique(p[p != ""])
}
norm_gene <- function(g) { p <- trimws(strsplit(g, ";", fixed = TRUE)[[1]]); unique(p[p != ""]) }
group_acc <- lapply(ids, norm_acc)
in_theme <- vapply(group_acc, function(a) any(a %in% acc[theme]), TRUE)
selected <- runif(length(ids)) < ifelse(in_theme, 0.6, 0.08)
selected[length(ids) - 1] <- TRUE  # a decoy-only group: selected but never annotated

write.table(data.frame(protein_id = ids, gene_names = genes, selected = as.integer(selected)),
            file.path(out_dir, "pathway_background.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)

ora <- function(group_keys, set_keys) {
  universe <- unique(unlist(set_keys))
  annotated <- vapply(group_keys, function(k) any(k %in% universe), TRUE)
  N <- sum(annotated); n <- sum(annotated & selected)
  in_set <- sapply(set_keys, function(m) vapply(group_keys, function(k) any(k %in% m), TRUE))
  K <- colSums(in_set & annotated)
  k <- colSums(in_set & annotated & selected)
  tested <- K >= MIN_SIZE & K <= MAX_SIZE
  p <- phyper(k - 1, K, N - K, n, lower.tail = FALSE)
  adj <- rep(NA_real_, n_sets); adj[tested] <- p.adjust(p[tested], method = "BH")
  keep <- which(tested & k >= 1)
  keep <- keep[order(p[keep], term_id[keep], method = "radix")]
  overlap_ids <- vapply(keep, function(s) paste(ids[in_set[, s] & annotated & selected], collapse = " | "), "")
  rows <- data.frame(term_id = term_id[keep], term_name = term_name[keep], set_size = K[keep], overlap = k[keep],
                     expected = fmt(n * K[keep] / N), fold_enrichment = fmt(k[keep] / (n * K[keep] / N)),
                     p_value = fmt(p[keep]), adj_p_value = fmt(adj[keep]), overlap_ids = overlap_ids)
  list(rows = rows, N = N, n = n, tested = sum(tested))
}
u <- ora(group_acc, lapply(set_members, function(m) acc[m]))
# Symbol-keyed: the accessions of the run match nothing, so the gene names column is used.
s <- ora(lapply(genes, norm_gene), lapply(set_members, function(m) sym[m]))
write.table(u$rows, file.path(out_dir, "pathway_expected_uniprot.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
write.table(s$rows, file.path(out_dir, "pathway_expected_symbol.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
write.table(data.frame(key = c("uniprot_accession", "gene_name"), min_size = MIN_SIZE, max_size = MAX_SIZE,
                       n_annotated = c(u$N, s$N), n_selected = c(u$n, s$n), n_tested = c(u$tested, s$tested)),
            file.path(out_dir, "pathway_summary.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
cat(sprintf("R %s: uniprot N=%d n=%d tested=%d rows=%d min p=%g; symbol N=%d n=%d tested=%d rows=%d\n",
            getRversion(), u$N, u$n, u$tested, nrow(u$rows), min(as.numeric(u$rows$p_value)),
            s$N, s$n, s$tested, nrow(s$rows)))
