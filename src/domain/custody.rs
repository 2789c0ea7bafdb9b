//! Custody of the answer sheets (R8, R9): state-secret material watched by two or more people
//! per shift, batches opened and released by two custodians on duty, and hand-overs from two
//! people to two people, each confirming under their own login.

use serde::{Deserialize, Serialize};

use super::RuleError;

/// R8: "round-the-clock duty with two or more people per shift".
pub const MIN_ON_DUTY: usize = 2;

/// Any act on the sheets: the actor is on duty for the exam, and so is at least one other.
pub fn check_sheet_act(actor_on_duty: bool, on_duty: usize) -> Result<(), RuleError> {
    if !actor_on_duty {
        return Err(RuleError::refused(
            "not_on_duty",
            "check in to a duty shift for this exam first",
        ));
    }
    if on_duty < MIN_ON_DUTY {
        return Err(RuleError::refused(
            "too_few_on_duty",
            format!("acts on the sheets need at least {MIN_ON_DUTY} custodians on duty"),
        ));
    }
    Ok(())
}

/// A check-out may not leave an open batch with fewer than two on duty.
pub fn check_check_out(on_duty_after: usize, open_batches: usize) -> Result<(), RuleError> {
    if open_batches > 0 && on_duty_after < MIN_ON_DUTY {
        return Err(RuleError::refused(
            "too_few_on_duty",
            "a batch is open: another custodian must check in before you check out",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    Open,
    Released,
    Closed,
}

impl BatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Open => "open",
            BatchStatus::Released => "released",
            BatchStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<BatchStatus> {
        [BatchStatus::Open, BatchStatus::Released, BatchStatus::Closed]
            .into_iter()
            .find(|b| b.as_str() == s)
    }
}

/// Sheets can be added to, and hand-overs recorded for, an open batch only.
pub fn check_batch_open(status: BatchStatus) -> Result<(), RuleError> {
    if status != BatchStatus::Open {
        return Err(RuleError::conflict(
            "batch_not_open",
            format!("the batch is {}", status.as_str()),
        ));
    }
    Ok(())
}

/// What stands between a batch and marking (R9: nothing goes out before its treatment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReleaseBlockers {
    pub sheets: usize,
    pub unconfirmed_sheets: usize,
    pub needing_treatment: usize,
}

pub fn check_release(status: BatchStatus, b: ReleaseBlockers) -> Result<(), RuleError> {
    check_batch_open(status)?;
    if b.sheets == 0 {
        return Err(RuleError::conflict("batch_empty", "the batch holds no sheet"));
    }
    if b.unconfirmed_sheets > 0 {
        return Err(RuleError::conflict(
            "sheets_unconfirmed",
            format!(
                "{} sheet(s) with a typed admission number wait for the second custodian's entry",
                b.unconfirmed_sheets
            ),
        ));
    }
    if b.needing_treatment > 0 {
        return Err(RuleError::conflict(
            "needs_treatment",
            format!("{} script(s) still need technical treatment", b.needing_treatment),
        ));
    }
    Ok(())
}

/// A hand-over passes custody from two people to two other people; the one who records it is
/// one of the givers. Returns the four in order (givers, then receivers).
pub fn check_handover(recorder: &str, from: [&str; 2], to: [&str; 2]) -> Result<(), RuleError> {
    let all = [from[0], from[1], to[0], to[1]];
    for (i, a) in all.iter().enumerate() {
        if all[..i].contains(a) {
            return Err(RuleError::invalid(
                "handover_people",
                "to",
                "a hand-over is between four different people: two give, two receive",
            ));
        }
    }
    if !from.contains(&recorder) {
        return Err(RuleError::refused(
            "not_a_giver",
            "a hand-over is recorded by one of the two who give the batch",
        ));
    }
    Ok(())
}

/// Only the four named in a hand-over confirm it, each once, under their own login.
pub fn check_confirmation(confirmer: &str, parties: [&str; 4], already: &[String]) -> Result<(), RuleError> {
    if !parties.contains(&confirmer) {
        return Err(RuleError::refused(
            "not_a_party",
            "only the two givers and the two receivers confirm a hand-over",
        ));
    }
    if already.iter().any(|c| c == confirmer) {
        return Err(RuleError::conflict(
            "already_confirmed",
            "you have confirmed this hand-over",
        ));
    }
    Ok(())
}

/// The alphabet of anonymous codes: read aloud without ambiguity (no 0/O, 1/I/L, 2/Z, 5/S, 8/B).
const CODE_ALPHABET: &[u8] = b"34679ACDEFGHJKMNPQRTUVWXY";

/// A fresh anonymous code, four characters, a dash and four more: 25^8 ≈ 1.5·10^11 codes, so a guess names no script; the
/// database's unique index catches the rare repeat (draw again). `rng` must be a CSPRNG: codes
/// must not betray scan order.
pub fn anonymous_code(rng: &mut impl rand::Rng) -> String {
    let mut out = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            out.push('-');
        }
        out.push(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char);
    }
    out
}

/// How a sheet's admission number reached markroom: read from the barcode by the scanning
/// station, or typed by hand (then a second custodian types it again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    Barcode,
    Typed,
}

impl Entry {
    pub fn as_str(self) -> &'static str {
        match self {
            Entry::Barcode => "barcode",
            Entry::Typed => "typed",
        }
    }
}

/// How an entry counts: only a scanning station reads the number off the barcode; a number
/// from anywhere else was typed by a person, and a second custodian types it again.
pub fn entry_counts_as(claimed: Entry, from_scanner: bool) -> Entry {
    if claimed == Entry::Barcode && !from_scanner {
        Entry::Typed
    } else {
        claimed
    }
}

/// A candidate's second sheet: only when asked for, and only while the first one's scripts are
/// still in intake (none marked). `beyond_intake` counts the first sheet's scripts past it.
pub fn check_replacement(replaces: bool, beyond_intake: usize) -> Result<(), RuleError> {
    if !replaces {
        return Err(RuleError::conflict(
            "sheet_exists",
            "this candidate's sheet is in already; send replaces=true to replace it while its scripts are unmarked",
        ));
    }
    if beyond_intake > 0 {
        return Err(RuleError::conflict(
            "sheet_in_marking",
            "the sheet it would replace is being marked",
        ));
    }
    Ok(())
}

/// Technical treatment is for scripts that need it, nothing else (R9): a treated or released
/// script is not re-cut by one custodian.
pub fn check_treatable(script_state: &str) -> Result<(), RuleError> {
    if script_state != "needs_treatment" {
        return Err(RuleError::conflict(
            "no_treatment_needed",
            format!("the script is {script_state}; only scripts that need treatment are treated"),
        ));
    }
    Ok(())
}

/// The second entry of a typed admission number: by someone else, and the same number.
pub fn check_second_entry(entered_by: &str, confirmer: &str, first: &str, second: &str) -> Result<(), RuleError> {
    if entered_by == confirmer {
        return Err(RuleError::refused(
            "same_person",
            "the second entry is made by a different custodian",
        ));
    }
    if first != second {
        return Err(RuleError::conflict(
            "admission_number_mismatch",
            "the two entries of the admission number differ; check the sheet",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn two_on_duty_and_the_actor_among_them() {
        assert_eq!(check_sheet_act(false, 5).unwrap_err().code(), "not_on_duty");
        assert_eq!(check_sheet_act(true, 1).unwrap_err().code(), "too_few_on_duty");
        assert!(check_sheet_act(true, 2).is_ok());
        assert!(check_check_out(1, 0).is_ok());
        assert_eq!(check_check_out(1, 1).unwrap_err().code(), "too_few_on_duty");
        assert!(check_check_out(2, 3).is_ok());
    }

    #[test]
    fn release_waits_for_treatment_and_second_entries() {
        let ok = ReleaseBlockers {
            sheets: 3,
            ..Default::default()
        };
        assert!(check_release(BatchStatus::Open, ok).is_ok());
        let b = |u, n| ReleaseBlockers {
            sheets: 3,
            unconfirmed_sheets: u,
            needing_treatment: n,
        };
        assert_eq!(
            check_release(BatchStatus::Open, b(1, 0)).unwrap_err().code(),
            "sheets_unconfirmed"
        );
        assert_eq!(
            check_release(BatchStatus::Open, b(0, 2)).unwrap_err().code(),
            "needs_treatment"
        );
        assert_eq!(
            check_release(BatchStatus::Released, ok).unwrap_err().code(),
            "batch_not_open"
        );
        assert_eq!(
            check_release(BatchStatus::Open, ReleaseBlockers::default())
                .unwrap_err()
                .code(),
            "batch_empty"
        );
    }

    #[test]
    fn hand_overs_are_four_people_and_each_confirms_once() {
        assert!(check_handover("a", ["a", "b"], ["c", "d"]).is_ok());
        assert_eq!(
            check_handover("a", ["a", "b"], ["b", "d"]).unwrap_err().code(),
            "handover_people"
        );
        assert_eq!(
            check_handover("c", ["a", "b"], ["c", "d"]).unwrap_err().code(),
            "not_a_giver"
        );
        let parties = ["a", "b", "c", "d"];
        assert!(check_confirmation("c", parties, &["a".into()]).is_ok());
        assert_eq!(
            check_confirmation("a", parties, &["a".into()]).unwrap_err().code(),
            "already_confirmed"
        );
        assert_eq!(check_confirmation("e", parties, &[]).unwrap_err().code(), "not_a_party");
    }

    #[test]
    fn only_a_scanner_reads_barcodes_and_only_unmarked_sheets_are_replaced() {
        assert_eq!(entry_counts_as(Entry::Barcode, true), Entry::Barcode);
        assert_eq!(entry_counts_as(Entry::Barcode, false), Entry::Typed);
        assert_eq!(entry_counts_as(Entry::Typed, true), Entry::Typed);
        assert_eq!(check_replacement(false, 0).unwrap_err().code(), "sheet_exists");
        assert_eq!(check_replacement(true, 1).unwrap_err().code(), "sheet_in_marking");
        assert!(check_replacement(true, 0).is_ok());
        assert!(check_treatable("needs_treatment").is_ok());
        assert_eq!(check_treatable("held").unwrap_err().code(), "no_treatment_needed");
    }

    #[test]
    fn a_typed_number_is_typed_twice_by_two_people() {
        assert!(check_second_entry("a", "b", "2026001", "2026001").is_ok());
        assert_eq!(
            check_second_entry("a", "a", "1", "1").unwrap_err().code(),
            "same_person"
        );
        assert_eq!(
            check_second_entry("a", "b", "2026001", "2026007").unwrap_err().code(),
            "admission_number_mismatch"
        );
    }

    proptest! {
        #[test]
        fn codes_are_short_unambiguous_and_random(seed in any::<u64>()) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let code = anonymous_code(&mut rng);
            prop_assert_eq!(code.len(), 9);
            prop_assert_eq!(&code[4..5], "-");
            prop_assert!(code.bytes().filter(|b| *b != b'-').all(|b| CODE_ALPHABET.contains(&b)));
            for bad in ['0', 'O', '1', 'I', 'L'] {
                prop_assert!(!code.contains(bad));
            }
        }
    }
}
