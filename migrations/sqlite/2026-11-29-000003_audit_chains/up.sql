-- The audit log chains per exam (chain = the exam id, '' for entries that concern no exam), so
-- it distributes with its exam and no exam's sealing waits on another's head. Rows sealed before
-- this migration stay in the '' chain, where their links and hashes still verify; rows not yet
-- sealed go to their exam's chain. SQLite cannot change constraints in place, so both tables
-- are rebuilt.
CREATE TABLE audit_log_chained (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    chain          TEXT NOT NULL DEFAULT '',
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
INSERT INTO audit_log_chained (id, chain, seq, at, actor_id, actor_role, workstation_id, action,
                               object_type, object_id, exam_id, outcome, details, request_id,
                               prev_hash, hash)
SELECT id, CASE WHEN seq IS NULL THEN COALESCE(exam_id, '') ELSE '' END, seq, at, actor_id,
       actor_role, workstation_id, action, object_type, object_id, exam_id, outcome, details,
       request_id, prev_hash, hash
FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_chained RENAME TO audit_log;
CREATE INDEX audit_log_unsealed ON audit_log (chain, id) WHERE seq IS NULL;

CREATE TABLE audit_head_chained (
    chain TEXT PRIMARY KEY NOT NULL,
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head_chained (chain, seq, hash) SELECT '', seq, hash FROM audit_head WHERE id = 1;
DROP TABLE audit_head;
ALTER TABLE audit_head_chained RENAME TO audit_head;
