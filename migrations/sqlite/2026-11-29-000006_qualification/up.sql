-- Pre-scored scripts (R6): cut from a scanned sheet by the same pipeline as live scans, linked
-- to no candidate, with a definitive score (hundredths) that no marker-facing answer carries.
CREATE TABLE prescored_scripts (
    exam_id      TEXT NOT NULL,
    id           TEXT NOT NULL,
    question_id  TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('calibration', 'seed')),
    definitive   BIGINT NOT NULL CHECK (definitive >= 0),
    image_key    TEXT NOT NULL,
    uploaded_by  TEXT NOT NULL REFERENCES users (id),
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, id),
    FOREIGN KEY (exam_id, question_id) REFERENCES questions (exam_id, id)
);
CREATE INDEX prescored_by_question ON prescored_scripts (exam_id, question_id, role);

-- One attempt at a question's qualification test: its calibration set in a random order of
-- its own, the result kept for the archive once the last script is scored.
CREATE TABLE qualification_attempts (
    exam_id        TEXT NOT NULL,
    id             TEXT NOT NULL,
    marker_id      TEXT NOT NULL REFERENCES markers (id),
    question_id    TEXT NOT NULL,
    n              INTEGER NOT NULL CHECK (n >= 1),
    started_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP,
    passed         BOOLEAN,
    within_count   INTEGER,
    total          INTEGER NOT NULL,
    max_deviation  BIGINT,
    PRIMARY KEY (exam_id, id),
    UNIQUE (exam_id, marker_id, question_id, n),
    FOREIGN KEY (exam_id, question_id) REFERENCES questions (exam_id, id)
);

CREATE TABLE qualification_tasks (
    exam_id       TEXT NOT NULL,
    id            TEXT NOT NULL,
    attempt_id    TEXT NOT NULL,
    prescored_id  TEXT NOT NULL,
    position      INTEGER NOT NULL,
    score         BIGINT,
    deviation     BIGINT,
    scored_at     TIMESTAMP,
    PRIMARY KEY (exam_id, id),
    UNIQUE (exam_id, attempt_id, position),
    UNIQUE (exam_id, attempt_id, prescored_id),
    FOREIGN KEY (exam_id, attempt_id) REFERENCES qualification_attempts (exam_id, id),
    FOREIGN KEY (exam_id, prescored_id) REFERENCES prescored_scripts (exam_id, id)
);
CREATE UNIQUE INDEX qualification_tasks_id ON qualification_tasks (id);

-- Sanctions (R10) in the archive: who decided, on whose approval, and why.
CREATE TABLE discipline_entries (
    exam_id      TEXT NOT NULL REFERENCES exams (id),
    id           TEXT NOT NULL,
    marker_id    TEXT NOT NULL REFERENCES markers (id),
    kind         TEXT NOT NULL CHECK (kind IN ('suspended', 'dismissed')),
    reason       TEXT NOT NULL,
    approval_id  TEXT NOT NULL REFERENCES approvals (id),
    requested_by TEXT NOT NULL REFERENCES users (id),
    decided_by   TEXT NOT NULL REFERENCES users (id),
    recorded_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, id)
);

-- A marker's history is numbered; two writers racing for one number cannot both commit.
CREATE UNIQUE INDEX marker_status_history_order ON marker_status_history (exam_id, marker_id, n);

-- How a review ended, and by whom.
ALTER TABLE marker_reviews ADD COLUMN decision TEXT;
ALTER TABLE marker_reviews ADD COLUMN decided_by TEXT REFERENCES users (id);
ALTER TABLE marker_reviews ADD COLUMN decided_at TIMESTAMP;

-- An image link shows either a live script or a pre-scored one, never both. SQLite changes a
-- column's constraints only by rebuilding the table.
CREATE TABLE image_tokens_new (
    exam_id      TEXT NOT NULL REFERENCES exams (id),
    token_hash   TEXT NOT NULL,
    script_id    TEXT,
    image_key    TEXT NOT NULL,
    holder       TEXT NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    revoked      BOOLEAN NOT NULL,
    prescored_id TEXT,
    PRIMARY KEY (exam_id, token_hash),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id),
    FOREIGN KEY (exam_id, prescored_id) REFERENCES prescored_scripts (exam_id, id),
    CONSTRAINT image_tokens_one_subject CHECK ((script_id IS NULL) <> (prescored_id IS NULL))
);
INSERT INTO image_tokens_new (exam_id, token_hash, script_id, image_key, holder, expires_at, revoked)
    SELECT exam_id, token_hash, script_id, image_key, holder, expires_at, revoked FROM image_tokens;
DROP TABLE image_tokens;
ALTER TABLE image_tokens_new RENAME TO image_tokens;
CREATE UNIQUE INDEX image_tokens_hash ON image_tokens (token_hash);
