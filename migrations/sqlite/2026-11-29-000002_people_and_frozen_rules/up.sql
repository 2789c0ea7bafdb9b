-- Foundation hardening. Every account names one person: a full name and the keyed hash (HMAC)
-- of an identity-document number, unique, so one person holds at most one account (R8: two
-- accounts are two people). An account someone else made must change its password first.
ALTER TABLE users ADD COLUMN full_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN id_document_hash TEXT;
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN one_time_password_expires_at TIMESTAMP;
CREATE UNIQUE INDEX users_one_account_per_person ON users (id_document_hash);

-- A check value for each key that makes stored hashes comparable (the identity key): a node
-- started with another key would silently let one person hold two accounts, so it is refused.
CREATE TABLE key_checks (
    name        TEXT PRIMARY KEY,
    check_value TEXT NOT NULL
);

-- The whole rule set in force when the exam was made (defaults laid under its overrides), so
-- a later settings file cannot change an exam in progress. Empty on exams made before.
ALTER TABLE exams ADD COLUMN rules TEXT NOT NULL DEFAULT '';

-- Positions come from the database and cannot repeat, even when two questions are added at once.
CREATE UNIQUE INDEX questions_position ON questions (exam_id, position);

-- At most one pending request per act: the key (kind, exam, payload) is set while pending and
-- cleared when decided or found expired; the unique index refuses a concurrent duplicate.
ALTER TABLE approvals ADD COLUMN pending_key TEXT;
CREATE UNIQUE INDEX approvals_one_pending ON approvals (pending_key);
