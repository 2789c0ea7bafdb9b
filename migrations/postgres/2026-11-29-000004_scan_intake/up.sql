-- Scan intake: candidates in the identity vault, duty shifts, batches and their hand-over
-- chain, answer sheets cut into anonymous scripts, and image capabilities. Every exam-scoped
-- table carries exam_id first in its primary key and foreign keys (Citus distribution by exam).

-- The identity vault: name and admission number sealed (AEAD, key outside the database); found
-- by a keyed hash of the admission number. The school code stays clear: allocation needs it.
CREATE TABLE candidates (
    exam_id           TEXT NOT NULL REFERENCES exams (id),
    id                TEXT NOT NULL,
    lookup            TEXT NOT NULL,
    admission_sealed  TEXT NOT NULL,
    name_sealed       TEXT NOT NULL,
    school_code       TEXT NOT NULL,
    district          TEXT,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, id),
    UNIQUE (exam_id, lookup)
);

-- Absent for the whole exam (question_id '') or for one question.
CREATE TABLE absences (
    exam_id      TEXT NOT NULL,
    candidate_id TEXT NOT NULL,
    question_id  TEXT NOT NULL,
    recorded_by  TEXT NOT NULL REFERENCES users (id),
    recorded_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, candidate_id, question_id),
    FOREIGN KEY (exam_id, candidate_id) REFERENCES candidates (exam_id, id)
);

-- A custodian on duty for an exam from check-in to check-out (NULL while on duty).
CREATE TABLE duty_shifts (
    exam_id        TEXT NOT NULL REFERENCES exams (id),
    id             TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id),
    checked_in_at  TIMESTAMP NOT NULL,
    checked_out_at TIMESTAMP,
    PRIMARY KEY (exam_id, id)
);
CREATE UNIQUE INDEX duty_shifts_one_open ON duty_shifts (exam_id, user_id) WHERE checked_out_at IS NULL;

CREATE TABLE batches (
    exam_id      TEXT NOT NULL REFERENCES exams (id),
    id           TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'released', 'closed')),
    label        TEXT NOT NULL,
    approval_id  TEXT NOT NULL REFERENCES approvals (id),
    opened_at    TIMESTAMP NOT NULL,
    released_at  TIMESTAMP,
    PRIMARY KEY (exam_id, id)
);
CREATE UNIQUE INDEX batches_id ON batches (id);

-- Custody of a batch passes from two people to two people; all four confirm under their own login.
CREATE TABLE handovers (
    exam_id    TEXT NOT NULL,
    id         TEXT NOT NULL,
    batch_id   TEXT NOT NULL,
    from_a     TEXT NOT NULL REFERENCES users (id),
    from_b     TEXT NOT NULL REFERENCES users (id),
    to_a       TEXT NOT NULL REFERENCES users (id),
    to_b       TEXT NOT NULL REFERENCES users (id),
    note       TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, id),
    FOREIGN KEY (exam_id, batch_id) REFERENCES batches (exam_id, id)
);
CREATE UNIQUE INDEX handovers_id ON handovers (id);

CREATE TABLE handover_confirmations (
    exam_id      TEXT NOT NULL,
    handover_id  TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id),
    confirmed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, handover_id, user_id),
    FOREIGN KEY (exam_id, handover_id) REFERENCES handovers (exam_id, id)
);

-- One candidate's answer sheet. Its candidate is named only sealed (and by a keyed hash, so a
-- second sheet is found): nothing in clear links a script to a person.
CREATE TABLE sheets (
    exam_id           TEXT NOT NULL,
    id                TEXT NOT NULL,
    batch_id          TEXT NOT NULL,
    candidate_lookup  TEXT NOT NULL,
    candidate_sealed  TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active', 'replaced')),
    entry             TEXT NOT NULL CHECK (entry IN ('barcode', 'typed')),
    entered_by        TEXT NOT NULL REFERENCES users (id),
    confirmed_by      TEXT REFERENCES users (id),
    pages             INTEGER NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, id),
    FOREIGN KEY (exam_id, batch_id) REFERENCES batches (exam_id, id)
);
CREATE UNIQUE INDEX sheets_id ON sheets (id);
CREATE UNIQUE INDEX sheets_one_active ON sheets (exam_id, candidate_lookup) WHERE status = 'active';

-- Original pages (sealed, custodians only) by content address.
CREATE TABLE sheet_pages (
    exam_id         TEXT NOT NULL,
    sheet_id        TEXT NOT NULL,
    page            INTEGER NOT NULL,
    original_key    TEXT NOT NULL,
    turned          BOOLEAN NOT NULL,
    needs_treatment BOOLEAN NOT NULL,
    extra_masks     TEXT NOT NULL,
    PRIMARY KEY (exam_id, sheet_id, page),
    FOREIGN KEY (exam_id, sheet_id) REFERENCES sheets (exam_id, id)
);

CREATE TABLE scripts (
    exam_id        TEXT NOT NULL,
    id             TEXT NOT NULL,
    question_id    TEXT NOT NULL,
    sheet_id       TEXT NOT NULL,
    anonymous_code TEXT NOT NULL,
    school_code    TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('held', 'needs_treatment', 'awaiting', 'marking', 'disputed', 'withdrawn', 'resolved', 'void')),
    page           INTEGER NOT NULL,
    image_key      TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, id),
    UNIQUE (exam_id, anonymous_code),
    FOREIGN KEY (exam_id, question_id) REFERENCES questions (exam_id, id),
    FOREIGN KEY (exam_id, sheet_id) REFERENCES sheets (exam_id, id)
);
CREATE UNIQUE INDEX scripts_id ON scripts (id);
CREATE INDEX scripts_state ON scripts (exam_id, state);

-- A capability to one masked image for one holder until it expires or is revoked. Only the
-- token's hash is kept.
CREATE TABLE image_tokens (
    exam_id    TEXT NOT NULL REFERENCES exams (id),
    token_hash TEXT NOT NULL,
    script_id  TEXT NOT NULL,
    image_key  TEXT NOT NULL,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked    BOOLEAN NOT NULL,
    PRIMARY KEY (exam_id, token_hash),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id)
);
CREATE UNIQUE INDEX image_tokens_hash ON image_tokens (token_hash);

-- A scanning station reads admission numbers from the sheet's barcode; only its entries need
-- no second custodian's typing.
ALTER TABLE workstations ADD COLUMN scanner BOOLEAN NOT NULL DEFAULT FALSE;
