//! The question statistics against the values public libraries compute for the same data
//! (`tests/data/irr/reference.json`, a copy of `../shared/reference/irr`): every figure to
//! 1e-9 relative, p-values below 1e-12 to 1e-12 absolute. Then the flags of the synthetic
//! essays, whose markers' behaviour is known, and the `markroom stats` command itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use markroom::domain::statistics::{
    Flag, IccForm, Mark, Report, Scale, TriggerRules, fleiss_kappa_from_counts, question_statistics,
};
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/irr")
}

fn reference() -> Value {
    let text = std::fs::read_to_string(data_dir().join("reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("reference.json is JSON")
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("a number"),
        other => panic!("expected a number, got {other}"),
    }
}

/// 1e-9 relative; an expected value below 1e-12 (an underflowing p) to 1e-12 absolute.
fn check(what: &str, actual: Option<f64>, expected: f64) {
    let actual = actual.unwrap_or_else(|| panic!("{what}: null, expected {expected}"));
    let ok = if expected.abs() < 1e-12 {
        (actual - expected).abs() <= 1e-12
    } else {
        (actual - expected).abs() <= 1e-9 * expected.abs()
    };
    assert!(ok, "{what}: {actual} against the reference {expected}");
}

/// A reference CSV (`item_id,rater_id,score` or `script_id,marker_id,score,seq`) as marks,
/// keeping only `raters` when given; ids become indices in order of first appearance.
fn load(file: &str, raters: Option<&[&str]>) -> (Vec<Mark>, Vec<String>) {
    let mut csv = csv::Reader::from_path(data_dir().join(file)).expect("reference CSV");
    let mut scripts: HashMap<String, u32> = HashMap::new();
    let mut ids: Vec<String> = Vec::new();
    let mut marks = Vec::new();
    for row in csv.records() {
        let row = row.expect("CSV row");
        if raters.is_some_and(|keep| !keep.contains(&&row[1])) {
            continue;
        }
        let next = scripts.len() as u32;
        let script = *scripts.entry(row[0].to_string()).or_insert(next);
        let marker = match ids.iter().position(|m| m == &row[1]) {
            Some(i) => i as u32,
            None => {
                ids.push(row[1].to_string());
                (ids.len() - 1) as u32
            }
        };
        marks.push(Mark {
            script,
            marker,
            score: row[2].parse().expect("score"),
            seq: row.get(3).map(|s| s.parse().expect("seq")),
        });
    }
    (marks, ids)
}

/// The report over the question's full scale: 0 to the top of the data set's labels, step 1.
fn report(file: &str, raters: Option<&[&str]>, max: f64, tolerance: f64) -> Report {
    let (marks, ids) = load(file, raters);
    question_statistics(
        &marks,
        &ids,
        &Scale { max, step: 1.0 },
        tolerance,
        &TriggerRules::default(),
    )
}

fn check_icc(name: &str, design: &str, report: &Report, reference: &Value) {
    let icc = &report.icc;
    let forms: [(&str, &Option<IccForm>); 6] = [
        ("ICC(1,1)", &icc.icc1),
        ("ICC(2,1)", &icc.icc2),
        ("ICC(3,1)", &icc.icc3),
        ("ICC(1,k)", &icc.icc1k),
        ("ICC(2,k)", &icc.icc2k),
        ("ICC(3,k)", &icc.icc3k),
    ];
    for (label, form) in forms {
        let r = &reference[label];
        let f = form.unwrap_or_else(|| panic!("{name} {design} {label}: null"));
        let what = |field: &str| format!("{name} {design} {label} {field}");
        check(&what("icc"), Some(f.value), num(&r["icc"]));
        check(&what("F"), Some(f.f), num(&r["F"]));
        check(&what("df1"), Some(f.df1), num(&r["df1"]));
        check(&what("df2"), Some(f.df2), num(&r["df2"]));
        check(&what("p"), Some(f.p), num(&r["pval"]));
        let ci = f.ci95.unwrap_or_else(|| panic!("{} null", what("ci95")));
        check(&what("ci95 lower"), Some(ci[0]), num(&r["ci95_lower"]));
        check(&what("ci95 upper"), Some(ci[1]), num(&r["ci95_upper"]));
    }
}

fn check_pairs(name: &str, report: &Report, reference: &Value) {
    let pairs = reference.as_object().expect("pairs");
    assert_eq!(report.pairs.len(), pairs.len(), "{name}: number of pairs");
    for (key, r) in pairs {
        let (a, b) = key.split_once('|').expect("A|B");
        let p = report
            .pairs
            .iter()
            .find(|p| (p.a == a && p.b == b) || (p.a == b && p.b == a))
            .unwrap_or_else(|| panic!("{name}: no pair {key}"));
        let what = |field: &str| format!("{name} {key} {field}");
        assert_eq!(p.n as u64, r["n"].as_u64().expect("n"), "{}", what("n"));
        check(&what("exact"), Some(p.exact), num(&r["exact_agreement_pct"]) / 100.0);
        check(
            &what("adjacent"),
            Some(p.adjacent),
            num(&r["adjacent_agreement_pct_absdiff_le_1"]) / 100.0,
        );
        check(&what("pearson"), p.pearson, num(&r["pearson"]["r"]));
        check(&what("spearman"), p.spearman, num(&r["spearman"]["rho"]));
        let k = &r["cohen_kappa_contiguous_labels"];
        check(&what("kappa"), p.kappa, num(&k["unweighted"]));
        check(&what("kappa_linear"), p.kappa_linear, num(&k["linear"]));
        check(&what("kappa_quadratic"), p.kappa_quadratic, num(&k["quadratic"]));
    }
}

/// Every reliability figure of every data set, with the ICC design each reference used.
#[test]
fn reliability_figures_match_the_reference_libraries() {
    let reference = reference();
    let datasets = reference["datasets"].as_object().expect("datasets");
    assert_eq!(datasets.len(), 5);
    for (name, d) in datasets {
        let file = d["csv"].as_str().expect("csv");
        let stats = &d["stats"];
        let labels = stats["pairs"]["values"]
            .as_object()
            .expect("pairs")
            .values()
            .next()
            .expect("a pair")["cohen_kappa_contiguous_labels"]["labels"]
            .as_array()
            .expect("labels");
        let max = labels.iter().map(num).fold(0.0, f64::max);
        let full = report(file, None, max, 1.0);
        let alpha = &stats["krippendorff_alpha"];
        check(
            &format!("{name} alpha interval"),
            full.krippendorff_alpha.interval,
            num(&alpha["interval"]),
        );
        check(
            &format!("{name} alpha ordinal"),
            full.krippendorff_alpha.ordinal,
            num(&alpha["ordinal"]),
        );
        check(
            &format!("{name} alpha nominal"),
            full.krippendorff_alpha.nominal,
            num(&alpha["nominal"]),
        );
        check_pairs(name, &full, &stats["pairs"]["values"]);
        for (design, icc) in stats["icc"].as_object().expect("icc") {
            // M1_M2_all_items is what the rule gives when only M1's and M2's marks are in the input.
            let subset = (design == "M1_M2_all_items").then(|| report(file, Some(&["M1", "M2"]), max, 1.0));
            let r = subset.as_ref().unwrap_or(&full);
            check_icc(name, design, r, &icc["values"]);
            let fleiss = &stats["fleiss_kappa"][design.as_str()];
            check(
                &format!("{name} {design} fleiss"),
                r.fleiss_kappa,
                num(&fleiss["fleiss"]),
            );
        }
    }
}

#[test]
fn fleiss_kappa_of_a_count_table_matches_statsmodels() {
    let reference = reference();
    let t = &reference["count_tables"]["wikipedia_fleiss_example"];
    let table: Vec<Vec<f64>> = t["table"]
        .as_array()
        .expect("table")
        .iter()
        .map(|row| row.as_array().expect("row").iter().map(num).collect())
        .collect();
    check(
        "wikipedia fleiss",
        fleiss_kappa_from_counts(&table).ok(),
        num(&t["fleiss_kappa"]["fleiss"]),
    );
}

fn check_additive(name: &str, report: &Report, reference: &Value) {
    let a = &report.additive_model;
    assert_eq!(
        a.n_marks_used as u64,
        reference["n_marks_used"].as_u64().expect("n"),
        "{name}"
    );
    assert_eq!(
        a.n_scripts_used as u64,
        reference["n_scripts_used"].as_u64().expect("n"),
        "{name}"
    );
    check(&format!("{name} df_resid"), a.df_resid, num(&reference["df_resid"]));
    check(
        &format!("{name} pooled sd"),
        a.pooled_residual_sd,
        num(&reference["pooled_residual_sd"]),
    );
    let markers = reference["markers"].as_object().expect("markers");
    assert_eq!(report.markers.len(), markers.len(), "{name}: markers");
    for (id, r) in markers {
        let m = report
            .markers
            .iter()
            .find(|m| &m.marker_id == id)
            .expect("marker in report");
        assert_eq!(m.n as u64, r["n"].as_u64().expect("n"), "{name} {id} n");
        let json = serde_json::to_value(m).expect("marker JSON");
        let fields = r.as_object().expect("fields");
        assert_eq!(fields.len(), 23, "{name} {id}: every additive-model field is checked");
        for (field, expected) in fields.iter().filter(|(f, _)| *f != "n") {
            check(
                &format!("{name} {id} {field}"),
                json[field.as_str()].as_f64(),
                num(expected),
            );
        }
    }
}

#[test]
fn additive_model_matches_statsmodels() {
    let reference = reference();
    let models = &reference["additive_model"]["datasets"];
    let c = report("synthetic_c_essays.csv", None, 60.0, 6.0);
    check_additive("synthetic_c", &c, &models["synthetic_c_essays"]["additive_model"]);
    let b = report("synthetic_b_short_answers.csv", None, 10.0, 1.0);
    check_additive(
        "synthetic_b",
        &b,
        &models["synthetic_b_short_answers"]["additive_model"],
    );
}

#[test]
fn synthetic_essays_are_flagged_as_their_truth_says() {
    let c = report("synthetic_c_essays.csv", None, 60.0, 6.0);
    let flags = |id: &str| {
        c.markers
            .iter()
            .find(|m| m.marker_id == id)
            .expect("marker")
            .flags
            .clone()
    };
    assert_eq!(flags("K2"), vec![Flag::Severity], "K2 lenient");
    assert_eq!(flags("K5"), vec![Flag::Severity], "K5 severe");
    assert_eq!(flags("K7"), vec![Flag::Erratic], "K7 erratic");
    assert_eq!(flags("K3"), vec![Flag::CentralTendency], "K3 central tendency");
    let k8 = flags("K8");
    assert!(
        k8.contains(&Flag::Drift) && k8.iter().all(|f| matches!(f, Flag::Drift | Flag::Severity)),
        "{k8:?}"
    );
    for fair in ["K1", "K4", "K6"] {
        assert!(flags(fair).is_empty(), "{fair} is fair: {:?}", flags(fair));
    }
}

fn markroom_stats(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_markroom"))
        .arg("stats")
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("markroom runs")
}

#[test]
fn the_command_prints_the_report_as_json() {
    let input = data_dir().join("synthetic_c_essays.csv");
    let out = markroom_stats(&[
        "--input",
        input.to_str().expect("path"),
        "--max-score",
        "60",
        "--tolerance",
        "6",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("standard output is only the JSON");
    for key in [
        "n_marks",
        "n_scripts",
        "n_markers",
        "icc",
        "krippendorff_alpha",
        "fleiss_kappa",
        "pairs",
        "markers",
        "additive_model",
    ] {
        assert!(json.get(key).is_some(), "key {key}");
    }
    assert_eq!(
        (
            json["n_marks"].as_u64(),
            json["n_scripts"].as_u64(),
            json["n_markers"].as_u64()
        ),
        (Some(720), Some(240), Some(8))
    );
    for form in ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"] {
        assert!(json["icc"].get(form).is_some(), "icc {form}");
    }
    assert!(
        json["icc"]["ICC2"].is_null(),
        "no script was marked by all eight markers"
    );
    check(
        "pooled sd",
        json["additive_model"]["pooled_residual_sd"].as_f64(),
        4.2212221202135405,
    );
    let k5 = json["markers"]
        .as_array()
        .expect("markers")
        .iter()
        .find(|m| m["marker_id"] == "K5")
        .expect("K5");
    check("K5 severity", k5["severity"].as_f64(), -4.834403800012337);
    assert_eq!(k5["flags"], serde_json::json!(["severity"]));
    let pair = &json["pairs"][0];
    for key in [
        "a",
        "b",
        "n",
        "exact",
        "adjacent",
        "pearson",
        "spearman",
        "kappa",
        "kappa_linear",
        "kappa_quadratic",
    ] {
        assert!(pair.get(key).is_some(), "pair key {key}");
    }
}

#[test]
fn bad_input_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nothing.csv");
    let out = markroom_stats(&["--input", missing.to_str().expect("path")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing.csv"));
    let cases = [
        (
            "negative.csv",
            "script_id,marker_id,score\nS1,M1,4\nS1,M2,-2\n",
            "negative",
        ),
        ("ragged.csv", "script_id,marker_id,score\nS1,M1,4\nS1,M2\n", "line 3"),
        ("columns.csv", "item_id,rater_id,score\n1,A,4\n", "script_id"),
        (
            "twice.csv",
            "script_id,marker_id,score\nS1,M1,4\nS1,M1,5\n",
            "already has a mark",
        ),
        (
            "over.csv",
            "script_id,marker_id,score\nS1,M1,4\nS1,M2,12\n",
            "exceeds the maximum",
        ),
    ];
    for (file, text, says) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, text).expect("write");
        let out = markroom_stats(&["--input", path.to_str().expect("path"), "--max-score", "10"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file} accepted");
        assert!(err.contains(says), "{file}: {err}");
        assert!(!err.contains("panicked"), "{file}: {err}");
        assert!(out.stdout.is_empty(), "{file}: nothing on standard output");
    }
}
