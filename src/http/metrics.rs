//! `GET /metrics`: the server and its marking room in the Prometheus text format, for an admin
//! or a scraper holding `metrics.scrape_token`. Counters and latencies are this process's own
//! (several servers are summed by Prometheus); the room's gauges are read from the database at
//! each scrape, so every server reports the same room.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock};

use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram, gauge};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use utoipa_actix_web::service_config::ServiceConfig;

use super::caller::{AdminRole, Authorized};
use super::error::ApiError;
use super::state::AppState;
use crate::db::gauges::Room;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(scrape);
}

/// Request latencies from a millisecond to a minute: a lease answers in milliseconds, an
/// upload of a sheet's pages in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use (every server of a process shares it, as
/// Prometheus expects of one process). None when another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| b.install_recorder());
            match installed {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::error!(error = %e, "the metrics recorder could not be installed");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    describe_counter!(
        "markroom_http_requests_total",
        "Requests answered, by route template and status"
    );
    describe_histogram!(
        "markroom_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a request, by route template"
    );
    describe_gauge!("markroom_db_pool_size", "Database connections the pool may open");
    describe_gauge!(
        "markroom_db_connections_in_use",
        "Database connections held by requests now"
    );
    describe_gauge!(
        "markroom_db_requests_waiting",
        "Requests waiting for a database connection now"
    );
    describe_counter!(
        "markroom_audit_entries_appended_total",
        "Audit entries committed by this server"
    );
    describe_counter!(
        "markroom_audit_entries_sealed_total",
        "Audit entries chained by this server's sealer"
    );
    describe_gauge!(
        "markroom_audit_sealer_lag_seconds",
        Unit::Seconds,
        "Age of the oldest committed audit entry not yet chained (0 when none waits)"
    );
    describe_counter!(
        "markroom_leases_total",
        "Leases answered (live, seed or self-check), by exam and question code"
    );
    describe_counter!("markroom_marks_total", "Live marks recorded, by exam and question code");
    describe_gauge!(
        "markroom_tasks",
        "Marking tasks by exam, question and state (open, leased, done, void)"
    );
    describe_gauge!("markroom_disputes_open", "Disputes waiting for a leader, by exam");
    describe_gauge!(
        "markroom_reviews_open",
        "Marker reviews waiting for leadership, by exam"
    );
    describe_gauge!("markroom_markers_paused", "Markers paused pending review, by exam");
}

/// Metrics in the Prometheus text format: requests by route and status, latency histograms,
/// the database pool, the audit sealer, and the marking room (tasks by exam, question and
/// state; marks; open disputes and reviews; paused markers). An admin's token (from a
/// registered workstation while a window is open), or `Authorization: Bearer` with the
/// settings' `metrics.scrape_token`.
#[utoipa::path(
    tag = "health",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The metrics", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "No token, or not a valid one", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = super::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
pub async fn scrape(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if !scraper(&state, &req) {
        Authorized::<AdminRole>::from_request(&req, &mut Payload::None).await?;
    }
    let room = state
        .db
        .read(|c| crate::db::gauges::room(c).map_err(ApiError::from))
        .await?;
    record_pool(&state);
    record_room(&room);
    let text = handle().map(|h| {
        h.run_upkeep();
        h.render()
    });
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text.unwrap_or_default()))
}

/// Whether the request carries the scrape token. Digests are compared, so the time taken says
/// nothing about the token itself.
fn scraper(state: &AppState, req: &HttpRequest) -> bool {
    let Some(expected) = state.settings.metrics.scrape_token.as_deref().filter(|t| !t.is_empty()) else {
        return false;
    };
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    given.is_some_and(|g| Sha256::digest(g.as_bytes()) == Sha256::digest(expected.as_bytes()))
}

fn record_pool(state: &AppState) {
    let pool = state.db.pool_status();
    gauge!("markroom_db_pool_size").set(pool.size as f64);
    gauge!("markroom_db_connections_in_use").set(pool.in_use as f64);
    gauge!("markroom_db_requests_waiting").set(pool.waiting as f64);
}

fn record_room(room: &Room) {
    let tasks = room.tasks.iter().map(|t| {
        (
            vec![
                ("exam", t.exam.clone()),
                ("question", t.question.clone()),
                ("state", t.state.clone()),
            ],
            t.n,
        )
    });
    set_all("markroom_tasks", tasks.collect());
    let by_exam =
        |rows: &[crate::db::gauges::ExamCount]| rows.iter().map(|r| (vec![("exam", r.exam.clone())], r.n)).collect();
    set_all("markroom_disputes_open", by_exam(&room.disputes_open));
    set_all("markroom_reviews_open", by_exam(&room.reviews_open));
    set_all("markroom_markers_paused", by_exam(&room.markers_paused));
}

type Labels = Vec<(&'static str, String)>;

/// Label sets each gauge was last given: one that a count no longer returns (the last open
/// dispute resolved) is set to 0 rather than left at its old value.
static SEEN: Mutex<BTreeMap<&'static str, BTreeSet<Labels>>> = Mutex::new(BTreeMap::new());

fn set_all(name: &'static str, rows: Vec<(Labels, i64)>) {
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    let known = seen.entry(name).or_default();
    let now: BTreeSet<Labels> = rows.iter().map(|(l, _)| l.clone()).collect();
    for gone in known.difference(&now) {
        gauge!(name, labels_of(gone)).set(0.0);
    }
    for (labels, n) in rows {
        gauge!(name, labels_of(&labels)).set(n as f64);
        known.insert(labels);
    }
}

fn labels_of(labels: &Labels) -> Vec<::metrics::Label> {
    labels
        .iter()
        .map(|(k, v)| ::metrics::Label::new(*k, v.clone()))
        .collect()
}

/// Exam codes by id, for the leases counter's label (a code never changes once the exam exists).
static EXAM_CODES: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// A lease answered (a running lease asked for again counts again: it is what the room served).
pub async fn lease_issued(state: &AppState, exam_id: &str, question_code: &str) {
    let known = EXAM_CODES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(exam_id)
        .cloned();
    let code = match known {
        Some(code) => code,
        None => {
            let id = exam_id.to_string();
            let Ok(exam) = state
                .db
                .read(move |c| crate::db::exams::by_id(c, &id).map_err(ApiError::from))
                .await
            else {
                return;
            };
            EXAM_CODES
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(exam_id.to_string(), exam.code.clone());
            exam.code
        }
    };
    ::metrics::counter!("markroom_leases_total", "exam" => code, "question" => question_code.to_string()).increment(1);
}

/// A live mark recorded (after its commit).
pub fn mark_recorded(exam_code: &str, question_code: &str) {
    ::metrics::counter!("markroom_marks_total", "exam" => exam_code.to_string(), "question" => question_code.to_string())
        .increment(1);
}
