-- Back to one chain. The exam chains cannot be merged into it link for link, so their rows go
-- back unsealed and the sealer chains them after the '' chain's head; anchors written for exam
-- chains no longer match anything.
CREATE TABLE audit_log_single (
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
INSERT INTO audit_log_single (id, seq, at, actor_id, actor_role, workstation_id, action,
                              object_type, object_id, exam_id, outcome, details, request_id,
                              prev_hash, hash)
SELECT id, CASE WHEN chain = '' THEN seq END, at, actor_id, actor_role, workstation_id, action,
       object_type, object_id, exam_id, outcome, details, request_id,
       CASE WHEN chain = '' THEN prev_hash END, CASE WHEN chain = '' THEN hash END
FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_single RENAME TO audit_log;
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seq IS NULL;

CREATE TABLE audit_head_single (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head_single (id, seq, hash)
SELECT 1, COALESCE((SELECT seq FROM audit_head WHERE chain = ''), 0),
       COALESCE((SELECT hash FROM audit_head WHERE chain = ''),
                '0000000000000000000000000000000000000000000000000000000000000000');
DROP TABLE audit_head;
ALTER TABLE audit_head_single RENAME TO audit_head;
