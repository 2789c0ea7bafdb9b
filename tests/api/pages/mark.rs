//! The marking workstation in a browser: three marks by keyboard (one sent again after the
//! network failed), a flag, the room closing; stored once each, annotations with them.

use serde_json::{Value, json};

use super::{browser, demo};
use crate::helpers::TestApp;

#[tokio::test]
async fn a_marker_marks_three_scripts_by_keyboard_flags_one_and_sees_the_room_close() {
    let app = TestApp::spawn().await;
    let file = demo(&app);
    let marker = file["accounts"]["markers"][0].clone();
    let fixture = json!({
        "exam": file["exam"],
        "marker": marker,
        "chief": file["accounts"]["chief_leaders"][0],
    });
    let out = browser(&app, "mark", fixture).await;
    let report: Value = serde_json::from_str(out.lines().rev().nth(1).expect("the scenario's report")).unwrap();
    let marked: Vec<String> = serde_json::from_value(report["marked"].clone()).unwrap();
    let flagged = report["flagged"].as_str().unwrap();
    assert_eq!(marked.len(), 3);

    let username = marker["username"].as_str().unwrap();
    let serves = app.serves_of_user(username);
    let state_of = |code: &str| -> Vec<String> {
        serves.iter().filter(|(c, _)| c == code).map(|(_, s)| s.clone()).collect()
    };
    for code in &marked {
        assert_eq!(state_of(code), vec!["scored".to_string()], "{code}: one lease, one mark");
    }
    assert_eq!(state_of(flagged), vec!["flagged".to_string()]);
    let scored = serves.iter().filter(|(_, s)| s == "scored").count();
    assert_eq!(scored, 3, "nothing else was marked, nothing twice: {serves:?}");
    // The lease held when the room closed ended with it, unmarked.
    assert!(serves.iter().all(|(_, s)| s != "leased"), "{serves:?}");

    // Live marks keep their annotations (seeds and self-checks are scored against a key and
    // store only the score).
    for (code, annotations) in app.annotations_of_user(username) {
        let a: Value = serde_json::from_str(&annotations).unwrap();
        if code == marked[0] {
            assert_eq!(a[0]["kind"], "tick", "{a}");
        }
        if code == marked[1] {
            assert_eq!(a[0]["kind"], "comment", "{a}");
            assert_eq!(a[0]["text"], "good argument", "{a}");
        }
    }
}
