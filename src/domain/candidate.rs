//! Candidates as the custodians register them: identity (admission number, name) that goes into
//! the sealed vault, and the school code that allocation needs in clear.

use serde::Deserialize;

use super::RuleError;
use super::exam::check_code;

/// One row of a candidate list, as given (JSON object or CSV record).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidateInput {
    #[schema(pattern = "^[ ]*[A-Za-z0-9]{4,32}[ ]*$")]
    pub admission_number: String,
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub name: String,
    #[schema(pattern = "^[ ]*[A-Za-z0-9_-]{1,32}[ ]*$")]
    pub school_code: String,
    #[serde(default)]
    #[schema(max_length = 100, pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$")]
    pub district: Option<String>,
}

/// A checked candidate, its admission number in the one form that is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub admission_number: String,
    pub name: String,
    pub school_code: String,
    pub district: Option<String>,
}

/// The admission number as compared and looked up: trimmed, upper case; 4 to 32 letters and
/// digits.
pub fn normalise_admission_number(raw: &str) -> Result<String, RuleError> {
    let n = raw.trim().to_ascii_uppercase();
    if (4..=32).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(n)
    } else {
        Err(RuleError::invalid(
            "invalid_admission_number",
            "admission_number",
            "an admission number is 4 to 32 letters and digits",
        ))
    }
}

fn check_text(field: &str, raw: &str, max: usize) -> Result<String, RuleError> {
    let text = super::text::tidy(raw);
    if text.is_empty() || !super::text::is_plain(raw, max) {
        return Err(RuleError::invalid(
            "invalid_candidate",
            field,
            format!("{field} is 1 to {max} characters"),
        ));
    }
    Ok(text)
}

/// Checks one row; `at` names where it came from in the problem's field (`rows[3]` for JSON,
/// `line 7` for CSV), so a bad row is found at once.
pub fn check_candidate(at: &str, c: &CandidateInput) -> Result<Candidate, RuleError> {
    let locate = |e: RuleError| match e {
        RuleError::Invalid { code, field, detail } => RuleError::Invalid {
            code,
            field: Some(format!("{at}.{}", field.unwrap_or_default())),
            detail: format!("{at}: {detail}"),
        },
        other => other,
    };
    let admission_number = normalise_admission_number(&c.admission_number).map_err(locate)?;
    let name = check_text("name", &c.name, 100).map_err(locate)?;
    check_code("school_code", c.school_code.trim()).map_err(locate)?;
    let district = match c.district.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => Some(check_text("district", d, 100).map_err(locate)?),
        None => None,
    };
    Ok(Candidate {
        admission_number,
        name,
        school_code: c.school_code.trim().to_string(),
        district,
    })
}

/// Checks a whole list: the first bad row refuses all of it, and an admission number given
/// twice in one list is refused too (which of the two would stand?).
pub fn check_list(rows: &[(String, CandidateInput)]) -> Result<Vec<Candidate>, RuleError> {
    let mut out: Vec<Candidate> = Vec::with_capacity(rows.len());
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    for (at, row) in rows {
        let c = check_candidate(at, row)?;
        if !seen.insert(c.admission_number.clone()) {
            return Err(RuleError::invalid(
                "duplicate_candidate",
                format!("{at}.admission_number"),
                format!("{at}: admission number {} is listed twice", c.admission_number),
            ));
        }
        out.push(c);
    }
    if out.is_empty() {
        return Err(RuleError::invalid(
            "empty_list",
            "candidates",
            "the list holds no candidate",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(n: &str, name: &str, school: &str) -> CandidateInput {
        CandidateInput {
            admission_number: n.into(),
            name: name.into(),
            school_code: school.into(),
            district: None,
        }
    }

    #[test]
    fn a_bad_row_is_named_by_where_it_came_from() {
        let rows = vec![
            ("line 2".to_string(), row("2026001", "Li Wei", "S01")),
            ("line 3".to_string(), row("2026002", "", "S01")),
        ];
        let e = check_list(&rows).unwrap_err();
        assert!(
            matches!(&e, RuleError::Invalid { field: Some(f), .. } if f == "line 3.name"),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("line 3:"));
    }

    #[test]
    fn admission_numbers_are_compared_in_one_form() {
        assert_eq!(normalise_admission_number(" 2026ab01 ").unwrap(), "2026AB01");
        assert!(normalise_admission_number("20-26").is_err());
        let rows = vec![
            ("rows[0]".to_string(), row("2026ab01", "A", "S01")),
            ("rows[1]".to_string(), row("2026AB01", "B", "S02")),
        ];
        assert_eq!(check_list(&rows).unwrap_err().code(), "duplicate_candidate");
        assert_eq!(check_list(&[]).unwrap_err().code(), "empty_list");
    }

    proptest! {
        #[test]
        fn accepted_numbers_are_upper_alphanumeric(raw in "[ a-zA-Z0-9-]{0,40}") {
            if let Ok(n) = normalise_admission_number(&raw) {
                prop_assert!(n.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
                prop_assert!((4..=32).contains(&n.len()));
            }
        }
    }
}
