-- Entries that concern no exam (and the history sealed before the log had chains, which is of
-- that chain) move to a table of their own, as exam-less approvals did: the audit log left holds
-- exam chains only. (SQLite cannot add NOT NULL in place; PostgreSQL's migration does.)
CREATE TABLE audit_log_general (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    chain          TEXT NOT NULL DEFAULT '' CHECK (chain = ''),
    seq            BIGINT,
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
    hash           TEXT,
    UNIQUE (chain, seq)
);
INSERT INTO audit_log_general SELECT id, chain, seq, at, actor_id, actor_role, workstation_id, action,
    object_type, object_id, exam_id, outcome, details, request_id, prev_hash, hash
FROM audit_log WHERE chain = '';
DELETE FROM audit_log WHERE chain = '';
CREATE INDEX audit_log_general_unsealed ON audit_log_general (chain, id) WHERE seq IS NULL;

CREATE TABLE audit_head_general (
    chain TEXT PRIMARY KEY NOT NULL CHECK (chain = ''),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head_general SELECT chain, seq, hash FROM audit_head WHERE chain = '';
DELETE FROM audit_head WHERE chain = '';
