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
    words(&["activate_staff", "activate_leader", "open_batch", "release_batch"])
}

fn whole(min: u32, max: Option<u32>, about: &str) -> RefOr<Schema> {
    let b = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(min))
        .maximum(max)
        .description(Some(about));
    RefOr::T(b.build().into())
}

fn share(about: &str) -> RefOr<Schema> {
    let b = ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(0.0))
        .maximum(Some(1.0))
        .description(Some(about));
    RefOr::T(b.build().into())
}

/// Every marking rule, each optional, with its range (`MarkingRules::validate`); names outside
/// this list are refused. One rule spans two: `seed_miss_limit` is at most `seed_miss_window`.
fn rule_properties() -> ObjectBuilder {
    let p = |b: ObjectBuilder, name: &str, s: RefOr<Schema>| b.property(name, s);
    let mut b = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)));
    b = p(
        b,
        "marker_max_age",
        whole(18, Some(80), "markers are this age or younger on the first marking day"),
    );
    b = p(b, "seed_rate", share("share of live tasks that are seeds"));
    b = p(
        b,
        "first_seed_within",
        whole(1, None, "the day's first seed comes within this many tasks"),
    );
    b = p(
        b,
        "self_check_rate",
        share("probability of re-serving a marker one of their own scripts"),
    );
    b = p(
        b,
        "backread_rate",
        share("share of resolved scripts sampled for back-reading"),
    );
    b = p(b, "seed_miss_window", whole(1, None, "seeds looked at for seed misses"));
    b = p(
        b,
        "seed_miss_limit",
        whole(1, None, "misses among them that pause a marker"),
    );
    b = p(
        b,
        "severity_limit_fraction",
        share("severity trigger, as a fraction of the tolerance"),
    );
    let ratio = ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(1.0))
        .maximum(Some(1000.0))
        .description(Some("erratic trigger: residual SD ratio"));
    b = p(b, "erratic_sd_ratio", RefOr::T(ratio.build().into()));
    b = p(b, "central_sd_ratio", share("central tendency trigger: SD ratio"));
    b = p(
        b,
        "drift_min_change_fraction",
        share("drift trigger, as a fraction of the tolerance"),
    );
    let p_value = ObjectBuilder::new()
        .schema_type(Type::Number)
        .exclusive_minimum(Some(0.0))
        .exclusive_maximum(Some(1.0))
        .description(Some("Holm-adjusted p below which a trigger fires"));
    b = p(b, "trigger_p", RefOr::T(p_value.build().into()));
    b = p(
        b,
        "min_co_marked",
        whole(2, None, "co-marked scripts before the statistical triggers look"),
    );
    b = p(
        b,
        "default_tolerance_percent",
        whole(0, Some(100), "default tolerance, % of the maximum"),
    );
    b = p(b, "default_final_step", RefOr::T(positive_score()));
    b = p(
        b,
        "lease_minutes",
        whole(1, Some(240), "how long a marker holds a leased task"),
    );
    b = p(
        b,
        "qualification_pass_share",
        share("qualification: share of the calibration set within the tolerance"),
    );
    let deviation = ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(1.0))
        .description(Some("qualification: no score further than this many tolerances"));
    b = p(
        b,
        "qualification_max_deviation_tolerances",
        RefOr::T(deviation.build().into()),
    );
    p(
        b,
        "qualification_attempts",
        whole(1, Some(10), "qualification: attempts per question"),
    )
}

/// An exam's rule overrides at creation.
pub fn rule_overrides() -> Schema {
    rule_properties()
        .description(Some(
            "Overrides of the marking rules for this exam (any of the `[rules]` settings)",
        ))
        .build()
        .into()
}

/// A change of an exam's rules: any rules, and new figures (`figures`) per question code.
pub fn settings_change(figures: RefOr<Schema>) -> Schema {
    let questions = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(code()))
        .additional_properties(Some(figures))
        .description(Some(
            "New figures by question code (each a question of the exam: a rule that depends on state)",
        ));
    rule_properties()
        .property("questions", questions)
        .description(Some("Rule names with their new values, e.g. {\"backread_rate\": 0}"))
        .build()
        .into()
}
