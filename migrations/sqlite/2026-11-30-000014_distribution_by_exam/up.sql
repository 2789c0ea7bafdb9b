-- As on PostgreSQL: requests that concern no exam (activating staff accounts) move to a table
-- of their own, and every request left in `approvals` names its exam. (SQLite cannot make the
-- column NOT NULL without rebuilding a table others refer to; a trigger refuses the NULL.)
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
CREATE TRIGGER account_approvals_made_pending BEFORE INSERT ON account_approvals
WHEN NEW.status <> 'pending' OR NEW.decided_by IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a request is made pending'); END;
CREATE TRIGGER account_approvals_decided_once BEFORE UPDATE ON account_approvals
WHEN OLD.status <> 'pending' OR NEW.kind IS NOT OLD.kind
  OR NEW.payload IS NOT OLD.payload OR NEW.requested_by IS NOT OLD.requested_by
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a request is decided once and never edited'); END;
CREATE TRIGGER account_approvals_never_removed BEFORE DELETE ON account_approvals
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a request is never removed'); END;

-- The moved requests leave `approvals` once, here, by the migration itself.
DROP TRIGGER approvals_never_removed;
DELETE FROM approvals WHERE exam_id IS NULL;
CREATE TRIGGER approvals_never_removed BEFORE DELETE ON approvals
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a request is never removed'); END;
CREATE TRIGGER approvals_name_their_exam BEFORE INSERT ON approvals
WHEN NEW.exam_id IS NULL
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a request of an exam names it'); END;
DROP INDEX approvals_one_pending;
CREATE UNIQUE INDEX approvals_one_pending ON approvals (exam_id, pending_key);
CREATE UNIQUE INDEX approvals_of_exam ON approvals (exam_id, id);

-- A used approval is used within its exam.
DROP TRIGGER exams_use_lock_approval;
DROP TRIGGER exams_use_release_approval;
DROP TRIGGER used_approvals_no_update;
DROP TRIGGER used_approvals_no_delete;
CREATE TABLE used_approvals_by_exam (
    exam_id     TEXT NOT NULL,
    approval_id TEXT NOT NULL,
    PRIMARY KEY (exam_id, approval_id),
    FOREIGN KEY (exam_id, approval_id) REFERENCES approvals (exam_id, id)
);
INSERT INTO used_approvals_by_exam (exam_id, approval_id)
    SELECT a.exam_id, u.approval_id FROM used_approvals u JOIN approvals a ON a.id = u.approval_id;
DROP TABLE used_approvals;
ALTER TABLE used_approvals_by_exam RENAME TO used_approvals;
CREATE TRIGGER exams_use_lock_approval AFTER UPDATE OF locked ON exams
WHEN NEW.locked IS NOT OLD.locked
BEGIN INSERT INTO used_approvals (exam_id, approval_id) VALUES (NEW.id, NEW.lock_approval_id); END;
CREATE TRIGGER exams_use_release_approval AFTER UPDATE OF released ON exams
WHEN NEW.released IS NOT OLD.released
BEGIN INSERT INTO used_approvals (exam_id, approval_id) VALUES (NEW.id, NEW.release_approval_id); END;
CREATE TRIGGER used_approvals_no_update BEFORE UPDATE ON used_approvals
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a used approval stays used'); END;
CREATE TRIGGER used_approvals_no_delete BEFORE DELETE ON used_approvals
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a used approval stays used'); END;

-- What PostgreSQL's foreign keys on (exam_id, approval_id) say: an approval behind a batch, a
-- sanction or an amendment is one of the same exam. (SQLite's keys name approvals (id) alone,
-- and rebuilding those tables would break the keys that point at them. A missing exam is left
-- to the exam's own foreign key.)
CREATE TRIGGER batches_approval_of_exam BEFORE INSERT ON batches
WHEN EXISTS (SELECT 1 FROM exams WHERE id = NEW.exam_id)
  AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.id = NEW.approval_id AND a.exam_id = NEW.exam_id)
BEGIN SELECT RAISE(ABORT, 'approval_of_another_exam: the approval is not one of this exam'); END;
CREATE TRIGGER batches_approval_of_exam_kept BEFORE UPDATE OF exam_id, approval_id ON batches
WHEN EXISTS (SELECT 1 FROM exams WHERE id = NEW.exam_id)
  AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.id = NEW.approval_id AND a.exam_id = NEW.exam_id)
BEGIN SELECT RAISE(ABORT, 'approval_of_another_exam: the approval is not one of this exam'); END;
CREATE TRIGGER discipline_entries_approval_of_exam BEFORE INSERT ON discipline_entries
WHEN EXISTS (SELECT 1 FROM exams WHERE id = NEW.exam_id)
  AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.id = NEW.approval_id AND a.exam_id = NEW.exam_id)
BEGIN SELECT RAISE(ABORT, 'approval_of_another_exam: the approval is not one of this exam'); END;
CREATE TRIGGER discipline_entries_approval_of_exam_kept BEFORE UPDATE OF exam_id, approval_id ON discipline_entries
WHEN EXISTS (SELECT 1 FROM exams WHERE id = NEW.exam_id)
  AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.id = NEW.approval_id AND a.exam_id = NEW.exam_id)
BEGIN SELECT RAISE(ABORT, 'approval_of_another_exam: the approval is not one of this exam'); END;
CREATE TRIGGER amendments_approval_of_exam BEFORE INSERT ON amendments
WHEN EXISTS (SELECT 1 FROM exams WHERE id = NEW.exam_id)
  AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.id = NEW.approval_id AND a.exam_id = NEW.exam_id)
BEGIN SELECT RAISE(ABORT, 'approval_of_another_exam: the approval is not one of this exam'); END;
CREATE TRIGGER amendments_approval_of_exam_kept BEFORE UPDATE OF exam_id, approval_id ON amendments
WHEN EXISTS (SELECT 1 FROM exams WHERE id = NEW.exam_id)
  AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.id = NEW.approval_id AND a.exam_id = NEW.exam_id)
BEGIN SELECT RAISE(ABORT, 'approval_of_another_exam: the approval is not one of this exam'); END;
