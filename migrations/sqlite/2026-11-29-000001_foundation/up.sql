-- Foundation: accounts, workstations, service clients, exams, questions, templates,
-- approvals and the audit log. Every exam-scoped table carries exam_id first in its primary
-- key and in its foreign keys, so tables can be distributed by exam (Citus) without a rewrite.
-- Scores are integers in hundredths of a point. Times are UTC.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'leader', 'custodian', 'marker')),
    chief         BOOLEAN NOT NULL DEFAULT 0,
    active        BOOLEAN NOT NULL,
    token_version INTEGER NOT NULL DEFAULT 1,
    created_at    TIMESTAMP NOT NULL,
    created_by    TEXT
);

CREATE TABLE login_throttle (
    username        TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    locked_until    TIMESTAMP,
    last_failure_at TIMESTAMP NOT NULL
);

CREATE TABLE workstations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    key_hash   TEXT NOT NULL UNIQUE,
    active     BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT
);

CREATE TABLE service_clients (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    active      BOOLEAN NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    created_by  TEXT
);

CREATE TABLE exams (
    id             TEXT PRIMARY KEY,
    code           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    time_zone      TEXT NOT NULL,
    window_start   TIMESTAMP NOT NULL,
    window_end     TIMESTAMP NOT NULL,
    room_open      BOOLEAN NOT NULL DEFAULT 0,
    locked         BOOLEAN NOT NULL DEFAULT 0,
    released       BOOLEAN NOT NULL DEFAULT 0,
    settings       TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    created_by     TEXT NOT NULL,
    CHECK (window_end > window_start)
);
CREATE INDEX exams_window ON exams (window_start, window_end);

CREATE TABLE service_client_exams (
    exam_id   TEXT NOT NULL REFERENCES exams (id),
    client_id TEXT NOT NULL REFERENCES service_clients (id),
    PRIMARY KEY (exam_id, client_id)
);

CREATE TABLE questions (
    exam_id        TEXT NOT NULL REFERENCES exams (id),
    id             TEXT NOT NULL,
    code           TEXT NOT NULL,
    position       INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('essay', 'short')),
    max_score      BIGINT NOT NULL CHECK (max_score > 0),
    step           BIGINT NOT NULL CHECK (step > 0),
    tolerance      BIGINT NOT NULL CHECK (tolerance >= 0),
    final_step     BIGINT NOT NULL CHECK (final_step > 0),
    marks_required INTEGER NOT NULL,
    criteria       TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, id),
    UNIQUE (exam_id, code),
    CHECK (max_score % step = 0 AND max_score % final_step = 0 AND step % final_step = 0),
    CHECK (marks_required >= CASE kind WHEN 'essay' THEN 3 ELSE 2 END)
);

CREATE TABLE sheet_templates (
    exam_id    TEXT NOT NULL REFERENCES exams (id),
    body       TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (exam_id)
);

CREATE TABLE leader_scopes (
    exam_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    question_id TEXT NOT NULL,
    PRIMARY KEY (exam_id, user_id, question_id),
    FOREIGN KEY (exam_id, question_id) REFERENCES questions (exam_id, id)
);

-- Two-person requests. Most kinds act on one exam; activating a chief leader does not, so
-- exam_id may be empty here (a small governance table: a reference table on Citus).
CREATE TABLE approvals (
    id            TEXT PRIMARY KEY,
    exam_id       TEXT REFERENCES exams (id),
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by  TEXT NOT NULL REFERENCES users (id),
    requested_at  TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    decided_by    TEXT REFERENCES users (id),
    decided_at    TIMESTAMP,
    decision_note TEXT,
    CHECK (decided_by IS NULL OR decided_by <> requested_by)
);
CREATE INDEX approvals_pending ON approvals (status, kind);

-- The audit log: rows are inserted in the request's own transaction with no seq; the sealer
-- then gives them consecutive seq numbers in commit order and chains their hashes.
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    seq            BIGINT UNIQUE,
    at             TIMESTAMP NOT NULL,
    actor_id       TEXT,
    actor_role     TEXT,
    workstation_id TEXT,
    action         TEXT NOT NULL,
    object_type    TEXT,
    object_id      TEXT,
    exam_id        TEXT,
    outcome        TEXT NOT NULL,
    details        TEXT NOT NULL,
    request_id     TEXT,
    prev_hash      TEXT,
    hash           TEXT
);
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seq IS NULL;

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
