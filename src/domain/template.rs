//! The answer-sheet template: where each page's anchor is, which regions hide identity, and where
//! each question's answer lies. All positions are fractions of the page, so the template does not
//! depend on the scan resolution. The types derive an OpenAPI schema because clients send them
//! verbatim; the derive is a description, not behaviour.

use serde::{Deserialize, Serialize};

use super::RuleError;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Zero-based page index, below the sheet's page count (a rule across fields).
    #[schema(maximum = 63)]
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub page: u32,
    /// Fractions of the page; the region ends inside it (x + width ≤ 1, y + height ≤ 1).
    #[schema(minimum = 0, maximum = 1)]
    pub x: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub y: f64,
    #[schema(exclusive_minimum = 0, maximum = 1)]
    pub width: f64,
    #[schema(exclusive_minimum = 0, maximum = 1)]
    pub height: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MaskKind {
    Name,
    AdmissionNumber,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaskRegion {
    pub kind: MaskKind,
    pub region: Region,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionRegion {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub question: String,
    pub region: Region,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SheetTemplate {
    #[schema(minimum = 1, maximum = 64)]
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub pages: u32,
    /// One anchor per page, in page order; its position decides whether a scanned page is
    /// upside down.
    #[schema(min_items = 1, max_items = 64)]
    pub anchors: Vec<Region>,
    pub masks: Vec<MaskRegion>,
    pub questions: Vec<QuestionRegion>,
}

const MAX_PAGES: u32 = 64;

fn check_region(field: &str, r: &Region, pages: u32) -> Result<(), RuleError> {
    let bad = |detail: String| Err(RuleError::invalid("invalid_template", field, detail));
    if r.page >= pages {
        return bad(format!("page {} does not exist on a {pages}-page sheet", r.page));
    }
    let finite = [r.x, r.y, r.width, r.height].iter().all(|v| v.is_finite());
    if !finite || r.x < 0.0 || r.y < 0.0 || r.width <= 0.0 || r.height <= 0.0 {
        return bad("a region has a non-negative position and a positive size, as page fractions".into());
    }
    if r.x + r.width > 1.0 + 1e-9 || r.y + r.height > 1.0 + 1e-9 {
        return bad("the region reaches outside the page".into());
    }
    Ok(())
}

/// Checks a template against the exam's question codes: every region on the sheet, one anchor
/// per page, at least the name and admission-number masks, each question placed exactly once.
pub fn validate_template(t: &SheetTemplate, question_codes: &[String]) -> Result<(), RuleError> {
    if t.pages == 0 || t.pages > MAX_PAGES {
        return Err(RuleError::invalid(
            "invalid_template",
            "pages",
            format!("a sheet has 1 to {MAX_PAGES} pages"),
        ));
    }
    if t.anchors.len() != t.pages as usize {
        return Err(RuleError::invalid(
            "invalid_template",
            "anchors",
            "give exactly one anchor per page",
        ));
    }
    for (i, a) in t.anchors.iter().enumerate() {
        check_region(&format!("anchors[{i}]"), a, t.pages)?;
        if a.page as usize != i {
            return Err(RuleError::invalid(
                "invalid_template",
                format!("anchors[{i}].page"),
                "anchors are listed in page order",
            ));
        }
    }
    for (i, m) in t.masks.iter().enumerate() {
        check_region(&format!("masks[{i}]"), &m.region, t.pages)?;
    }
    for needed in [MaskKind::Name, MaskKind::AdmissionNumber] {
        if !t.masks.iter().any(|m| m.kind == needed) {
            return Err(RuleError::invalid(
                "invalid_template",
                "masks",
                "the template must mask both the name and the admission number",
            ));
        }
    }
    for (i, q) in t.questions.iter().enumerate() {
        let field = format!("questions[{i}]");
        check_region(&field, &q.region, t.pages)?;
        if !question_codes.contains(&q.question) {
            return Err(RuleError::invalid(
                "invalid_template",
                format!("{field}.question"),
                format!("the exam has no question {}", q.question),
            ));
        }
        if t.questions[..i].iter().any(|o| o.question == q.question) {
            return Err(RuleError::invalid(
                "invalid_template",
                format!("{field}.question"),
                format!("question {} is placed twice", q.question),
            ));
        }
    }
    Ok(())
}

/// Before a batch opens, every question of the exam must have its region on the sheet, or its
/// answers could not be cut out: the problem names the questions left unplaced.
pub fn template_complete(t: &SheetTemplate, question_codes: &[String]) -> Result<(), RuleError> {
    let unplaced: Vec<&str> = question_codes
        .iter()
        .filter(|c| !t.questions.iter().any(|q| &q.question == *c))
        .map(String::as_str)
        .collect();
    if unplaced.is_empty() {
        return Ok(());
    }
    Err(RuleError::invalid(
        "template_incomplete",
        "questions",
        format!("the template places no region for question(s) {}", unplaced.join(", ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn region(page: u32, x: f64, y: f64, w: f64, h: f64) -> Region {
        Region {
            page,
            x,
            y,
            width: w,
            height: h,
        }
    }

    fn template() -> SheetTemplate {
        SheetTemplate {
            pages: 2,
            anchors: vec![region(0, 0.0, 0.0, 0.05, 0.05), region(1, 0.0, 0.0, 0.05, 0.05)],
            masks: vec![
                MaskRegion {
                    kind: MaskKind::Name,
                    region: region(0, 0.1, 0.0, 0.3, 0.05),
                },
                MaskRegion {
                    kind: MaskKind::AdmissionNumber,
                    region: region(0, 0.5, 0.0, 0.3, 0.05),
                },
            ],
            questions: vec![QuestionRegion {
                question: "W1".into(),
                region: region(1, 0.0, 0.1, 1.0, 0.9),
            }],
        }
    }

    #[test]
    fn a_sound_template_passes() {
        assert!(validate_template(&template(), &["W1".into()]).is_ok());
    }

    #[test]
    fn regions_must_lie_inside_the_page() {
        let mut t = template();
        t.questions[0].region.width = 1.2;
        assert!(validate_template(&t, &["W1".into()]).is_err());
        let mut t = template();
        t.masks[0].region.page = 5;
        assert!(validate_template(&t, &["W1".into()]).is_err());
    }

    #[test]
    fn identity_must_be_masked_and_questions_known() {
        let mut t = template();
        t.masks.pop();
        assert!(validate_template(&t, &["W1".into()]).is_err());
        assert!(validate_template(&template(), &["W2".into()]).is_err());
    }

    #[test]
    fn a_complete_template_places_every_question() {
        assert!(template_complete(&template(), &["W1".into()]).is_ok());
        let e = template_complete(&template(), &["W1".into(), "S2".into(), "S3".into()]).unwrap_err();
        assert_eq!(e.code(), "template_incomplete");
        assert!(e.to_string().contains("S2, S3"), "{e}");
    }

    #[test]
    fn a_question_placed_twice_or_a_negative_region_is_refused() {
        let mut t = template();
        t.questions.push(t.questions[0].clone());
        assert!(
            validate_template(&t, &["W1".into()])
                .unwrap_err()
                .to_string()
                .contains("placed twice")
        );
        let mut t = template();
        t.masks[0].region.height = -0.1;
        assert_eq!(
            validate_template(&t, &["W1".into()]).unwrap_err().code(),
            "invalid_template"
        );
    }

    proptest! {
        /// Complete exactly when every code is placed.
        #[test]
        fn completeness_is_every_code_placed(extra in proptest::collection::vec("[A-Z][0-9]", 0..4)) {
            let mut codes = vec!["W1".to_string()];
            codes.extend(extra.iter().cloned());
            let complete = codes.iter().all(|c| c == "W1");
            prop_assert_eq!(template_complete(&template(), &codes).is_ok(), complete);
        }

        #[test]
        fn accepted_regions_lie_within_the_unit_square(x in -0.5f64..1.5, y in -0.5f64..1.5, w in -0.1f64..1.2, h in -0.1f64..1.2) {
            let r = region(0, x, y, w, h);
            if check_region("r", &r, 1).is_ok() {
                prop_assert!(x >= 0.0 && y >= 0.0 && w > 0.0 && h > 0.0);
                prop_assert!(x + w <= 1.0 + 1e-9 && y + h <= 1.0 + 1e-9);
            }
        }
    }
}
