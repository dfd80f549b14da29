# Build human GO gene sets (UniProt accessions) from Bioconductor org.Hs.eg.db + GO.db, one GMT per ontology.
# Usage: Rscript make_go.R <outdir> [BP] [MF] [CC]   (default: all three)
# Annotations are propagated to ancestor terms (org.Hs.egGO2ALLEGS, is_a/part_of closure as provided by the package).
suppressMessages({library(org.Hs.eg.db); library(GO.db); library(AnnotationDbi)})
args <- commandArgs(trailingOnly = TRUE)
out <- args[1]
ontologies <- if (length(args) > 1) args[-1] else c("BP", "MF", "CC")
g2all <- toTable(org.Hs.egGO2ALLEGS)
up <- toTable(org.Hs.egUNIPROT)
sym <- toTable(org.Hs.egSYMBOL)
allterms <- toTable(GOTERM)         # go_id, Term, Ontology, ...
cat("org.Hs.eg.db", as.character(packageVersion("org.Hs.eg.db")), "GO.db", as.character(packageVersion("GO.db")), "\n")
for (ont in ontologies) {
  tag <- tolower(ont)
  g2 <- unique(g2all[g2all$Ontology == ont, c("gene_id", "go_id")])
  terms <- unique(allterms[allterms$Ontology == ont, c("go_id", "Term")])
  colnames(terms)[1] <- "go_id"
  m <- merge(g2, up, by = "gene_id")
  m <- merge(m, sym, by = "gene_id", all.x = TRUE)
  m <- merge(m, terms, by = "go_id")
  m <- unique(m[, c("go_id", "Term", "uniprot_id", "gene_id", "symbol")])
  m <- m[order(m$go_id, m$uniprot_id), ]
  cat(ont, "terms with >=1 UniProt:", length(unique(m$go_id)), " pairs:", nrow(m), " accessions:", length(unique(m$uniprot_id)), "\n")
  # GMT keyed by UniProt accession
  sp <- split(m$uniprot_id, m$go_id)
  nm <- terms$Term[match(names(sp), terms$go_id)]
  lines <- vapply(seq_along(sp), function(i) paste(c(names(sp)[i], gsub("\t", " ", nm[i]), unique(sp[[i]])), collapse = "\t"), "")
  writeLines(lines, file.path(out, sprintf("go_%s_human_uniprot.gmt", tag)))
  # GMT keyed by gene symbol
  ms <- unique(merge(g2, sym, by = "gene_id")[, c("go_id", "symbol")])
  ms <- ms[ms$go_id %in% terms$go_id, ]
  sp2 <- split(ms$symbol, ms$go_id)
  nm2 <- terms$Term[match(names(sp2), terms$go_id)]
  lines2 <- vapply(seq_along(sp2), function(i) paste(c(names(sp2)[i], gsub("\t", " ", nm2[i]), sort(unique(sp2[[i]]))), collapse = "\t"), "")
  writeLines(lines2, file.path(out, sprintf("go_%s_human_symbol.gmt", tag)))
  cat(ont, "symbol GMT terms:", length(sp2), "\n")
}
