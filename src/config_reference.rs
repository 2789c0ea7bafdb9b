//! The README's table of every setting, checked against `Settings`: each key is there once,
//! with its environment variable and its default, and says what it does. A setting added,
//! renamed or given another default fails this test until the README says so.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::Settings;

/// Every leaf of the settings with its default as the README writes it (`unset` for none).
fn leaves(v: &Value, at: &str, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
                leaves(v, &key, out);
            }
        }
        Value::Null => {
            out.insert(at.to_string(), "unset".into());
        }
        Value::String(s) => {
            out.insert(at.to_string(), s.clone());
        }
        other => {
            out.insert(at.to_string(), other.to_string());
        }
    }
}

/// `section.key` → `MARKROOM_SECTION__KEY`, as `Settings::load_from` reads the environment.
fn env_var(key: &str) -> String {
    format!("MARKROOM_{}", key.replace('.', "__").to_uppercase())
}

/// The cells between backticks of a table row, and its last cell.
fn row(line: &str) -> Option<(Vec<String>, String)> {
    let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
    if cells.len() != 4 {
        return None;
    }
    let code = |c: &str| c.split('`').nth(1).map(str::to_string);
    Some((
        vec![code(cells[0])?, code(cells[1])?, code(cells[2])?],
        cells[3].to_string(),
    ))
}

#[test]
fn the_readme_lists_every_setting_with_its_variable_and_default() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split("### Every setting")
        .nth(1)
        .expect("README has a section \"### Every setting\"");
    let table = table.split("\n#").next().unwrap_or_default();
    let mut expected = BTreeMap::new();
    leaves(&serde_json::to_value(Settings::default()).unwrap(), "", &mut expected);
    let mut listed = BTreeMap::new();
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let (cells, what) = row(line).unwrap_or_else(|| panic!("not a row of four cells: {line}"));
        let (key, var, default) = (&cells[0], &cells[1], &cells[2]);
        assert!(what.len() > 10, "{key}: say what it does");
        assert_eq!(var, &env_var(key), "{key}: its environment variable");
        assert!(
            listed.insert(key.clone(), default.clone()).is_none(),
            "{key} is listed twice"
        );
    }
    let missing: Vec<String> = expected
        .iter()
        .filter(|(k, _)| !listed.contains_key(*k))
        .map(|(k, v)| format!("| `{k}` | `{}` | `{v}` | … |", env_var(k)))
        .collect();
    assert!(missing.is_empty(), "the README lacks:\n{}", missing.join("\n"));
    for (key, default) in &listed {
        let real = expected.get(key).unwrap_or_else(|| panic!("{key} is no setting"));
        assert_eq!(default, real, "{key}: its default");
    }
}
