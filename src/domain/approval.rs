//! Two-person rule (R8): one person asks, a different person with the right role decides.
//! Every sensitive act goes through this one mechanism; a kind only says who may ask and decide.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::RuleError;
use super::role::{Person, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalKind {
    /// Activate a leader or custodian account (first named `activate_leader`, still accepted).
    #[serde(alias = "activate_leader")]
    ActivateStaff,
    OpenBatch,
    ReleaseBatch,
    SuspendMarker,
    /// Dismiss a marker from an exam: a sanction, like suspension, taken by two chief leaders.
    DismissMarker,
    Lock,
    Release,
    Unlock,
    Amend,
}

/// Who may ask for, and who may decide, a kind of approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    ActiveChiefLeader,
    Custodian,
}

impl Authority {
    pub fn holds(self, p: &Person) -> bool {
        match self {
            Authority::ActiveChiefLeader => p.is_active_chief(),
            // R8: acts on the sheets need custodians on duty for that exam, not merely custodians.
            Authority::Custodian => p.role == Role::Custodian && p.active && p.on_duty,
        }
    }

    /// Whether an account of this role could ever hold the authority (activity and duty aside):
    /// the door of the approval routes.
    fn open_to(self, role: Role, chief: bool) -> bool {
        match self {
            Authority::ActiveChiefLeader => role == Role::Leader && chief,
            Authority::Custodian => role == Role::Custodian,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Authority::ActiveChiefLeader => "an active chief leader",
            Authority::Custodian => "a custodian on duty",
        }
    }
}

impl ApprovalKind {
    pub const ALL: [ApprovalKind; 9] = [
        ApprovalKind::ActivateStaff,
        ApprovalKind::OpenBatch,
        ApprovalKind::ReleaseBatch,
        ApprovalKind::SuspendMarker,
        ApprovalKind::DismissMarker,
        ApprovalKind::Lock,
        ApprovalKind::Release,
        ApprovalKind::Unlock,
        ApprovalKind::Amend,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalKind::ActivateStaff => "activate_staff",
            ApprovalKind::OpenBatch => "open_batch",
            ApprovalKind::ReleaseBatch => "release_batch",
            ApprovalKind::SuspendMarker => "suspend_marker",
            ApprovalKind::DismissMarker => "dismiss_marker",
            ApprovalKind::Lock => "lock",
            ApprovalKind::Release => "release",
            ApprovalKind::Unlock => "unlock",
            ApprovalKind::Amend => "amend",
        }
    }

    pub fn parse(s: &str) -> Option<ApprovalKind> {
        if s == "activate_leader" {
            return Some(ApprovalKind::ActivateStaff);
        }
        ApprovalKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn authority(self) -> Authority {
        match self {
            ApprovalKind::OpenBatch | ApprovalKind::ReleaseBatch => Authority::Custodian,
            _ => Authority::ActiveChiefLeader,
        }
    }

    /// Kinds that act on one exam and so must be filed under it.
    pub fn exam_scoped(self) -> bool {
        self != ApprovalKind::ActivateStaff
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Expired => "expired",
        }
    }

    /// Expiry is not written down: an expired request is stored as pending past its expiry.
    pub fn as_stored(self) -> ApprovalStatus {
        match self {
            ApprovalStatus::Expired => ApprovalStatus::Pending,
            other => other,
        }
    }

    pub fn parse(s: &str) -> Option<ApprovalStatus> {
        Some(match s {
            "pending" => ApprovalStatus::Pending,
            "approved" => ApprovalStatus::Approved,
            "rejected" => ApprovalStatus::Rejected,
            "expired" => ApprovalStatus::Expired,
            _ => return None,
        })
    }
}

/// What the rules need to know of a stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalState {
    pub kind: ApprovalKind,
    pub requested_by: String,
    pub status: ApprovalStatus,
    pub expires_at: DateTime<Utc>,
}

impl ApprovalState {
    /// A pending request past its expiry is expired, whether or not anyone has written that down.
    pub fn status_at(&self, now: DateTime<Utc>) -> ApprovalStatus {
        if self.status == ApprovalStatus::Pending && now >= self.expires_at {
            ApprovalStatus::Expired
        } else {
            self.status
        }
    }
}

/// Whether a caller may take part in two-person acts at all: some kind's authority is open to
/// their role. Everyone else is turned away before their request is read.
pub fn takes_part(role: Role, chief: bool) -> bool {
    [Authority::ActiveChiefLeader, Authority::Custodian]
        .into_iter()
        .any(|a| a.open_to(role, chief))
}

pub fn may_request(kind: ApprovalKind, requester: &Person) -> Result<(), RuleError> {
    let who = kind.authority();
    if who.holds(requester) {
        Ok(())
    } else {
        Err(RuleError::refused(
            "approval_not_allowed",
            format!("only {} may ask for {}", who.describe(), kind.as_str()),
        ))
    }
}

/// Kinds that act on one exam are filed under it; the others under no exam.
pub fn check_filing(kind: ApprovalKind, under_exam: bool) -> Result<(), RuleError> {
    if kind.exam_scoped() && !under_exam {
        return Err(RuleError::invalid(
            "exam_required",
            "kind",
            format!("{} is filed under an exam", kind.as_str()),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// Whether `decider` may approve or reject the request now. The requester can never decide
/// their own request, not even to reject it: withdrawing is a different act.
pub fn may_decide(state: &ApprovalState, decider: &Person, now: DateTime<Utc>) -> Result<ApprovalStatus, RuleError> {
    match state.status_at(now) {
        ApprovalStatus::Pending => {}
        ApprovalStatus::Expired => {
            return Err(RuleError::conflict(
                "approval_expired",
                "this request has expired; file a new one",
            ));
        }
        done => {
            return Err(RuleError::conflict(
                "approval_decided",
                format!("this request was already {}", done.as_str()),
            ));
        }
    }
    if decider.id == state.requested_by {
        return Err(RuleError::refused(
            "approval_self",
            "a request must be decided by a different person from the one who made it",
        ));
    }
    let who = state.kind.authority();
    if !who.holds(decider) {
        return Err(RuleError::refused(
            "approval_not_allowed",
            format!("only {} may decide {}", who.describe(), state.kind.as_str()),
        ));
    }
    Ok(ApprovalStatus::Pending)
}

/// The status a decision leads to.
pub fn outcome(decision: Decision) -> ApprovalStatus {
    match decision {
        Decision::Approve => ApprovalStatus::Approved,
        Decision::Reject => ApprovalStatus::Rejected,
    }
}

/// The account an `activate_staff` request names must be a leader or custodian still waiting
/// for activation, whose owner has already replaced the one-time password with their own: so
/// the person who made the account, who saw that password, cannot be the one who holds it once
/// it acts (the approving chiefs confirm with the owner that they did).
pub fn check_activation_target(target: &Person, password_set_by_owner: bool) -> Result<(), RuleError> {
    if !matches!(target.role, Role::Leader | Role::Custodian) {
        return Err(RuleError::invalid(
            "not_staff",
            "payload.user_id",
            "only leader and custodian accounts are activated",
        ));
    }
    if target.active {
        return Err(RuleError::conflict("already_active", "this account is already active"));
    }
    if !password_set_by_owner {
        return Err(RuleError::conflict(
            "password_not_set",
            "the account's owner has not yet replaced the one-time password; activate it after they have",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn chief(id: &str) -> Person {
        Person {
            id: id.into(),
            role: Role::Leader,
            chief: true,
            active: true,
            on_duty: false,
        }
    }

    fn pending(by: &str, now: DateTime<Utc>) -> ApprovalState {
        ApprovalState {
            kind: ApprovalKind::ActivateStaff,
            requested_by: by.into(),
            status: ApprovalStatus::Pending,
            expires_at: now + Duration::hours(1),
        }
    }

    #[test]
    fn a_different_chief_approves() {
        let now = Utc::now();
        assert!(may_decide(&pending("a", now), &chief("b"), now).is_ok());
    }

    #[test]
    fn the_requester_never_decides() {
        let now = Utc::now();
        assert_eq!(
            may_decide(&pending("a", now), &chief("a"), now).unwrap_err().code(),
            "approval_self"
        );
    }

    #[test]
    fn expired_and_decided_requests_are_closed() {
        let now = Utc::now();
        let later = now + Duration::hours(2);
        assert_eq!(
            may_decide(&pending("a", now), &chief("b"), later).unwrap_err().code(),
            "approval_expired"
        );
        let mut s = pending("a", now);
        s.status = ApprovalStatus::Approved;
        assert_eq!(may_decide(&s, &chief("b"), now).unwrap_err().code(), "approval_decided");
    }

    #[test]
    fn leaders_and_custodians_are_activated_and_the_old_name_still_reads() {
        let waiting = |role| Person {
            id: "x".into(),
            role,
            chief: false,
            active: false,
            on_duty: false,
        };
        assert!(check_activation_target(&waiting(Role::Leader), true).is_ok());
        assert!(check_activation_target(&waiting(Role::Custodian), true).is_ok());
        assert_eq!(
            check_activation_target(&waiting(Role::Custodian), false)
                .unwrap_err()
                .code(),
            "password_not_set"
        );
        assert_eq!(
            check_activation_target(&waiting(Role::Admin), true).unwrap_err().code(),
            "not_staff"
        );
        assert_eq!(
            ApprovalKind::parse("activate_leader"),
            Some(ApprovalKind::ActivateStaff)
        );
        let k: ApprovalKind = serde_json::from_str("\"activate_leader\"").unwrap();
        assert_eq!(k.as_str(), "activate_staff");
    }

    #[test]
    fn exam_acts_are_filed_under_their_exam() {
        assert!(check_filing(ApprovalKind::Lock, false).is_err());
        assert!(check_filing(ApprovalKind::Lock, true).is_ok());
        assert!(check_filing(ApprovalKind::ActivateStaff, false).is_ok());
    }

    #[test]
    fn only_the_right_role_decides() {
        let now = Utc::now();
        let mut scoped = chief("b");
        scoped.chief = false;
        assert!(may_decide(&pending("a", now), &scoped, now).is_err());
        let mut inactive = chief("b");
        inactive.active = false;
        assert!(may_decide(&pending("a", now), &inactive, now).is_err());
        let mut custodian = Person {
            id: "c".into(),
            role: Role::Custodian,
            chief: false,
            active: true,
            on_duty: false,
        };
        assert!(may_request(ApprovalKind::OpenBatch, &custodian).is_err(), "off duty");
        custodian.on_duty = true;
        assert!(may_request(ApprovalKind::Lock, &custodian).is_err());
        assert!(may_request(ApprovalKind::OpenBatch, &custodian).is_ok());
    }

    fn role() -> impl Strategy<Value = Role> {
        prop_oneof![
            Just(Role::Admin),
            Just(Role::Leader),
            Just(Role::Custodian),
            Just(Role::Marker),
            Just(Role::Admissions)
        ]
    }

    proptest! {
        #[test]
        fn no_one_ever_approves_their_own_request(kind in 0usize..8, r in role(), chief in any::<bool>(), active in any::<bool>(), on_duty in any::<bool>()) {
            let now = Utc::now();
            let mut s = pending("same", now);
            s.kind = ApprovalKind::ALL[kind];
            let p = Person { id: "same".into(), role: r, chief, active, on_duty };
            prop_assert!(may_decide(&s, &p, now).is_err());
        }

        #[test]
        fn a_decision_needs_the_kind_authority(kind in 0usize..8, r in role(), chief in any::<bool>(), active in any::<bool>(), on_duty in any::<bool>()) {
            let now = Utc::now();
            let mut s = pending("a", now);
            s.kind = ApprovalKind::ALL[kind];
            let p = Person { id: "b".into(), role: r, chief, active, on_duty };
            prop_assert_eq!(may_decide(&s, &p, now).is_ok(), s.kind.authority().holds(&p));
        }
    }

    #[test]
    fn only_chief_leaders_and_custodians_take_part_in_two_person_acts() {
        assert!(takes_part(Role::Leader, true));
        assert!(takes_part(Role::Custodian, false));
        for role in [Role::Admin, Role::Marker, Role::Admissions] {
            assert!(!takes_part(role, true) && !takes_part(role, false), "{role:?}");
        }
        assert!(!takes_part(Role::Leader, false), "a leader who is not chief");
    }
}
