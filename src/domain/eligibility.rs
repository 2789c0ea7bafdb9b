//! Who may mark (R2, R3, R6): recommended teachers, 45 or under on the first marking day, with
//! their attestations, and nobody with an immediate relative sitting the exam. Every failed rule
//! is reported, with a reason a leader can read out, not just the first.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::RuleError;

/// What the eligibility rules look at in a marker's record, for one exam.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerFacts {
    pub birth_date: NaiveDate,
    pub recommended: bool,
    pub health_attested: bool,
    pub conduct_attested: bool,
    /// Declared relatives found in this exam's candidate list.
    pub relatives_sitting: usize,
}

/// One failed rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ineligibility {
    TooOld,
    NotRecommended,
    NoHealthAttestation,
    NoConductAttestation,
    RelativeSitting,
}

impl Ineligibility {
    pub fn reason(self, max_age: u32) -> String {
        match self {
            Ineligibility::TooOld => format!("older than {max_age} on the first marking day"),
            Ineligibility::NotRecommended => "not recommended by a school".into(),
            Ineligibility::NoHealthAttestation => "no health attestation".into(),
            Ineligibility::NoConductAttestation => "no conduct attestation".into(),
            Ineligibility::RelativeSitting => "an immediate relative sits this exam".into(),
        }
    }
}

/// Age in whole years on `day` (a birthday on 29 February counts on 1 March in other years).
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> i32 {
    let mut age = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// Every rule the marker fails for an exam whose first marking day is `first_day`; empty when
/// eligible. "Aged 45 or under": a marker who turns 46 on or before the first day is too old.
pub fn eligibility(f: &MarkerFacts, first_day: NaiveDate, max_age: u32) -> Vec<Ineligibility> {
    let mut out = vec![];
    if age_on(f.birth_date, first_day) > i32::try_from(max_age).unwrap_or(i32::MAX) {
        out.push(Ineligibility::TooOld);
    }
    if !f.recommended {
        out.push(Ineligibility::NotRecommended);
    }
    if !f.health_attested {
        out.push(Ineligibility::NoHealthAttestation);
    }
    if !f.conduct_attested {
        out.push(Ineligibility::NoConductAttestation);
    }
    if f.relatives_sitting > 0 {
        out.push(Ineligibility::RelativeSitting);
    }
    out
}

/// A date in a marker's record (recommendation, training, certification) within reason: the
/// database would take -100000-01-01, an administrator would not.
pub fn check_day(field: &str, day: NaiveDate) -> Result<(), RuleError> {
    let earliest = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or(NaiveDate::MIN);
    let latest = NaiveDate::from_ymd_opt(2100, 12, 31).unwrap_or(NaiveDate::MAX);
    if day < earliest || day > latest {
        return Err(RuleError::invalid(
            "invalid_date",
            field,
            format!("{field} must lie between {earliest} and {latest}"),
        ));
    }
    Ok(())
}

/// A birth date of somebody who may be a teacher today: 18 to 80 years old.
pub fn check_birth_date(birth: NaiveDate, today: NaiveDate) -> Result<(), RuleError> {
    let age = age_on(birth, today);
    if !(18..=80).contains(&age) {
        return Err(RuleError::invalid(
            "invalid_date",
            "birth_date",
            "a marker is between 18 and 80 years old today",
        ));
    }
    Ok(())
}

/// Allocation (R3): a marker never receives a script from their own school, nor one of a
/// declared relative (the caller passes whether the script's candidate is one).
pub fn may_receive(marker_school: &str, script_school: &str, script_of_a_relative: bool) -> bool {
    marker_school != script_school && !script_of_a_relative
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn fit(birth: NaiveDate) -> MarkerFacts {
        MarkerFacts {
            birth_date: birth,
            recommended: true,
            health_attested: true,
            conduct_attested: true,
            relatives_sitting: 0,
        }
    }

    #[test]
    fn forty_five_on_the_first_day_is_in_forty_six_is_out() {
        let first = day(2026, 6, 10);
        assert!(
            eligibility(&fit(day(1981, 6, 11)), first, 45).is_empty(),
            "45, turning 46 the next day"
        );
        assert_eq!(
            eligibility(&fit(day(1980, 6, 10)), first, 45),
            vec![Ineligibility::TooOld],
            "46 that day"
        );
        assert_eq!(age_on(day(2000, 2, 29), day(2026, 2, 28)), 25);
        assert_eq!(age_on(day(2000, 2, 29), day(2026, 3, 1)), 26);
    }

    #[test]
    fn allocation_keeps_own_school_and_relatives_away() {
        assert!(may_receive("S01", "S02", false));
        assert!(!may_receive("S01", "S01", false));
        assert!(!may_receive("S01", "S02", true));
    }

    proptest! {
        /// Any combination of failing rules yields exactly those reasons, in a fixed order.
        #[test]
        fn exactly_the_failed_rules(old in any::<bool>(), rec in any::<bool>(), health in any::<bool>(),
                                    conduct in any::<bool>(), relatives in 0usize..3) {
            let first = day(2026, 6, 10);
            let birth = if old { day(1970, 1, 1) } else { day(1990, 1, 1) };
            let f = MarkerFacts { birth_date: birth, recommended: rec, health_attested: health,
                                  conduct_attested: conduct, relatives_sitting: relatives };
            let mut expected = vec![];
            if old { expected.push(Ineligibility::TooOld); }
            if !rec { expected.push(Ineligibility::NotRecommended); }
            if !health { expected.push(Ineligibility::NoHealthAttestation); }
            if !conduct { expected.push(Ineligibility::NoConductAttestation); }
            if relatives > 0 { expected.push(Ineligibility::RelativeSitting); }
            prop_assert_eq!(eligibility(&f, first, 45), expected);
        }

        #[test]
        fn age_never_runs_backwards(y in 1950i32..2010, d in 0i64..20_000) {
            let birth = day(y, 1, 1);
            let a = day(2026, 1, 1) + chrono::Duration::days(d);
            let b = a + chrono::Duration::days(1);
            prop_assert!(age_on(birth, b) >= age_on(birth, a));
        }
    }
}
