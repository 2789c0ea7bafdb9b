//! `markroom simulate` against a served demo: it marks through the API, and what it reports
//! is what the database holds.

use std::process::Command;

use serde_json::Value;

use crate::helpers::TestApp;

#[tokio::test]
async fn simulate_marks_the_demo_through_the_api_and_reports_what_the_database_holds() {
    let app = TestApp::spawn().await;
    let file = crate::pages::demo(&app);
    let accounts = app.settings.data_dir.join("demo.json");
    let output = app.settings.data_dir.join("report.json");
    let (base, out_path) = (app.base.clone(), output.clone());
    let run = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_markroom"))
            .args(["simulate", "--server", &base, "--accounts"])
            .arg(&accounts)
            .args(["--markers", "12", "--duration", "4", "--image-seconds", "1", "--output"])
            .arg(&out_path)
            .env_remove("MARKROOM_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let report: Value = serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    assert_eq!(report["errors_total"], 0, "{report}");
    let cycles = report["cycles"].as_u64().unwrap();
    assert!(cycles > 0, "{report}");
    for key in [
        "cycles_per_second",
        "images_per_second",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "p999_ms",
    ] {
        assert!(report[key].is_number(), "{key}: {report}");
    }
    assert!(report["endpoints"]["lease"]["count"].as_u64().unwrap() >= cycles);
    assert_eq!(
        report["endpoints"]["score"]["count"].as_u64(),
        Some(cycles),
        "every score answered 200"
    );
    assert_eq!(
        report["detection"]["planted"].as_array().unwrap().len(),
        4,
        "two severe, two lenient"
    );

    // What the report says the statistics saw of each planted marker is what the database
    // holds: their co-marked scripts on each question they marked.
    let detection = &report["detection"];
    assert_eq!(detection["min_co_marked"], 20, "{detection}");
    let mut co_marked_any = 0;
    for p in detection["planted"].as_array().unwrap() {
        let who = p["username"].as_str().unwrap();
        let reported: std::collections::BTreeMap<String, i64> = p["statistics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                (
                    q["question"].as_str().unwrap().to_string(),
                    q["co_marked"].as_i64().unwrap(),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        assert_eq!(reported, app.co_marked("DEMO", who), "{who}: {p}");
        co_marked_any += reported.len();
    }
    assert!(co_marked_any > 0, "some planted marker shared a script: {detection}");
    let marking = detection["markers_marking"].as_u64().unwrap();
    assert!((1..=12).contains(&marking), "{detection}");
    // The demo has too few scripts a question for any marker to share twenty with others.
    assert_eq!(detection["markers_judged"], 0, "{detection}");

    // Every cycle the simulator counted is one stored mark (live, seed or self-check).
    let live = app.mark_facts(file["exam"].as_str().unwrap()).0;
    let (seeds, checks) = app.seed_and_self_check_counts("DEMO");
    assert_eq!((live + seeds + checks) as u64, cycles, "{report}");

    // Twelve markers take the begun scripts first, so marks of one script often land at once:
    // each script whose tasks are all done was settled (resolved or disputed).
    let (finished, unsettled) = app.finished_scripts("DEMO");
    assert!(finished > 0, "{report}");
    assert_eq!(unsettled, 0, "{finished} scripts finished: {report}");
    app.assert_database_whole();
}
