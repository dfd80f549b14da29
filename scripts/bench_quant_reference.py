"""Times directLFQ (PyPI directlfq) and directlfq-rs on a report.parquet written by `proteo bench --precursor --keep`,
with the filters proteo applies by default, and compares their protein ranking per run with proteo's output.
Usage: bench_quant_reference.py REPORT.parquet PROTEO.tsv {directlfq|directlfq-rs}. Prints one table row.
"""

import os
import resource
import sys
import tempfile
import time

import numpy as np
import pandas as pd

report, proteo_tsv, tool = sys.argv[1:4]
COLUMNS = ["Run", "Protein.Group", "Precursor.Id", "Precursor.Normalised", "Q.Value", "Lib.Q.Value", "Lib.PG.Q.Value", "Decoy"]

t0 = time.perf_counter()
if tool == "directlfq":
    import directlfq.lfq_manager as lfq

    d = pd.read_parquet(report, columns=COLUMNS)
    keep = (d["Q.Value"] <= 0.01) & (d["Lib.Q.Value"] <= 0.01) & (d["Lib.PG.Q.Value"] <= 0.01) & (d["Decoy"] == 0)
    d = d[keep & (d["Precursor.Normalised"] > 0)]
    wide = d.pivot_table(index=["Protein.Group", "Precursor.Id"], columns="Run", values="Precursor.Normalised", aggfunc="max")
    wide = wide.reset_index().rename(columns={"Protein.Group": "protein", "Precursor.Id": "ion"}).fillna(0.0)
    del d
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "input.aq_reformat.tsv")
    wide.to_csv(path, sep="\t", index=False)
    runs = [c for c in wide.columns if c not in ("protein", "ion")]
    del wide
    lfq.run_lfq(path, num_cores=os.cpu_count(), min_nonan=1, log_processed_proteins=False, compile_normalized_ion_table=False)
    prot = pd.read_csv(path + ".protein_intensities.tsv", sep="\t").set_index("protein")[runs]
else:
    import directlfq_rs

    res = directlfq_rs.quantify(report)
    runs = sorted(pd.read_parquet(report, columns=["Run"])["Run"].unique())
    prot = pd.DataFrame.from_dict(res, orient="index")
    prot.columns = runs[: prot.shape[1]] if prot.shape[1] == len(runs) else prot.columns
seconds = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3

ours = pd.read_csv(proteo_tsv, sep="\t").pivot(index="protein", columns="run", values="log2")
rho = []
for run in ours.columns.intersection(prot.columns):
    a = ours[run]
    b = np.log2(prot[run].replace(0, np.nan).astype(float))
    both = pd.concat([a, b], axis=1, join="inner").dropna()
    if len(both) > 2:
        rho.append(both.iloc[:, 0].rank().corr(both.iloc[:, 1].rank()))
rho = np.array(rho)
print(f"{tool:>14} {seconds:>9.1f} s {peak_mb:>9.0f} MB   Spearman vs proteo per run: "
      f"min {rho.min() if len(rho) else float('nan'):.3f} median {np.median(rho) if len(rho) else float('nan'):.3f} ({len(rho)} runs)")
