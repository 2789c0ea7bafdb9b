DROP TRIGGER batches_approval_of_exam;
DROP TRIGGER batches_approval_of_exam_kept;
DROP TRIGGER discipline_entries_approval_of_exam;
DROP TRIGGER discipline_entries_approval_of_exam_kept;
DROP TRIGGER amendments_approval_of_exam;
DROP TRIGGER amendments_approval_of_exam_kept;
DROP TRIGGER exams_use_lock_approval;
DROP TRIGGER exams_use_release_approval;
DROP TRIGGER used_approvals_no_update;
DROP TRIGGER used_approvals_no_delete;
CREATE TABLE used_approvals_by_id (
    approval_id TEXT PRIMARY KEY REFERENCES approvals (id)
);
INSERT INTO used_approvals_by_id (approval_id) SELECT approval_id FROM used_approvals;
DROP TABLE used_approvals;
ALTER TABLE used_approvals_by_id RENAME TO used_approvals;
CREATE TRIGGER exams_use_lock_approval AFTER UPDATE OF locked ON exams
WHEN NEW.locked IS NOT OLD.locked
BEGIN INSERT INTO used_approvals (approval_id) VALUES (NEW.lock_approval_id); END;
CREATE TRIGGER exams_use_release_approval AFTER UPDATE OF released ON exams
WHEN NEW.released IS NOT OLD.released
BEGIN INSERT INTO used_approvals (approval_id) VALUES (NEW.release_approval_id); END;
CREATE TRIGGER used_approvals_no_update BEFORE UPDATE ON used_approvals
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a used approval stays used'); END;
CREATE TRIGGER used_approvals_no_delete BEFORE DELETE ON used_approvals
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a used approval stays used'); END;

DROP INDEX approvals_of_exam;
DROP INDEX approvals_one_pending;
CREATE UNIQUE INDEX approvals_one_pending ON approvals (pending_key);
DROP TRIGGER approvals_name_their_exam;
DROP TRIGGER approvals_made_pending;
INSERT INTO approvals (id, exam_id, kind, payload, status, requested_by, requested_at, expires_at,
                       decided_by, decided_at, decision_note, pending_key)
    SELECT id, NULL, kind, payload, status, requested_by, requested_at, expires_at,
           decided_by, decided_at, decision_note, pending_key
    FROM account_approvals;
CREATE TRIGGER approvals_made_pending BEFORE INSERT ON approvals
WHEN NEW.status <> 'pending' OR NEW.decided_by IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a request is made pending'); END;
DROP TABLE account_approvals;
