//! Who is who in the room.

use serde::{Deserialize, Serialize};

use super::RuleError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Leader,
    Custodian,
    Marker,
    Admissions,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Leader => "leader",
            Role::Custodian => "custodian",
            Role::Marker => "marker",
            Role::Admissions => "admissions",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "leader" => Role::Leader,
            "custodian" => Role::Custodian,
            "marker" => Role::Marker,
            "admissions" => Role::Admissions,
            _ => return None,
        })
    }

    /// People behind the closed room's door: during a marking window they work only from
    /// registered workstations (R5). Admins too, since an admin account can make accounts and
    /// keys; admissions systems are outside the room and read only after release.
    pub fn needs_workstation(self) -> bool {
        matches!(self, Role::Admin | Role::Leader | Role::Custodian | Role::Marker)
    }
}

/// The people acting in a request, as the rules see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub role: Role,
    /// Chief leaders lead the whole marking (exam-wide); other leaders are scoped to questions.
    pub chief: bool,
    pub active: bool,
    /// Checked in to a duty shift for the exam the act concerns (custodians).
    pub on_duty: bool,
}

impl Person {
    pub fn is_active_chief(&self) -> bool {
        self.role == Role::Leader && self.chief && self.active
    }
}

/// Admins create admin, leader and custodian accounts; marker accounts come from the marker
/// archive (appointment), and admissions systems are service clients, not people.
pub fn admin_may_create(role: Role) -> Result<(), RuleError> {
    match role {
        Role::Admin | Role::Leader | Role::Custodian => Ok(()),
        Role::Marker => Err(RuleError::invalid(
            "role_not_creatable",
            "role",
            "marker accounts are made by appointing a marker from the archive",
        )),
        Role::Admissions => Err(RuleError::invalid(
            "role_not_creatable",
            "role",
            "admissions systems are registered as service clients",
        )),
    }
}

/// A leader or custodian account acts only after an active chief leader approves it
/// (two-person rule, R8); an admin's account is active at once (it needs a person, not a chief).
pub fn starts_active(role: Role) -> bool {
    !matches!(role, Role::Leader | Role::Custodian)
}

/// The person an account names, as checked: a full name, and the identity-document number in
/// the one form that is compared (so "11010 1199001011234x" and "110101199001011234X" are one
/// person). The number itself is never stored, only its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonIdentity {
    pub full_name: String,
    pub id_document: String,
}

pub fn check_person(full_name: &str, id_document: &str) -> Result<PersonIdentity, RuleError> {
    let name = super::text::tidy(full_name);
    if name.is_empty() || !super::text::is_plain(full_name, 100) {
        return Err(RuleError::invalid(
            "invalid_full_name",
            "full_name",
            "give the person's full name (1 to 100 characters)",
        ));
    }
    // Only the separators people type on a form are dropped; anything else is refused, so the
    // schema can say exactly what is accepted.
    let doc: String = id_document
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !(4..=32).contains(&doc.len()) || !doc.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(RuleError::invalid(
            "invalid_id_document",
            "id_document",
            "an identity-document number is 4 to 32 letters and digits (spaces and '-' between them are ignored)",
        ));
    }
    Ok(PersonIdentity {
        full_name: name,
        id_document: doc,
    })
}

/// A chief leader leads every question of every exam, so has no scope; any other leader leads
/// named questions of one exam; nobody else has a chief flag or a scope.
pub fn check_scope(role: Role, chief: bool, has_exam: bool, questions: usize) -> Result<(), RuleError> {
    let scoped = has_exam || questions > 0;
    let bad = |field: &str, detail: &str| Err(RuleError::invalid("invalid_scope", field, detail));
    match (role, chief) {
        (Role::Leader, true) if scoped => bad("exam", "a chief leader leads every question; give no scope"),
        (Role::Leader, false) if !has_exam || questions == 0 => bad(
            "questions",
            "a leader who is not chief needs an exam and the questions they lead",
        ),
        (Role::Leader, _) => Ok(()),
        _ if chief || scoped => bad("role", "only leaders have a chief flag or a scope"),
        _ => Ok(()),
    }
}

pub const MAX_USERNAME_CHARS: usize = 64;

pub fn check_username(name: &str) -> Result<(), RuleError> {
    let ok = (3..=MAX_USERNAME_CHARS).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(RuleError::invalid(
            "invalid_username",
            "username",
            "a username is 3 to 64 letters, digits, '.', '_', '-' or '@'",
        ))
    }
}

pub const MIN_PASSWORD_CHARS: usize = 12;

pub fn check_password(password: &str) -> Result<(), RuleError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=256).contains(&n) {
        return Err(RuleError::invalid(
            "weak_password",
            "password",
            format!("a password has {MIN_PASSWORD_CHARS} to 256 characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_make_only_staff_accounts() {
        assert!(admin_may_create(Role::Leader).is_ok());
        assert!(admin_may_create(Role::Custodian).is_ok());
        assert!(admin_may_create(Role::Marker).is_err());
        assert!(admin_may_create(Role::Admissions).is_err());
        assert!(!starts_active(Role::Leader));
        assert!(!starts_active(Role::Custodian));
        assert!(starts_active(Role::Admin));
    }

    #[test]
    fn scopes_belong_to_leaders_who_are_not_chief() {
        assert!(check_scope(Role::Leader, true, false, 0).is_ok());
        assert!(check_scope(Role::Leader, false, true, 2).is_ok());
        assert!(check_scope(Role::Leader, true, true, 1).is_err());
        assert!(check_scope(Role::Leader, false, true, 0).is_err());
        assert!(check_scope(Role::Leader, false, false, 0).is_err());
        assert!(check_scope(Role::Custodian, false, false, 0).is_ok());
        assert!(check_scope(Role::Custodian, true, false, 0).is_err());
        assert!(check_scope(Role::Admin, false, true, 1).is_err());
    }

    #[test]
    fn one_document_number_however_it_is_typed() {
        let a = check_person("  Li   Wei ", "110101 19900101 123x").unwrap();
        let b = check_person("Li Wei", "110101-19900101-123X").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.full_name, "Li Wei");
        assert_eq!(check_person("", "1234").unwrap_err().code(), "invalid_full_name");
        assert_eq!(check_person("Li", "12").unwrap_err().code(), "invalid_id_document");
        assert_eq!(check_person("Li", "12#45").unwrap_err().code(), "invalid_id_document");
        assert_eq!(
            check_person("Li", "1234\u{feff}5").unwrap_err().code(),
            "invalid_id_document"
        );
        assert_eq!(
            check_person("Li\u{1}Wei", "12345").unwrap_err().code(),
            "invalid_full_name"
        );
    }

    proptest::proptest! {
        #[test]
        fn spacing_and_case_never_make_a_second_person(doc in "[0-9A-Za-z]{4,20}", cut in 0usize..20) {
            let cut = cut.min(doc.len());
            let spaced = format!("{} - {}", &doc[..cut], doc[cut..].to_lowercase());
            let a = check_person("A", &doc).unwrap();
            let b = check_person("A", &spaced).unwrap();
            proptest::prop_assert_eq!(a.id_document, b.id_document);
        }
    }

    #[test]
    fn names_and_passwords() {
        assert!(check_username("li.wei").is_ok());
        assert!(check_username("a b").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("a long enough one").is_ok());
    }
}
