//! What the OpenAPI document says of the values validation checks, so that a client generated
//! from it sends valid requests. Used with `#[schema(schema_with = …)]`; the rules themselves
//! live in the domain, and these only describe them (tests/api/routes.rs checks the document
//! carries them).

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Array, RefOr};

/// The largest score the domain accepts (`Score::parse`).
const MAX_SCORE: f64 = 1_000_000.0;

fn score_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .multiple_of(Some(0.01))
        .minimum(Some(0.0))
        .maximum(Some(MAX_SCORE))
        .description(Some(
            "A score: at most two decimals, read exactly (never through binary floating point)",
        ))
}

/// A score (hundredths, non-negative).
pub fn score() -> Schema {
    score_object().build().into()
}

/// A positive score: a maximum or a step.
pub fn positive_score() -> Schema {
    score_object()
        .minimum(None::<f64>)
        .exclusive_minimum(Some(0.0))
        .build()
        .into()
}

pub fn optional_score() -> Schema {
    score_object()
        .schema_type(SchemaType::from_iter([Type::Number, Type::Null]))
        .build()
        .into()
}

pub fn optional_positive_score() -> Schema {
    score_object()
        .schema_type(SchemaType::from_iter([Type::Number, Type::Null]))
        .minimum(None::<f64>)
        .exclusive_minimum(Some(0.0))
        .build()
        .into()
}

pub const CODE_PATTERN: &str = "^[A-Za-z0-9_-]{1,32}$";

/// An exam, question or criterion code (`exam::check_code`).
pub fn code() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(CODE_PATTERN))
        .build()
        .into()
}

pub fn codes() -> Array {
    Array::new(RefOr::T(code()))
}

/// An IANA time zone, as the server knows them.
pub fn time_zone() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
        .description(Some(
            "IANA time zone in which marking days are counted, e.g. Asia/Shanghai",
        ))
        .build()
        .into()
}

/// Free text a person types, such as a name: something besides spaces.
pub const TEXT_PATTERN: &str = r"\S";

fn words(list: &[&str]) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(list.iter().copied()))
        .build()
        .into()
}

pub fn question_kind() -> Schema {
    words(&["essay", "short"])
}

/// The roles an admin creates (markers come from the marker archive).
pub fn creatable_role() -> Schema {
    words(&["admin", "leader", "custodian"])
}

pub fn grant_type() -> Schema {
    words(&["client_credentials"])
}

pub fn approval_status() -> Schema {
    words(&["pending", "approved", "rejected", "expired"])
}

/// The kinds this server carries out (`activate_leader` is the older name of `activate_staff`).
pub fn approval_kind() -> Schema {
    words(&["activate_staff", "activate_leader"])
}
