-- The marker archive (R2, R4): records that outlive one exam, and each marker's standing per exam.
CREATE TABLE markers (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL UNIQUE REFERENCES users (id),
    birth_date          DATE NOT NULL,
    school_code         TEXT NOT NULL,
    subject             TEXT NOT NULL,
    years_teaching      INTEGER NOT NULL CHECK (years_teaching >= 0),
    recommended_by      TEXT,
    recommending_school TEXT,
    recommended_on      DATE,
    health_attested     BOOLEAN NOT NULL,
    conduct_attested    BOOLEAN NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    created_by          TEXT NOT NULL REFERENCES users (id)
);

-- Relatives a staff member declares sitting an exam, by the vault's keyed hash of the
-- admission number (the number itself is never stored).
CREATE TABLE relatives (
    exam_id     TEXT NOT NULL REFERENCES exams (id),
    user_id     TEXT NOT NULL REFERENCES users (id),
    lookup      TEXT NOT NULL,
    declared_at TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, user_id, lookup)
);

CREATE TABLE marker_exams (
    exam_id    TEXT NOT NULL REFERENCES exams (id),
    marker_id  TEXT NOT NULL REFERENCES markers (id),
    status     TEXT NOT NULL,
    reasons    TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, marker_id)
);

CREATE TABLE marker_status_history (
    exam_id     TEXT NOT NULL REFERENCES exams (id),
    id          TEXT NOT NULL,
    marker_id   TEXT NOT NULL REFERENCES markers (id),
    n           INTEGER NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    changed_by  TEXT REFERENCES users (id),
    reason      TEXT NOT NULL,
    changed_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, id)
);

-- Open until decided; the statistics issue adds trigger kinds and decisions.
CREATE TABLE marker_reviews (
    exam_id    TEXT NOT NULL REFERENCES exams (id),
    id         TEXT NOT NULL,
    marker_id  TEXT NOT NULL REFERENCES markers (id),
    kind       TEXT NOT NULL,
    evidence   TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('open', 'decided')),
    opened_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, id)
);

CREATE TABLE trainings (
    exam_id     TEXT NOT NULL,
    marker_id   TEXT NOT NULL REFERENCES markers (id),
    question_id TEXT NOT NULL,
    course      TEXT NOT NULL,
    trained_on  DATE NOT NULL,
    trainer     TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users (id),
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, marker_id, question_id),
    FOREIGN KEY (exam_id, question_id) REFERENCES questions (exam_id, id)
);

CREATE TABLE marker_questions (
    exam_id     TEXT NOT NULL,
    marker_id   TEXT NOT NULL REFERENCES markers (id),
    question_id TEXT NOT NULL,
    PRIMARY KEY (exam_id, marker_id, question_id),
    FOREIGN KEY (exam_id, question_id) REFERENCES questions (exam_id, id)
);

-- Certifications (资格认定) and discipline entries belong to the archive, across exams.
CREATE TABLE certifications (
    id          TEXT PRIMARY KEY,
    marker_id   TEXT NOT NULL REFERENCES markers (id),
    subject     TEXT NOT NULL,
    level       TEXT NOT NULL,
    issued      DATE NOT NULL,
    expires     DATE,
    recorded_by TEXT NOT NULL REFERENCES users (id),
    recorded_at TIMESTAMP NOT NULL,
    CHECK (expires IS NULL OR expires > issued)
);
