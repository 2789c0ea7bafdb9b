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

// Text the record keeps (reasons, notes, course names; `domain::text::is_plain`) is described
// by a pattern the schema attributes repeat as a literal (utoipa takes no constant there): no
// control character but whitespace (U+0085 is whitespace; U+001C to U+001F are not, to Rust),
// and for required text something besides spaces.

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

/// A reason the record keeps: 1 to 500 characters of plain text (`domain::text::is_plain`).
fn reason() -> RefOr<Schema> {
    RefOr::T(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(500))
            .pattern(Some(
                r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$",
            ))
            .build()
            .into(),
    )
}

/// How a problem script is settled: scored as an arbitration, or returned to marking.
pub fn problem_decision() -> RefOr<Schema> {
    let closed = || {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
    };
    let score = closed()
        .description(Some("The leader scores it, as an arbitration."))
        .property("action", words(&["score"]))
        .property("score", score())
        .property("reason", reason())
        .required("action")
        .required("score")
        .required("reason");
    let back = closed()
        .description(Some("Back to marking (to markers who never held it)."))
        .property("action", words(&["return"]))
        .property("reason", reason())
        .required("action")
        .required("reason");
    RefOr::T(Schema::OneOf(
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(score.build())
            .item(back.build())
            .build(),
    ))
}

/// Admission numbers as typed (`domain::candidate::normalise_admission_number`): at least one.
pub fn admission_numbers() -> Array {
    let one = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[ ]*[A-Za-z0-9]{4,32}[ ]*$"))
        .build();
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(RefOr::T(one.into()))
        .min_items(Some(1))
        .build()
}

/// A multipart form: text parts and one or more `page` parts (PNG, JPEG or TIFF), in order.
fn page_form(texts: &[(&str, Schema, bool)], about: &str) -> RefOr<Schema> {
    let page = ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/octet-stream")
        .build();
    let pages = utoipa::openapi::schema::ArrayBuilder::new()
        .items(RefOr::T(page.into()))
        .min_items(Some(1))
        .description(Some("One part per template page, in order: PNG, JPEG or TIFF"));
    let mut b = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
        .description(Some(about))
        .property("page", pages)
        .required("page");
    for (name, schema, required) in texts {
        b = b.property(*name, schema.clone());
        if *required {
            b = b.required(*name);
        }
    }
    RefOr::T(b.build().into())
}

/// A sheet's upload (`POST /batches/{batch}/sheets`).
pub struct SheetUpload;

impl utoipa::PartialSchema for SheetUpload {
    fn schema() -> RefOr<Schema> {
        let number = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[ ]*[A-Za-z0-9]{4,32}[ ]*$"))
            .build()
            .into();
        page_form(
            &[
                ("admission_number", number, true),
                ("entry", words(&["barcode", "typed"]), true),
                ("replaces", words(&["true", "false"]), false),
            ],
            "The sheet: its admission number as read, how it was read, and its pages",
        )
    }
}

impl utoipa::ToSchema for SheetUpload {}

/// A pre-scored script's upload (`POST /exams/{exam}/questions/{q}/prescored`).
pub struct PrescoredUpload;

impl utoipa::PartialSchema for PrescoredUpload {
    fn schema() -> RefOr<Schema> {
        let score = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^[0-9]{1,7}(\.[0-9]{1,2})?$"))
            .description(Some("The definitive score, as text (at most two decimals)"))
            .build()
            .into();
        page_form(
            &[("score", score, true), ("role", words(&["calibration", "seed"]), true)],
            "The pre-scored script: its definitive score, its role, and its pages",
        )
    }
}

impl utoipa::ToSchema for PrescoredUpload {}

/// Scores by criterion code, or null: each a score.
pub fn criteria_scores() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .additional_properties(Some(RefOr::T(score())))
        .property_names(Some(code()))
        .build()
        .into()
}
