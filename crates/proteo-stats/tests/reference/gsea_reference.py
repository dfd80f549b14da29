"""Reference values for crates/proteo-stats/tests/gsea_vs_gseapy.rs, from gseapy 1.1.13 `prerank`.

Run through gsea_reference.sh (it creates the venv). A ranking of 2 000 genes (distinct scores: ties would leave
the order to the sort), 30 gene sets of 15-300 genes, some drawn from the top or the bottom of the ranking; weight 1,
10 000 permutations (so gseapy's own Monte Carlo error is small next to the one under test), one thread.
Writes crates/proteo-stats/tests/fixtures/gsea_{ranking,sets,results}.tsv.
"""
import os
import sys

import numpy as np
import pandas as pd
import gseapy

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures")
PERMUTATIONS = 10_000

rng = np.random.default_rng(20240611)
n = 2000
genes = [f"G{i:04d}" for i in range(n)]
scores = rng.standard_t(6, size=n) * 1.5
scores = np.round(scores, 9)
assert len(set(scores)) == n, "scores must be distinct"
order = np.argsort(-scores, kind="stable")
ranked = [genes[i] for i in order]
sizes = [15, 15, 18, 20, 20, 25, 25, 30, 30, 35, 40, 45, 50, 50, 60, 60, 70, 80, 90, 100,
         110, 120, 140, 160, 180, 200, 220, 250, 280, 300]
sets = {}
for s, size in enumerate(sizes):
    if s % 5 == 0:  # enriched at the top: drawn from the first 400 ranks with half the set
        core = list(rng.choice(ranked[:400], size // 2, replace=False))
        rest = [g for g in rng.permutation(ranked) if g not in core][: size - len(core)]
        members = core + rest
    elif s % 5 == 1:  # enriched at the bottom
        core = list(rng.choice(ranked[-400:], size // 2, replace=False))
        rest = [g for g in rng.permutation(ranked) if g not in core][: size - len(core)]
        members = core + rest
    else:
        members = list(rng.choice(genes, size, replace=False))
    sets[f"SET{s:02d}"] = sorted(members)

rnk = pd.Series(scores, index=genes)
res = gseapy.prerank(rnk=rnk, gene_sets=sets, min_size=1, max_size=n, permutation_num=PERMUTATIONS,
                     weight=1.0, threads=1, seed=7, outdir=None, no_plot=True, verbose=False)
rows = []
for term, r in res.results.items():
    rows.append((term, len(sets[term]), r["es"], r["nes"], r["pval"], ";".join(sorted(r["lead_genes"].split(";")))))

with open(os.path.join(OUT, "gsea_ranking.tsv"), "w") as f:
    f.write("gene\tscore\n")
    for g, v in zip(genes, scores):
        f.write(f"{g}\t{float(v)!r}\n")
with open(os.path.join(OUT, "gsea_sets.tsv"), "w") as f:
    f.write("set\tgenes\n")
    for k, v in sets.items():
        f.write(f"{k}\t{','.join(v)}\n")
with open(os.path.join(OUT, "gsea_results.tsv"), "w") as f:
    f.write(f"# gseapy {gseapy.__version__}, numpy {np.__version__}, pandas {pd.__version__}, python {sys.version.split()[0]}; permutations {PERMUTATIONS}\n")
    f.write("set\tsize\tes\tnes\tp_value\tleading_edge\n")
    for t, size, es, nes, p, le in sorted(rows):
        f.write(f"{t}\t{size}\t{float(es)!r}\t{float(nes)!r}\t{float(p)!r}\t{le}\n")
print(f"gsea: {len(rows)} sets; {sum(1 for r in rows if r[4] < 0.05)} with p < 0.05")
