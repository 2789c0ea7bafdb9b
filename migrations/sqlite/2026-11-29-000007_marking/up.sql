-- Blind distribution and independent marking (R5, R7, R9). Every table carries exam_id first in
-- its keys (distribution by exam).

-- One required independent marking of a script. `shuffle` is drawn at random when the task is
-- made, so that leasing in its order is leasing at random without sorting the whole queue.
CREATE TABLE tasks (
    exam_id          TEXT NOT NULL,
    id               TEXT NOT NULL,
    script_id        TEXT NOT NULL,
    question_id      TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('open', 'leased', 'done', 'void')),
    shuffle          BIGINT NOT NULL,
    marker_id        TEXT REFERENCES markers (id),
    lease_expires_at TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    done_at          TIMESTAMP,
    PRIMARY KEY (exam_id, id),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id),
    FOREIGN KEY (exam_id, question_id) REFERENCES questions (exam_id, id)
);
CREATE INDEX tasks_queue ON tasks (exam_id, question_id, state, shuffle);
CREATE INDEX tasks_of_script ON tasks (exam_id, script_id);
CREATE INDEX tasks_leases ON tasks (exam_id, state, lease_expires_at);

-- Every lease a marker was served: live work, a seed, or a self-check. Its id is the task id
-- the marker sees, so the three look alike. At most one lease per marker at a time.
CREATE TABLE serves (
    exam_id          TEXT NOT NULL,
    id               TEXT NOT NULL,
    marker_id        TEXT NOT NULL REFERENCES markers (id),
    kind             TEXT NOT NULL CHECK (kind IN ('live', 'seed', 'self_check')),
    question_id      TEXT NOT NULL,
    task_id          TEXT,
    script_id        TEXT,
    prescored_id     TEXT,
    anonymous_code   TEXT NOT NULL,
    workstation_id   TEXT,
    state            TEXT NOT NULL CHECK (state IN ('leased', 'scored', 'released', 'expired', 'flagged', 'ended')),
    day              DATE NOT NULL,
    leased_at        TIMESTAMP NOT NULL,
    lease_expires_at TIMESTAMP NOT NULL,
    ended_at         TIMESTAMP,
    PRIMARY KEY (exam_id, id),
    FOREIGN KEY (exam_id, question_id) REFERENCES questions (exam_id, id),
    FOREIGN KEY (exam_id, task_id) REFERENCES tasks (exam_id, id),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id),
    FOREIGN KEY (exam_id, prescored_id) REFERENCES prescored_scripts (exam_id, id),
    CHECK ((kind = 'live') = (task_id IS NOT NULL)),
    CHECK ((kind = 'seed') = (prescored_id IS NOT NULL))
);
CREATE UNIQUE INDEX serves_id ON serves (id);
CREATE UNIQUE INDEX serves_one_lease ON serves (exam_id, marker_id) WHERE state = 'leased';
CREATE INDEX serves_of_marker ON serves (exam_id, marker_id, day);

-- A marker holds or marks a script at most once, ever (R5): past leases and void marks count.
CREATE TABLE script_holders (
    exam_id   TEXT NOT NULL,
    script_id TEXT NOT NULL,
    marker_id TEXT NOT NULL REFERENCES markers (id),
    serve_id  TEXT NOT NULL,
    PRIMARY KEY (exam_id, script_id, marker_id),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id),
    FOREIGN KEY (exam_id, serve_id) REFERENCES serves (exam_id, id)
);

-- Independent marks (hundredths). Never updated by a marker; void ones stay, flagged.
CREATE TABLE marks (
    exam_id       TEXT NOT NULL,
    id            TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    serve_id      TEXT NOT NULL,
    script_id     TEXT NOT NULL,
    question_id   TEXT NOT NULL,
    marker_id     TEXT NOT NULL REFERENCES markers (id),
    score         BIGINT NOT NULL CHECK (score >= 0),
    criteria      TEXT NOT NULL,
    annotations   TEXT NOT NULL,
    seconds_spent INTEGER,
    void          BOOLEAN NOT NULL,
    void_reason   TEXT,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, id),
    UNIQUE (exam_id, task_id),
    UNIQUE (exam_id, script_id, marker_id),
    FOREIGN KEY (exam_id, task_id) REFERENCES tasks (exam_id, id),
    FOREIGN KEY (exam_id, serve_id) REFERENCES serves (exam_id, id),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id)
);
CREATE INDEX marks_of_marker ON marks (exam_id, marker_id, created_at);
CREATE INDEX marks_of_question ON marks (exam_id, question_id, created_at);

-- A seed's score against its definitive one; a self-check's against the marker's earlier mark.
CREATE TABLE seed_marks (
    exam_id      TEXT NOT NULL,
    serve_id     TEXT NOT NULL,
    marker_id    TEXT NOT NULL REFERENCES markers (id),
    prescored_id TEXT NOT NULL,
    score        BIGINT NOT NULL,
    deviation    BIGINT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, serve_id),
    FOREIGN KEY (exam_id, serve_id) REFERENCES serves (exam_id, id),
    FOREIGN KEY (exam_id, prescored_id) REFERENCES prescored_scripts (exam_id, id)
);
CREATE TABLE self_checks (
    exam_id       TEXT NOT NULL,
    serve_id      TEXT NOT NULL,
    marker_id     TEXT NOT NULL REFERENCES markers (id),
    script_id     TEXT NOT NULL,
    score         BIGINT NOT NULL,
    earlier_score BIGINT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, serve_id),
    FOREIGN KEY (exam_id, serve_id) REFERENCES serves (exam_id, id),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id)
);

-- A retried submit answers what the first did (Idempotency-Key), per account.
CREATE TABLE idempotency_keys (
    exam_id      TEXT NOT NULL REFERENCES exams (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    response     TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, user_id, key)
);

-- A script's final score and how it was reached.
CREATE TABLE finals (
    exam_id     TEXT NOT NULL,
    script_id   TEXT NOT NULL,
    question_id TEXT NOT NULL,
    score       BIGINT NOT NULL CHECK (score >= 0),
    method      TEXT NOT NULL CHECK (method IN ('mean', 'closest_pair', 'arbitration')),
    decided_by  TEXT REFERENCES users (id),
    reason      TEXT,
    decided_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, script_id),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id)
);

-- Marks too far apart (or a back-read beyond the tolerance): a leader arbitrates.
CREATE TABLE disputes (
    exam_id     TEXT NOT NULL,
    id          TEXT NOT NULL,
    script_id   TEXT NOT NULL,
    question_id TEXT NOT NULL,
    cause       TEXT NOT NULL CHECK (cause IN ('marks', 'backread')),
    spread      BIGINT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'resolved', 'lapsed')),
    opened_at   TIMESTAMP NOT NULL,
    resolved_by TEXT REFERENCES users (id),
    score       BIGINT,
    reason      TEXT,
    resolved_at TIMESTAMP,
    PRIMARY KEY (exam_id, id),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id)
);
CREATE UNIQUE INDEX disputes_id ON disputes (id);
CREATE UNIQUE INDEX disputes_one_open ON disputes (exam_id, script_id) WHERE status = 'open';

-- Resolved scripts sampled for a leader's second look (复评).
CREATE TABLE backreads (
    exam_id     TEXT NOT NULL,
    id          TEXT NOT NULL,
    script_id   TEXT NOT NULL,
    question_id TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'done', 'lapsed')),
    created_at  TIMESTAMP NOT NULL,
    leader_id   TEXT REFERENCES users (id),
    score       BIGINT,
    note        TEXT,
    done_at     TIMESTAMP,
    PRIMARY KEY (exam_id, id),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id)
);
CREATE UNIQUE INDEX backreads_id ON backreads (id);

-- Scripts a marker flagged (blank, illegible, misplaced, misconduct) for a leader.
CREATE TABLE problems (
    exam_id     TEXT NOT NULL,
    id          TEXT NOT NULL,
    script_id   TEXT NOT NULL,
    question_id TEXT NOT NULL,
    serve_id    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('blank', 'illegible', 'identity_exposed', 'misplaced', 'misconduct')),
    note        TEXT NOT NULL,
    flagged_by  TEXT NOT NULL REFERENCES markers (id),
    status      TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    resolution  TEXT CHECK (resolution IN ('scored', 'returned', 'treated')),
    resolved_by TEXT REFERENCES users (id),
    reason      TEXT,
    created_at  TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    PRIMARY KEY (exam_id, id),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id),
    FOREIGN KEY (exam_id, serve_id) REFERENCES serves (exam_id, id)
);
CREATE UNIQUE INDEX problems_id ON problems (id);
