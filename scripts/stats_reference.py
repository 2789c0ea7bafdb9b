#!/usr/bin/env python3
"""The reference Python stack on the question `benches/statistics.rs` generated, timed, and
compared figure by figure with markroom's report of the same marks.

    STATS_BENCH_OUT=/tmp/statsbench cargo bench --bench statistics
    python3 scripts/stats_reference.py /tmp/statsbench

(`scripts/stats_bench.sh` runs both.) Needs numpy, pandas, scipy, pingouin, krippendorff,
scikit-learn and statsmodels. Reliability: pingouin (ICC), krippendorff (alpha), statsmodels
(Fleiss' kappa, Holm), scikit-learn (Cohen's kappa), scipy (correlations, t, chi-square,
linregress). Additive model: scipy.sparse.linalg.lsqr on the sparse design (script and marker
dummies, marker effects centred), and numpy's pseudo-inverse of the markers' normal matrix for
the standard errors and leverages (statsmodels' OLS cannot hold a million × 336,000 design).

The krippendorff package forms a (units × values × values) array, 10 GB here; its coincidence
matrix is therefore summed over chunks of units with the package's own `_coincidences`, and the
package's own last lines finish the computation.
"""

import json
import sys
import time
import warnings

import krippendorff
import numpy as np
import pandas as pd
import pingouin as pg
import scipy.sparse as sp
import scipy.stats as st
from krippendorff import krippendorff as kd
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import lsqr
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa
from statsmodels.stats.multitest import multipletests

MAX = 60
TIMES = {}


def timed(name):
    def wrap(fn):
        def run(*a):
            t = time.perf_counter()
            out = fn(*a)
            TIMES[name] = time.perf_counter() - t
            return out

        return run

    return wrap


def rows_for_reliability(df):
    """Scripts marked by every marker when two or more are; else those with the modal count."""
    n_markers = df.marker.nunique()
    counts = df.groupby("script").size()
    complete = counts[counts == n_markers].index
    if n_markers >= 2 and len(complete) >= 2:
        return df[df.script.isin(complete)], n_markers, True
    freq = counts.value_counts()
    k = max(freq.index, key=lambda c: (freq[c], c))
    return df[df.script.isin(counts[counts == k].index)], k, False


@timed("icc (pingouin)")
def icc(df):
    rows, k, crossed = rows_for_reliability(df)
    rows = rows.sort_values(["script", "marker"]).copy()
    # One-way forms need no marker identity: raters are the marks' positions on the script.
    rows["rater"] = rows["marker"] if crossed else rows.groupby("script").cumcount()
    t = pg.intraclass_corr(data=rows, targets="script", raters="rater", ratings="score").set_index("Type")
    names = {"ICC(1,1)": "ICC1", "ICC(A,1)": "ICC2", "ICC(C,1)": "ICC3", "ICC(1,k)": "ICC1k", "ICC(A,k)": "ICC2k", "ICC(C,k)": "ICC3k"}
    keep = names if crossed else {"ICC(1,1)": "ICC1", "ICC(1,k)": "ICC1k"}
    return {
        names[p]: {"value": t.at[p, "ICC"], "F": t.at[p, "F"], "df1": t.at[p, "df1"], "df2": t.at[p, "df2"], "p": t.at[p, "pval"], "ci95": list(t.at[p, "CI95"])}
        for p in keep
    }


@timed("krippendorff alpha (krippendorff)")
def alphas(df):
    domain = np.unique(df.score.to_numpy())
    value_index = np.searchsorted(domain, df.score.to_numpy())
    counts = np.zeros((df.script.max() + 1, len(domain)), dtype=np.int64)
    np.add.at(counts, (df.script.to_numpy(), value_index), 1)
    o = np.zeros((len(domain), len(domain)))
    for start in range(0, len(counts), 10000):
        o += kd._coincidences(counts[start : start + 10000])
    out = {}
    for level in ("interval", "ordinal", "nominal"):
        # The package's own last lines of krippendorff.alpha, on the summed coincidences.
        n_v = o.sum(axis=0)
        e = kd._random_coincidences(n_v)
        d = kd._distances(domain, kd._distance_metric(level), n_v)
        out[level] = 1 - (o * d).sum() / (e * d).sum()
    return out


@timed("fleiss kappa (statsmodels)")
def fleiss(df):
    rows, k, _ = rows_for_reliability(df)
    x = rows.sort_values(["script", "marker"]).score.to_numpy().reshape(-1, k)
    table, _ = aggregate_raters(x)
    return fleiss_kappa(table, method="fleiss")


@timed("pairs (scikit-learn, scipy)")
def pairs(df, names):
    m = df[["script", "marker", "score"]]
    both = m.merge(m, on="script", suffixes=("_a", "_b"))
    both = both[both.marker_a < both.marker_b]
    size = both.groupby(["marker_a", "marker_b"]).script.transform("size")
    both = both[size >= 2]
    labels = np.arange(0, MAX + 1)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for (a, b), g in both.groupby(["marker_a", "marker_b"], sort=False):
            x, y = g.score_a.to_numpy(), g.score_b.to_numpy()
            diff = np.abs(x - y)
            kappa = [cohen_kappa_score(x, y, labels=labels, weights=w) for w in (None, "linear", "quadratic")]
            out[(names[a], names[b])] = {
                "n": len(g),
                "exact": float(np.mean(diff == 0)),
                "adjacent": float(np.mean(diff <= 1)),
                "pearson": st.pearsonr(x, y)[0],
                "spearman": st.spearmanr(x, y)[0],
                "kappa": kappa[0],
                "kappa_linear": kappa[1],
                "kappa_quadratic": kappa[2],
            }
    return out


@timed("additive model (scipy lsqr, numpy pinv)")
def additive(df):
    counts = df.groupby("script").size()
    used = df[df.script.map(counts) >= 2].copy()
    # The largest group of markers linked by shared scripts, as markroom fits.
    n_markers = df.marker.max() + 1
    link = sp.coo_matrix((np.ones(len(used)), (used.script, used.marker)), shape=(df.script.max() + 1, n_markers)).tocsr()
    _, comp = connected_components(link.T @ link, directed=False)
    main = np.bincount(comp[used.marker], minlength=comp.max() + 1).argmax()
    used = used[comp[used.marker] == main]
    s_codes, s_index = np.unique(used.script.to_numpy(), return_inverse=True)
    m_codes, m_index = np.unique(used.marker.to_numpy(), return_inverse=True)
    n, S, M = len(used), len(s_codes), len(m_codes)
    rows = np.arange(n)
    X = sp.hstack([sp.csr_matrix((np.ones(n), (rows, s_index)), shape=(n, S)), sp.csr_matrix((np.ones(n), (rows, m_index)), shape=(n, M))]).tocsr()
    y = used.score.to_numpy(dtype=float)
    coef = lsqr(X, y, atol=1e-15, btol=1e-15, conlim=1e12, iter_lim=20000)[0]
    resid = y - X @ coef
    effect = coef[S:] - coef[S:].mean()
    df_resid = n - S - (M - 1)
    pooled = np.sqrt(resid @ resid / df_resid)
    lev, pinv_diag = leverages(s_index, m_index, S, M)
    return dict(used=used, m_codes=m_codes, m_index=m_index, resid=resid, effect=effect, df_resid=df_resid, pooled=pooled, leverage=lev, pinv_diag=pinv_diag, n=n, S=S)


def leverages(s_index, m_index, S, M):
    """Leverage of each mark: 1/n_s + dᵀ A⁺ d, d the marker dummy centred within its script."""
    n = len(s_index)
    Sm = sp.csr_matrix((np.ones(n), (np.arange(n), s_index)), shape=(n, S))
    D = sp.csr_matrix((np.ones(n), (np.arange(n), m_index)), shape=(n, M))
    size = np.asarray(Sm.sum(axis=0)).ravel()
    Dt = (D - Sm @ sp.diags(1.0 / size) @ (Sm.T @ D)).tocsr()
    A = (Dt.T @ Dt).toarray()
    # The null space (constant effects) must be cut: numpy's default cut-off keeps its rounding noise.
    Ap = np.linalg.pinv(A, rcond=1e-10, hermitian=True)
    lev = np.empty(n)
    for start in range(0, n, 20000):
        block = Dt[start : start + 20000]
        lev[start : start + 20000] = np.asarray((block @ Ap) * block.toarray()).sum(axis=1)
    return lev + 1.0 / size[s_index], np.diag(Ap)


@timed("per-marker figures (scipy, statsmodels)")
def markers(df, fit, names):
    used, m_codes, m_index = fit["used"], fit["m_codes"], fit["m_index"]
    pooled, df_resid = fit["pooled"], fit["df_resid"]
    se = pooled * np.sqrt(fit["pinv_diag"])
    t = fit["effect"] / se
    p = 2 * st.t.sf(np.abs(t), df_resid)
    p_holm = multipletests(p, method="holm")[1]
    ss = np.bincount(m_index, fit["resid"] ** 2, minlength=len(m_codes))
    rdf = np.bincount(m_index, 1 - fit["leverage"], minlength=len(m_codes))
    rsd = np.sqrt(ss / rdf)
    chi2 = ss / pooled**2
    sums = df.groupby("script").score.agg(["sum", "size"])
    d = df.join(sums, on="script")
    d = d[d["size"] >= 2]
    d = d.assign(others=(d["sum"] - d.score) / (d["size"] - 1)).sort_values(["marker", "seq"])
    u = used.assign(resid=fit["resid"]).sort_values(["marker", "seq"])
    paired = dict(tuple(d.groupby("marker")))
    residuals = {m: g.resid.to_numpy() for m, g in u.groupby("marker")}
    scores = {m: g.score.to_numpy() for m, g in df.groupby("marker")}
    out = {}
    for k, m in enumerate(m_codes):
        g = paired[m]
        x, yy = g.score.to_numpy(), g.others.to_numpy()
        r = st.pearsonr(x + yy, x - yy)[0]
        tt = r * np.sqrt((len(x) - 2) / (1 - r * r))
        lr = st.linregress(g.seq.to_numpy(), x - yy)
        z = residuals[m] / pooled
        hi = lo = top = bottom = 0.0
        for v in z:
            hi, lo = max(0.0, hi + v - 0.5), min(0.0, lo + v + 0.5)
            top, bottom = max(top, hi), min(bottom, lo)
        all_scores = scores[m]
        out[names[m]] = {
            "n": len(all_scores), "mean": all_scores.mean(), "sd": all_scores.std(ddof=1),
            "severity": fit["effect"][k], "severity_se": se[k], "t": t[k], "p": p[k], "p_holm": p_holm[k],
            "residual_ss": ss[k], "residual_df": rdf[k], "residual_sd": rsd[k], "residual_sd_ratio": rsd[k] / pooled,
            "chi2_statistic": chi2[k], "chi2_df": rdf[k], "chi2_p_upper": st.chi2.sf(chi2[k], rdf[k]), "chi2_p_lower": st.chi2.cdf(chi2[k], rdf[k]),
            "paired_sd_ratio": x.std(ddof=1) / yy.std(ddof=1), "pitman_morgan_r": r, "pitman_morgan_t": tt,
            "pitman_morgan_p": 2 * st.t.sf(abs(tt), len(x) - 2),
            "trend_slope": lr.slope, "trend_slope_se": lr.stderr, "trend_p": lr.pvalue, "cusum_max": top, "cusum_min": bottom,
        }
    return out


def deviation(a, b):
    """Relative difference; below 1e-12 (underflowing p-values) the absolute one."""
    if a is None or b is None or (isinstance(b, float) and np.isnan(b)):
        return 0.0 if (a is None and (b is None or np.isnan(b))) else float("inf")
    return abs(a - b) if abs(b) < 1e-12 else abs(a - b) / abs(b)


def compare(report, py):
    worst = {}

    def note(group, a, b):
        worst[group] = max(worst.get(group, 0.0), deviation(a, b))

    for name, f in py["icc"].items():
        for key in ("value", "F", "df1", "df2", "p"):
            note("icc", report["icc"][name][key], f[key])
        for i in range(2):
            note("icc", report["icc"][name]["ci95"][i], f["ci95"][i])
    for level, v in py["alpha"].items():
        note("krippendorff alpha", report["krippendorff_alpha"][level], v)
    note("fleiss kappa", report["fleiss_kappa"], py["fleiss"])
    rust_pairs = {frozenset((p["a"], p["b"])): p for p in report["pairs"]}
    note("pairs (count)", len(rust_pairs), len(py["pairs"]))
    for key, p in py["pairs"].items():
        for field, v in p.items():
            note("pairs", rust_pairs[frozenset(key)][field], v)
    note("additive model", report["additive_model"]["pooled_residual_sd"], py["pooled"])
    note("additive model", report["additive_model"]["df_resid"], py["df_resid"])
    rust_markers = {m["marker_id"]: m for m in report["markers"]}
    for marker, figures in py["markers"].items():
        for field, v in figures.items():
            note("markers: " + field, rust_markers[marker][field], v)
    return worst


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp/statsbench"
    df = pd.read_csv(f"{folder}/marks.csv", dtype={"script_id": str, "marker_id": str})
    with open(f"{folder}/report.json") as f:
        report = json.load(f)
    pg.options["round"] = None
    pg.options["round.column.CI95"] = None
    start = time.perf_counter()
    df["script"], _ = pd.factorize(df.script_id)
    df["marker"], names = pd.factorize(df.marker_id)
    py = {"icc": icc(df), "alpha": alphas(df), "fleiss": fleiss(df), "pairs": pairs(df, names)}
    fit = additive(df)
    py["pooled"], py["df_resid"] = fit["pooled"], fit["df_resid"]
    py["markers"] = markers(df, fit, names)
    total = time.perf_counter() - start
    print(f"reference Python stack: {len(df)} marks, {df.marker.nunique()} markers, {df.script.nunique()} scripts")
    for name, t in TIMES.items():
        print(f"  {name:42s} {t:9.2f} s")
    print(f"  {'total':42s} {total:9.2f} s")
    print("largest difference from markroom's report (relative; absolute below 1e-12):")
    for group, dev in compare(report, py).items():
        print(f"  {group:42s} {dev:9.1e}")


if __name__ == "__main__":
    main()
