DROP INDEX problems_id;
CREATE UNIQUE INDEX problems_id ON problems (id);
DROP INDEX backreads_id;
CREATE UNIQUE INDEX backreads_id ON backreads (id);
DROP INDEX disputes_id;
CREATE UNIQUE INDEX disputes_id ON disputes (id);
DROP INDEX serves_id;
CREATE UNIQUE INDEX serves_id ON serves (id);
DROP INDEX qualification_tasks_id;
CREATE UNIQUE INDEX qualification_tasks_id ON qualification_tasks (id);
DROP INDEX scripts_id;
CREATE UNIQUE INDEX scripts_id ON scripts (id);
DROP INDEX sheets_id;
CREATE UNIQUE INDEX sheets_id ON sheets (id);
DROP INDEX handovers_id;
CREATE UNIQUE INDEX handovers_id ON handovers (id);
DROP INDEX batches_id;
CREATE UNIQUE INDEX batches_id ON batches (id);
DROP INDEX image_tokens_hash;
CREATE UNIQUE INDEX image_tokens_hash ON image_tokens (token_hash);

ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log ADD PRIMARY KEY (id);

CREATE OR REPLACE FUNCTION markroom_use_approval() RETURNS trigger AS $$
BEGIN
    IF NEW.locked IS DISTINCT FROM OLD.locked THEN
        INSERT INTO used_approvals (approval_id) VALUES (NEW.lock_approval_id);
    END IF;
    IF NEW.released IS DISTINCT FROM OLD.released THEN
        INSERT INTO used_approvals (approval_id) VALUES (NEW.release_approval_id);
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
ALTER TABLE used_approvals DROP CONSTRAINT used_approvals_exam_id_approval_id_fkey;
ALTER TABLE used_approvals DROP CONSTRAINT used_approvals_pkey;
ALTER TABLE used_approvals DROP COLUMN exam_id;
ALTER TABLE used_approvals ADD PRIMARY KEY (approval_id);

ALTER TABLE amendments DROP CONSTRAINT amendments_exam_id_approval_id_key;
ALTER TABLE amendments DROP CONSTRAINT amendments_exam_id_approval_id_fkey;
ALTER TABLE discipline_entries DROP CONSTRAINT discipline_entries_exam_id_approval_id_fkey;
ALTER TABLE batches DROP CONSTRAINT batches_exam_id_approval_id_fkey;
DROP INDEX approvals_one_pending;
CREATE UNIQUE INDEX approvals_one_pending ON approvals (pending_key);
ALTER TABLE approvals DROP CONSTRAINT approvals_pkey;
ALTER TABLE approvals ADD PRIMARY KEY (id);
ALTER TABLE approvals ALTER COLUMN exam_id DROP NOT NULL;
ALTER TABLE used_approvals ADD CONSTRAINT used_approvals_approval_id_fkey FOREIGN KEY (approval_id) REFERENCES approvals (id);
ALTER TABLE amendments ADD CONSTRAINT amendments_approval_id_key UNIQUE (approval_id);
ALTER TABLE amendments ADD CONSTRAINT amendments_approval_id_fkey FOREIGN KEY (approval_id) REFERENCES approvals (id);
ALTER TABLE discipline_entries ADD CONSTRAINT discipline_entries_approval_id_fkey FOREIGN KEY (approval_id) REFERENCES approvals (id);
ALTER TABLE batches ADD CONSTRAINT batches_approval_id_fkey FOREIGN KEY (approval_id) REFERENCES approvals (id);
ALTER TABLE exams ADD CONSTRAINT exams_release_approval_id_fkey FOREIGN KEY (release_approval_id) REFERENCES approvals (id);
ALTER TABLE exams ADD CONSTRAINT exams_lock_approval_id_fkey FOREIGN KEY (lock_approval_id) REFERENCES approvals (id);

ALTER TABLE approvals DISABLE TRIGGER approvals_guard;
INSERT INTO approvals (id, exam_id, kind, payload, status, requested_by, requested_at, expires_at,
                       decided_by, decided_at, decision_note, pending_key)
    SELECT id, NULL, kind, payload, status, requested_by, requested_at, expires_at,
           decided_by, decided_at, decision_note, pending_key
    FROM account_approvals;
ALTER TABLE approvals ENABLE TRIGGER approvals_guard;
DROP TABLE account_approvals;
DROP FUNCTION markroom_guard_account_approvals();
