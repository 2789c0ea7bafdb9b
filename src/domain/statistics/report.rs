//! The JSON report of `markroom stats` (and of the statistics endpoints): every figure a
//! number or null, and each null's reason in `notes`, so no NaN ever reaches JSON.

use std::collections::HashMap;

use serde::Serialize;

use super::additive::Fit;
use super::agreement::Pair;
use super::design::Design;
use super::flags::Flag;
use super::icc::{FormResult, Icc};
use super::krippendorff;
use super::marker::MarkerFigures;
use super::{Figure, Missing};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub n_marks: usize,
    pub n_scripts: usize,
    pub n_markers: usize,
    pub icc: IccReport,
    pub krippendorff_alpha: Alphas,
    pub fleiss_kappa: Option<f64>,
    pub pairs: Vec<PairReport>,
    pub markers: Vec<MarkerReport>,
    pub additive_model: AdditiveSummary,
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IccReport {
    #[serde(rename = "ICC1")]
    pub icc1: Option<IccForm>,
    #[serde(rename = "ICC2")]
    pub icc2: Option<IccForm>,
    #[serde(rename = "ICC3")]
    pub icc3: Option<IccForm>,
    #[serde(rename = "ICC1k")]
    pub icc1k: Option<IccForm>,
    #[serde(rename = "ICC2k")]
    pub icc2k: Option<IccForm>,
    #[serde(rename = "ICC3k")]
    pub icc3k: Option<IccForm>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IccForm {
    pub value: f64,
    #[serde(rename = "F")]
    pub f: f64,
    pub df1: f64,
    pub df2: f64,
    pub p: f64,
    pub ci95: Option<[f64; 2]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Alphas {
    pub interval: Option<f64>,
    pub ordinal: Option<f64>,
    pub nominal: Option<f64>,
}

/// One marker pair; agreement as fractions of the shared scripts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairReport {
    pub a: String,
    pub b: String,
    pub n: usize,
    pub exact: f64,
    pub adjacent: f64,
    pub pearson: Option<f64>,
    pub spearman: Option<f64>,
    pub kappa: Option<f64>,
    pub kappa_linear: Option<f64>,
    pub kappa_quadratic: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarkerReport {
    pub marker_id: String,
    pub n: usize,
    /// Of the `n`, those on scripts someone else marked too: the statistical triggers judge a
    /// marker only once this reaches `min_co_marked`.
    pub co_marked: usize,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
    /// Each score given and how often, in score order.
    pub distribution: Vec<(f64, usize)>,
    pub severity: Option<f64>,
    pub severity_se: Option<f64>,
    pub t: Option<f64>,
    pub p: Option<f64>,
    pub p_holm: Option<f64>,
    pub residual_ss: Option<f64>,
    pub residual_df: Option<f64>,
    pub residual_sd: Option<f64>,
    pub residual_sd_ratio: Option<f64>,
    pub chi2_statistic: Option<f64>,
    pub chi2_df: Option<f64>,
    pub chi2_p_upper: Option<f64>,
    pub chi2_p_lower: Option<f64>,
    pub paired_sd_ratio: Option<f64>,
    pub pitman_morgan_r: Option<f64>,
    pub pitman_morgan_t: Option<f64>,
    pub pitman_morgan_p: Option<f64>,
    pub trend_slope: Option<f64>,
    pub trend_slope_se: Option<f64>,
    pub trend_p: Option<f64>,
    pub cusum_max: Option<f64>,
    pub cusum_min: Option<f64>,
    pub flags: Vec<Flag>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AdditiveSummary {
    pub n_marks_used: usize,
    pub n_scripts_used: usize,
    pub df_resid: Option<f64>,
    pub pooled_residual_sd: Option<f64>,
}

/// Why figures are null: the `fields` of `scope` (a marker, `pairs`, `icc`, …); for pairs, one
/// note per field and reason, with how many pairs it concerns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub scope: String,
    pub fields: Vec<&'static str>,
    pub reason: &'static str,
    pub count: usize,
}

/// Collects the reasons while figures are turned into numbers or nulls.
#[derive(Default)]
struct Notes {
    notes: Vec<Note>,
    index: HashMap<(String, &'static str, &'static str), usize>,
}

impl Notes {
    /// Notes the reason for `field`; a `counted` note is kept per field and counts how often
    /// its reason occurred, the others list every field of the scope with that reason.
    fn add(&mut self, scope: &str, field: &'static str, why: Missing, counted: bool) {
        let key = (scope.to_string(), why.0, if counted { field } else { "" });
        let i = *self.index.entry(key).or_insert_with(|| {
            self.notes.push(Note {
                scope: scope.to_string(),
                fields: Vec::new(),
                reason: why.0,
                count: 0,
            });
            self.notes.len() - 1
        });
        let note = &mut self.notes[i];
        if !note.fields.contains(&field) {
            note.fields.push(field);
        }
        note.count = if counted { note.count + 1 } else { 1 };
    }

    /// The figure if finite; otherwise null, with the reason noted.
    fn take(&mut self, scope: &str, field: &'static str, fig: Figure) -> Option<f64> {
        match fig {
            Ok(v) if v.is_finite() => Some(v),
            Ok(_) => {
                self.add(scope, field, Missing("not a finite number"), false);
                None
            }
            Err(why) => {
                self.add(scope, field, why, false);
                None
            }
        }
    }
}

pub(crate) struct Parts<'a> {
    pub design: &'a Design,
    pub marker_ids: &'a [String],
    pub fit: &'a Fit,
    pub markers: &'a [MarkerFigures],
    pub flags: &'a [Vec<Flag>],
    pub pairs: &'a [Pair],
    pub icc: &'a Icc,
    pub alphas: &'a krippendorff::Alphas,
    pub fleiss: Figure,
}

pub(crate) fn assemble(p: Parts<'_>) -> Report {
    let mut notes = Notes::default();
    let name = |m: u32| p.marker_ids.get(m as usize).cloned().unwrap_or_else(|| m.to_string());
    if p.design.duplicates > 0 {
        notes.add(
            "input",
            "marks",
            Missing("repeated marks of a script by the same marker: the first counted"),
            false,
        );
    }
    if p.design.unusable > 0 {
        notes.add(
            "input",
            "marks",
            Missing("marks without a finite score left out"),
            false,
        );
    }
    let icc = icc_report(p.icc, &mut notes);
    let krippendorff_alpha = Alphas {
        interval: notes.take("krippendorff_alpha", "interval", p.alphas.interval),
        ordinal: notes.take("krippendorff_alpha", "ordinal", p.alphas.ordinal),
        nominal: notes.take("krippendorff_alpha", "nominal", p.alphas.nominal),
    };
    let fleiss_kappa = notes.take("fleiss_kappa", "fleiss_kappa", p.fleiss);
    let pairs = p.pairs.iter().map(|q| pair_report(q, &name, &mut notes)).collect();
    let markers = p
        .markers
        .iter()
        .zip(p.flags)
        .map(|(f, flags)| marker_report(f, flags, &name(f.marker), &mut notes))
        .collect();
    let additive_model = additive_summary(p.fit, &mut notes);
    Report {
        n_marks: p.design.n_marks(),
        n_scripts: p.design.n_scripts(),
        n_markers: p.design.n_markers(),
        icc,
        krippendorff_alpha,
        fleiss_kappa,
        pairs,
        markers,
        additive_model,
        notes: notes.notes,
    }
}

fn icc_report(icc: &Icc, notes: &mut Notes) -> IccReport {
    const NAMES: [&str; 6] = ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"];
    let mut form = |i: usize, r: &FormResult| match r {
        Ok(f) => {
            let ci95 = match f.ci95 {
                Ok(ci) => Some(ci),
                Err(why) => {
                    notes.add("icc", NAMES[i], why, false);
                    None
                }
            };
            Some(IccForm {
                value: f.value,
                f: f.f,
                df1: f.df1,
                df2: f.df2,
                p: f.p,
                ci95,
            })
        }
        Err(why) => {
            notes.add("icc", NAMES[i], *why, false);
            None
        }
    };
    let f = &icc.forms;
    IccReport {
        icc1: form(0, &f[0]),
        icc2: form(1, &f[1]),
        icc3: form(2, &f[2]),
        icc1k: form(3, &f[3]),
        icc2k: form(4, &f[4]),
        icc3k: form(5, &f[5]),
    }
}

fn pair_report(q: &Pair, name: &dyn Fn(u32) -> String, notes: &mut Notes) -> PairReport {
    // All pairs share one scope, each null counted, so that thousands of pairs make few notes.
    let mut take = |field: &'static str, fig: Figure| match fig {
        Ok(v) if v.is_finite() => Some(v),
        Ok(_) => {
            notes.add("pairs", field, Missing("not a finite number"), true);
            None
        }
        Err(why) => {
            notes.add("pairs", field, why, true);
            None
        }
    };
    PairReport {
        a: name(q.a),
        b: name(q.b),
        n: q.n,
        exact: q.exact,
        adjacent: q.adjacent,
        pearson: take("pearson", q.pearson),
        spearman: take("spearman", q.spearman),
        kappa: take("kappa", q.kappa),
        kappa_linear: take("kappa_linear", q.kappa_linear),
        kappa_quadratic: take("kappa_quadratic", q.kappa_quadratic),
    }
}

fn marker_report(f: &MarkerFigures, flags: &[Flag], id: &str, notes: &mut Notes) -> MarkerReport {
    let scope = format!("markers[{id}]");
    let mut take = |field: &'static str, fig: Figure| notes.take(&scope, field, fig);
    let model = f.model.as_ref().map_err(|e| *e);
    let m = |get: fn(&super::marker::ModelFigures) -> Figure| model.and_then(get);
    let paired = f.paired.as_ref().map_err(|e| *e);
    let trend = f.trend.as_ref().map_err(|e| *e);
    MarkerReport {
        marker_id: id.to_string(),
        n: f.n,
        co_marked: f.co_marked,
        mean: take("mean", f.mean),
        sd: take("sd", f.sd),
        distribution: f.distribution.clone(),
        severity: take("severity", m(|x| Ok(x.severity))),
        severity_se: take("severity_se", m(|x| x.severity_se)),
        t: take("t", m(|x| x.t)),
        p: take("p", m(|x| x.p)),
        p_holm: take("p_holm", f.p_holm),
        residual_ss: take("residual_ss", m(|x| Ok(x.residual_ss))),
        residual_df: take("residual_df", m(|x| x.residual_df)),
        residual_sd: take("residual_sd", m(|x| x.residual_sd)),
        residual_sd_ratio: take("residual_sd_ratio", m(|x| x.residual_sd_ratio)),
        chi2_statistic: take("chi2_statistic", m(|x| x.chi2_statistic)),
        chi2_df: take("chi2_df", m(|x| x.residual_df)),
        chi2_p_upper: take("chi2_p_upper", m(|x| x.chi2_p_upper)),
        chi2_p_lower: take("chi2_p_lower", m(|x| x.chi2_p_lower)),
        paired_sd_ratio: take("paired_sd_ratio", paired.and_then(|x| x.sd_ratio)),
        pitman_morgan_r: take("pitman_morgan_r", paired.and_then(|x| x.r)),
        pitman_morgan_t: take("pitman_morgan_t", paired.and_then(|x| x.t)),
        pitman_morgan_p: take("pitman_morgan_p", paired.and_then(|x| x.p)),
        trend_slope: take("trend_slope", trend.map(|x| x.slope)),
        trend_slope_se: take("trend_slope_se", trend.map(|x| x.slope_se)),
        trend_p: take("trend_p", trend.map(|x| x.p)),
        cusum_max: take("cusum_max", m(|x| x.cusum_max)),
        cusum_min: take("cusum_min", m(|x| x.cusum_min)),
        flags: flags.to_vec(),
    }
}

fn additive_summary(fit: &Fit, notes: &mut Notes) -> AdditiveSummary {
    match fit {
        Ok(model) => {
            if model.unlinked_markers > 0 {
                notes.add(
                    "additive_model",
                    "markers",
                    Missing("markers sharing no scripts with the main group are left out of the model"),
                    false,
                );
            }
            AdditiveSummary {
                n_marks_used: model.n_marks,
                n_scripts_used: model.n_scripts,
                df_resid: notes.take("additive_model", "df_resid", Ok(model.df_resid)),
                pooled_residual_sd: notes.take("additive_model", "pooled_residual_sd", model.pooled_sd),
            }
        }
        Err(why) => {
            notes.add("additive_model", "pooled_residual_sd", *why, false);
            AdditiveSummary {
                n_marks_used: 0,
                n_scripts_used: 0,
                df_resid: None,
                pooled_residual_sd: None,
            }
        }
    }
}
