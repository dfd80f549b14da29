"""MaxLFQ reference fixtures for crates/proteo-core/tests/quant_vs_reference.rs.

Run by scripts/make-quant-reference (which creates the venv with numpy, pandas, pyarrow and directlfq) from the
crate directory. Writes tests/fixtures/quant/:

- maxlfq_synthetic_report.tsv: a DIA-NN-shaped long report (Run, Protein.Group, Precursor.Id, Precursor.Normalised,
  q-values) of synthetic proteins with missing values, lonely runs and disconnected run components;
- maxlfq_synthetic_expected.tsv: iq's maxLFQ() on it, from the numpy transcription below;
- maxlfq_iq_<name>.tsv: the same transcription on the real DIA-NN reports in ../shared/data/formats/ (filtered as
  proteo filters them by default: Q.Value, Lib.Q.Value, Lib.PG.Q.Value <= 0.01, Precursor.Normalised > 0);
- directlfq_<name>.tsv: directLFQ's protein intensities on the same filtered precursors (its default
  normalisation), the second reference, for the ranking of proteins within each run.

R's iq is not in Debian (no r-cran-iq), so iq's maxLFQ() is transcribed from its published source
(tvpham/iq R/iq.R, maxLFQ, version 1.9): connected components of runs sharing a precursor, the bordered
least-squares system lsfit(rbind(cbind(2*AtA, 1), c(1, 0)), c(2*Atb, mean(X)*N)), lonely runs by their median.
"""

import os
import sys

import numpy as np
import pandas as pd

FORMATS = "../../../shared/data/formats"
OUT = "tests/fixtures/quant"
REAL = {
    "diann21_parquet": "diann_report-parquet_2.1.0-alphapepttools/top20_report.parquet",
    "diann182_tsv": "diann_report-tsv_1.8.2b8-einprot/PXD028735.report.tsv",
    "diann181_tsv": "diann_report-tsv_1.8.1-alphabase/diann_1.8.1_report_head.tsv",
    "diann190_tsv": "diann_report-tsv_1.9.0-alphabase/diann_1.9.0_report_head.tsv",
}


def iq_maxlfq(x):
    """iq::maxLFQ(X): X precursors x runs, log2, NaN = missing. Returns the log2 estimate per run."""
    n_prec, n = x.shape
    if np.all(np.isnan(x)):
        return np.full(n, np.nan)
    if n_prec == 1:
        return x[0].copy()
    obs = ~np.isnan(x)
    g = np.full(n, -1)
    cc = 0
    for i in range(n):
        if g[i] >= 0:
            continue
        # iq's spread(): runs reachable through shared precursors (runs without any value become their own group).
        stack = [i]
        g[i] = cc
        while stack:
            r = stack.pop()
            rows = obs[:, r]
            for k in np.where(obs[rows].any(axis=0))[0]:
                if g[k] < 0:
                    g[k] = cc
                    stack.append(k)
        cc += 1
    w = np.full(n, np.nan)
    for c in range(cc):
        ind = np.where(g == c)[0]
        xc = x[:, ind]
        if len(ind) == 1:
            col = xc[:, 0]
            w[ind[0]] = np.median(col[~np.isnan(col)]) if (~np.isnan(col)).any() else np.nan
            continue
        m = len(ind)
        ata = np.zeros((m, m))
        atb = np.zeros(m)
        for i in range(m - 1):
            for j in range(i + 1, m):
                d = -xc[:, i] + xc[:, j]
                d = d[~np.isnan(d)]
                if len(d):
                    r = np.median(d)
                    ata[i, j] = ata[j, i] = -1
                    ata[i, i] += 1
                    ata[j, j] += 1
                    atb[i] -= r
                    atb[j] += r
        a = np.zeros((m + 1, m + 1))
        a[:m, :m] = 2 * ata
        a[:m, m] = 1
        a[m, :m] = 1
        b = np.concatenate([2 * atb, [np.nanmean(xc) * m]])
        w[ind] = np.linalg.lstsq(a, b, rcond=None)[0][:m]
    return w


def synthetic():
    rng = np.random.default_rng(20240512)
    runs = [f"S{r:02d}" for r in range(12)]
    rows = []
    for p in range(40):
        n_prec = [1, 2, 3, 5, 8][p % 5]
        level = rng.normal(20, 2)
        profile = rng.normal(0, 1, len(runs))
        for k in range(n_prec):
            offset = rng.normal(0, 1.5)
            for r, run in enumerate(runs):
                v = level + offset + profile[r] + rng.normal(0, 0.3)
                missing = rng.random() < (0.15 if p % 7 else 0.5)
                if p % 11 == 3:
                    # Two halves measured by different precursors: two components.
                    missing = (k % 2 == 0) != (r < 6)
                if not missing:
                    rows.append((run, f"PG{p:02d}", f"PEP{p:02d}_{k}", 2.0 ** v))
    # A lonely run: one precursor only there.
    rows.append(("S11", "PG99", "PEP99_0", 2.0**17.25))
    rows.append(("S11", "PG99", "PEP99_1", 2.0**18.5))
    rows.append(("S11", "PG99", "PEP99_2", 2.0**19.0))
    df = pd.DataFrame(rows, columns=["Run", "Protein.Group", "Precursor.Id", "Precursor.Normalised"])
    df["Q.Value"] = 0.001
    df["Lib.Q.Value"] = 0.0
    df["Lib.PG.Q.Value"] = 0.0
    df["Genes"] = df["Protein.Group"].str.replace("PG", "G")
    df = df.sample(frac=1, random_state=7)  # row order must not matter
    df.to_csv(f"{OUT}/maxlfq_synthetic_report.tsv", sep="\t", index=False, float_format="%.17g")
    return df


def filtered(df):
    keep = (df["Precursor.Normalised"] > 0) & df["Protein.Group"].astype(str).str.strip().ne("")
    for c in ["Q.Value", "Lib.Q.Value", "Lib.PG.Q.Value"]:
        if c in df:
            keep &= df[c] <= 0.01
    if "Decoy" in df:
        keep &= df["Decoy"] == 0
    return df[keep].copy()


def quantify(df, name):
    """Our reading of the report (float32 quantities, max of duplicates), then iq per protein group."""
    df = filtered(df)
    df["q"] = df["Precursor.Normalised"].astype(np.float32).astype(np.float64)
    runs = sorted(df["Run"].unique())
    out = []
    for pg, sub in sorted(df.groupby("Protein.Group"), key=lambda t: t[0]):
        piv = sub.pivot_table(index="Precursor.Id", columns="Run", values="q", aggfunc="max").reindex(columns=runs)
        piv = piv.sort_index()
        w = iq_maxlfq(np.log2(piv.values))
        out += [(pg, run, v) for run, v in zip(runs, w) if not np.isnan(v)]
    res = pd.DataFrame(out, columns=["protein", "run", "log2"])
    res.to_csv(f"{OUT}/{name}.tsv", sep="\t", index=False, float_format="%.17g")
    return df, runs


def directlfq(df, runs, name):
    import directlfq.lfq_manager as lfq

    wide = df.pivot_table(index=["Protein.Group", "Precursor.Id"], columns="Run", values="q", aggfunc="max")
    wide = wide.reindex(columns=runs).reset_index().rename(columns={"Protein.Group": "protein", "Precursor.Id": "ion"})
    wide = wide.fillna(0.0)
    path = os.path.abspath(f"{OUT}/_directlfq_input_{name}.aq_reformat.tsv")
    wide.to_csv(path, sep="\t", index=False)
    try:
        lfq.run_lfq(path, num_cores=1, min_nonan=1)
        prot = pd.read_csv(path.replace(".aq_reformat.tsv", ".aq_reformat.tsv.protein_intensities.tsv"), sep="\t")
    finally:
        for f in os.listdir(OUT):
            if f.startswith("_directlfq_input_"):
                os.remove(os.path.join(OUT, f))
    long = prot.melt(id_vars=["protein"], value_vars=runs, var_name="run", value_name="intensity")
    long = long[long["intensity"] > 0].sort_values(["protein", "run"])
    long.to_csv(f"{OUT}/directlfq_{name}.tsv", sep="\t", index=False, float_format="%.10g")


def main():
    os.makedirs(OUT, exist_ok=True)
    syn = synthetic()
    df = filtered(syn)
    df["q"] = df["Precursor.Normalised"].astype(np.float32).astype(np.float64)
    quantify(syn, "maxlfq_synthetic_expected")
    if not os.path.isdir(FORMATS):
        print(f"{FORMATS} is absent: only the synthetic fixtures were written", file=sys.stderr)
        return
    for name, rel in REAL.items():
        path = os.path.join(FORMATS, rel)
        real = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path, sep="\t")
        if "Run" not in real:
            real["Run"] = real["File.Name"].str.replace(r"^.*[\\/]", "", regex=True).str.replace(r"\.[^.]*$", "", regex=True)
        d, runs = quantify(real, f"maxlfq_iq_{name}")
        if name == "diann21_parquet":
            directlfq(d, runs, name)
        print(f"{name}: {d['Protein.Group'].nunique()} protein groups x {len(runs)} runs")


if __name__ == "__main__":
    main()
