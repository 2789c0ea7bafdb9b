-- Distribution by exam (Citus, `schema/distribution.toml`): every key of an exam's tables leads
-- with the exam, and nothing of an exam lives in a table without it.

-- Requests that concern no exam (activating staff accounts) move to a table of their own, so
-- that every request left in `approvals` names its exam.
CREATE TABLE account_approvals (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by  TEXT NOT NULL REFERENCES users (id),
    requested_at  TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    decided_by    TEXT REFERENCES users (id),
    decided_at    TIMESTAMP,
    decision_note TEXT,
    pending_key   TEXT UNIQUE,
    CHECK (decided_by IS NULL OR decided_by <> requested_by)
);
CREATE INDEX account_approvals_pending ON account_approvals (status, kind);
INSERT INTO account_approvals (id, kind, payload, status, requested_by, requested_at, expires_at,
                               decided_by, decided_at, decision_note, pending_key)
    SELECT id, kind, payload, status, requested_by, requested_at, expires_at,
           decided_by, decided_at, decision_note, pending_key
    FROM approvals WHERE exam_id IS NULL;

CREATE FUNCTION markroom_guard_account_approvals() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'approvals_kept: a request is never removed';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'pending' OR NEW.decided_by IS NOT NULL THEN
            RAISE EXCEPTION 'approvals_kept: a request is made pending';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status <> 'pending' OR NEW.kind IS DISTINCT FROM OLD.kind
       OR NEW.payload IS DISTINCT FROM OLD.payload OR NEW.requested_by IS DISTINCT FROM OLD.requested_by THEN
        RAISE EXCEPTION 'approvals_kept: a request is decided once and never edited';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER account_approvals_guard BEFORE INSERT OR UPDATE OR DELETE ON account_approvals
    FOR EACH ROW EXECUTE FUNCTION markroom_guard_account_approvals();

-- The kept requests are removed from `approvals` once, here, by the migration itself.
ALTER TABLE approvals DISABLE TRIGGER approvals_guard;
DELETE FROM approvals WHERE exam_id IS NULL;
ALTER TABLE approvals ENABLE TRIGGER approvals_guard;
ALTER TABLE approvals ALTER COLUMN exam_id SET NOT NULL;

-- Keys of `approvals` and of everything that points at it lead with the exam. The exam
-- catalogue (a reference table) keeps no foreign key into an exam's tables: its guard trigger
-- checks the approval behind each lock and release, as before.
ALTER TABLE exams DROP CONSTRAINT exams_lock_approval_id_fkey;
ALTER TABLE exams DROP CONSTRAINT exams_release_approval_id_fkey;
ALTER TABLE batches DROP CONSTRAINT batches_approval_id_fkey;
ALTER TABLE discipline_entries DROP CONSTRAINT discipline_entries_approval_id_fkey;
ALTER TABLE amendments DROP CONSTRAINT amendments_approval_id_fkey;
ALTER TABLE amendments DROP CONSTRAINT amendments_approval_id_key;
ALTER TABLE used_approvals DROP CONSTRAINT used_approvals_approval_id_fkey;
ALTER TABLE approvals DROP CONSTRAINT approvals_pkey;
ALTER TABLE approvals ADD PRIMARY KEY (exam_id, id);
DROP INDEX approvals_one_pending;
CREATE UNIQUE INDEX approvals_one_pending ON approvals (exam_id, pending_key);
ALTER TABLE batches ADD FOREIGN KEY (exam_id, approval_id) REFERENCES approvals (exam_id, id);
ALTER TABLE discipline_entries ADD FOREIGN KEY (exam_id, approval_id) REFERENCES approvals (exam_id, id);
ALTER TABLE amendments ADD FOREIGN KEY (exam_id, approval_id) REFERENCES approvals (exam_id, id);
ALTER TABLE amendments ADD UNIQUE (exam_id, approval_id);

-- A used approval is used within its exam.
ALTER TABLE used_approvals ADD COLUMN exam_id TEXT;
UPDATE used_approvals u SET exam_id = a.exam_id FROM approvals a WHERE a.id = u.approval_id;
ALTER TABLE used_approvals ALTER COLUMN exam_id SET NOT NULL;
ALTER TABLE used_approvals DROP CONSTRAINT used_approvals_pkey;
ALTER TABLE used_approvals ADD PRIMARY KEY (exam_id, approval_id);
ALTER TABLE used_approvals ADD FOREIGN KEY (exam_id, approval_id) REFERENCES approvals (exam_id, id);
CREATE OR REPLACE FUNCTION markroom_use_approval() RETURNS trigger AS $$
BEGIN
    IF NEW.locked IS DISTINCT FROM OLD.locked THEN
        INSERT INTO used_approvals (exam_id, approval_id) VALUES (NEW.id, NEW.lock_approval_id);
    END IF;
    IF NEW.released IS DISTINCT FROM OLD.released THEN
        INSERT INTO used_approvals (exam_id, approval_id) VALUES (NEW.id, NEW.release_approval_id);
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

-- The audit log distributes by chain: an exam's id, or '' for the entries that concern none.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log ADD PRIMARY KEY (chain, id);

-- Ids are random UUIDs: lookups by id alone keep their index, without a uniqueness that a
-- distributed table could not enforce across shards.
DROP INDEX batches_id;
CREATE INDEX batches_id ON batches (id);
DROP INDEX handovers_id;
CREATE INDEX handovers_id ON handovers (id);
DROP INDEX sheets_id;
CREATE INDEX sheets_id ON sheets (id);
DROP INDEX image_tokens_hash;
CREATE INDEX image_tokens_hash ON image_tokens (token_hash);
DROP INDEX scripts_id;
CREATE INDEX scripts_id ON scripts (id);
DROP INDEX qualification_tasks_id;
CREATE INDEX qualification_tasks_id ON qualification_tasks (id);
DROP INDEX serves_id;
CREATE INDEX serves_id ON serves (id);
DROP INDEX disputes_id;
CREATE INDEX disputes_id ON disputes (id);
DROP INDEX backreads_id;
CREATE INDEX backreads_id ON backreads (id);
DROP INDEX problems_id;
CREATE INDEX problems_id ON problems (id);
