//! The rules of the marking room, as an exam administrator would state them.
//!
//! Nothing here performs I/O or knows about HTTP or SQL: every function takes plain data (and the
//! current time where a rule depends on it) and returns a decision. Handlers translate requests
//! into these calls; the database layer stores what they decide.

pub mod access;
pub mod approval;
pub mod candidate;
pub mod custody;
pub mod eligibility;
pub mod error;
pub mod exam;
pub mod marker_status;
pub mod marking;
pub mod qualification;
pub mod question;
pub mod resolution;
pub mod results;
pub mod role;
pub mod rule_change;
pub mod rules;
pub mod score;
pub mod statistics;
pub mod template;
pub mod text;
pub mod triggers;
pub mod whole;

pub use error::RuleError;
pub use score::Score;
