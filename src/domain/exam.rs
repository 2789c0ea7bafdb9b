//! An exam: its code, its time zone and its marking window.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::RuleError;

/// Codes appear in paths and file names, so they are short and plain.
pub fn check_code(field: &str, code: &str) -> Result<(), RuleError> {
    let ok = !code.is_empty()
        && code.len() <= 32
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(RuleError::invalid(
            "invalid_code",
            field,
            "a code is 1 to 32 letters, digits, '-' or '_'",
        ))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExamDraft {
    pub code: String,
    pub name: String,
    pub time_zone: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
}

/// The marking window: staff work only inside it, and only from registered workstations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkingWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl MarkingWindow {
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        self.start <= now && now < self.end
    }
}

/// A locked exam's questions, template, marks and finals do not change; only an approved
/// `unlock` (two chief leaders) opens it again.
pub fn check_unlocked(locked: bool) -> Result<(), RuleError> {
    if locked {
        Err(RuleError::conflict(
            "exam_locked",
            "the exam is locked; unlocking takes two chief leaders",
        ))
    } else {
        Ok(())
    }
}

pub fn validate_exam(d: &ExamDraft) -> Result<Tz, RuleError> {
    check_code("code", &d.code)?;
    let name = d.name.trim();
    // No control character (a NUL is not even storable in PostgreSQL's text).
    if name.is_empty() || name.chars().count() > 200 || !super::text::is_plain(name, 200) {
        return Err(RuleError::invalid(
            "invalid_exam",
            "name",
            "the name is 1 to 200 characters",
        ));
    }
    let tz: Tz = d.time_zone.parse().map_err(|_| {
        RuleError::invalid(
            "invalid_exam",
            "time_zone",
            format!("{} is not an IANA time zone", d.time_zone),
        )
    })?;
    if d.window_end <= d.window_start {
        return Err(RuleError::invalid(
            "invalid_exam",
            "window_end",
            "the marking window must end after it starts",
        ));
    }
    if d.window_end - d.window_start > chrono::Duration::days(366) {
        return Err(RuleError::invalid(
            "invalid_exam",
            "window_end",
            "a marking window lasts at most a year",
        ));
    }
    Ok(tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> ExamDraft {
        ExamDraft {
            code: "GK2026".into(),
            name: "County exam 2026".into(),
            time_zone: "Asia/Shanghai".into(),
            window_start: "2026-06-10T00:00:00Z".parse().unwrap(),
            window_end: "2026-06-20T00:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn codes_are_plain() {
        assert!(check_code("code", "GK-2026_a").is_ok());
        assert!(check_code("code", "").is_err());
        assert!(check_code("code", "a/b").is_err());
        assert!(check_code("code", &"x".repeat(33)).is_err());
    }

    #[test]
    fn exams_need_a_real_zone_and_an_ordered_window() {
        assert!(validate_exam(&draft()).is_ok());
        let mut d = draft();
        d.time_zone = "Mars/Olympus".into();
        assert!(validate_exam(&d).is_err());
        let mut d = draft();
        d.window_end = d.window_start;
        assert!(validate_exam(&d).is_err());
    }

    #[test]
    fn a_locked_exam_refuses_change() {
        assert_eq!(check_unlocked(true).unwrap_err().code(), "exam_locked");
        assert!(check_unlocked(false).is_ok());
    }

    #[test]
    fn the_window_is_half_open() {
        let d = draft();
        let w = MarkingWindow {
            start: d.window_start,
            end: d.window_end,
        };
        assert!(w.contains(d.window_start));
        assert!(!w.contains(d.window_end));
    }
}
