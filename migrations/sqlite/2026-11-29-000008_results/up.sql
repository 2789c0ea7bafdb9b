-- Lock, release and amendments (R8, R10). The database itself keeps a locked exam's marks and
-- finals unchanged, and moves the lock and release flags only on an approved request of the
-- right kind: the service cannot do otherwise, whatever its code says.

ALTER TABLE exams ADD COLUMN lock_approval_id TEXT REFERENCES approvals (id);
ALTER TABLE exams ADD COLUMN release_approval_id TEXT REFERENCES approvals (id);
ALTER TABLE exams ADD COLUMN locked_at TIMESTAMP;
ALTER TABLE exams ADD COLUMN released_at TIMESTAMP;

-- A released final changed on an approved `amend` request: a new version, the old kept.
CREATE TABLE amendments (
    exam_id     TEXT NOT NULL REFERENCES exams (id),
    id          TEXT NOT NULL,
    script_id   TEXT NOT NULL,
    question_id TEXT NOT NULL,
    old_score   BIGINT NOT NULL,
    score       BIGINT NOT NULL CHECK (score >= 0),
    reason      TEXT NOT NULL,
    approval_id TEXT NOT NULL UNIQUE REFERENCES approvals (id),
    amended_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (exam_id, id),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id)
);
CREATE INDEX amendments_changed ON amendments (exam_id, amended_at);
CREATE INDEX amendments_of_script ON amendments (exam_id, script_id, amended_at);

-- Marks and finals of a locked exam neither change nor go, and none are added.
CREATE TRIGGER marks_locked_insert BEFORE INSERT ON marks
WHEN (SELECT locked FROM exams WHERE id = NEW.exam_id)
BEGIN SELECT RAISE(ABORT, 'exam_locked: the marks of a locked exam do not change'); END;
CREATE TRIGGER marks_locked_update BEFORE UPDATE ON marks
WHEN (SELECT locked FROM exams WHERE id = OLD.exam_id) OR (SELECT locked FROM exams WHERE id = NEW.exam_id)
BEGIN SELECT RAISE(ABORT, 'exam_locked: the marks of a locked exam do not change'); END;
CREATE TRIGGER marks_locked_delete BEFORE DELETE ON marks
WHEN (SELECT locked FROM exams WHERE id = OLD.exam_id)
BEGIN SELECT RAISE(ABORT, 'exam_locked: the marks of a locked exam do not change'); END;
CREATE TRIGGER finals_locked_insert BEFORE INSERT ON finals
WHEN (SELECT locked FROM exams WHERE id = NEW.exam_id)
BEGIN SELECT RAISE(ABORT, 'exam_locked: the finals of a locked exam do not change'); END;
CREATE TRIGGER finals_locked_update BEFORE UPDATE ON finals
WHEN (SELECT locked FROM exams WHERE id = OLD.exam_id) OR (SELECT locked FROM exams WHERE id = NEW.exam_id)
BEGIN SELECT RAISE(ABORT, 'exam_locked: the finals of a locked exam do not change'); END;
CREATE TRIGGER finals_locked_delete BEFORE DELETE ON finals
WHEN (SELECT locked FROM exams WHERE id = OLD.exam_id)
BEGIN SELECT RAISE(ABORT, 'exam_locked: the finals of a locked exam do not change'); END;

-- The lock flag moves only with a fresh approved `lock` (to locked) or `unlock` (to open)
-- request of this exam; release only forward, with an approved `release` request, once locked.
CREATE TRIGGER exams_lock_flag BEFORE UPDATE OF locked ON exams
WHEN NEW.locked IS NOT OLD.locked AND (
    NEW.lock_approval_id IS OLD.lock_approval_id
    OR OLD.released
    OR NOT EXISTS (SELECT 1 FROM approvals a
                   WHERE a.id = NEW.lock_approval_id AND a.exam_id = NEW.id AND a.status = 'approved'
                     AND a.kind = CASE WHEN NEW.locked THEN 'lock' ELSE 'unlock' END))
BEGIN SELECT RAISE(ABORT, 'lock_not_approved: the lock flag changes only on an approved request'); END;
CREATE TRIGGER exams_release_flag BEFORE UPDATE OF released ON exams
WHEN NEW.released IS NOT OLD.released AND (
    OLD.released
    OR NOT NEW.locked
    OR NOT EXISTS (SELECT 1 FROM approvals a
                   WHERE a.id = NEW.release_approval_id AND a.exam_id = NEW.id AND a.status = 'approved'
                     AND a.kind = 'release'))
BEGIN SELECT RAISE(ABORT, 'release_not_approved: results are released once, locked, on an approved request'); END;

-- An amendment needs an approved `amend` request of its exam, after release; it is never
-- changed or removed.
CREATE TRIGGER amendments_approved BEFORE INSERT ON amendments
WHEN EXISTS (SELECT 1 FROM exams WHERE id = NEW.exam_id) AND (
     NOT EXISTS (SELECT 1 FROM exams WHERE id = NEW.exam_id AND released)
  OR NOT EXISTS (SELECT 1 FROM approvals a WHERE a.id = NEW.approval_id AND a.exam_id = NEW.exam_id
                 AND a.status = 'approved' AND a.kind = 'amend'))
BEGIN SELECT RAISE(ABORT, 'amend_not_approved: an amendment needs an approved request after release'); END;
CREATE TRIGGER amendments_no_update BEFORE UPDATE ON amendments
BEGIN SELECT RAISE(ABORT, 'amendments_append_only: an amendment is never changed or removed'); END;
CREATE TRIGGER amendments_no_delete BEFORE DELETE ON amendments
BEGIN SELECT RAISE(ABORT, 'amendments_append_only: an amendment is never changed or removed'); END;

-- A request the flags rely on cannot be forged, altered or used twice: it is made pending, decided
-- once by someone else (a chief leader for the chiefs' kinds), never edited or removed; and each
-- approval moves a flag at most once.
CREATE TRIGGER approvals_made_pending BEFORE INSERT ON approvals
WHEN NEW.status <> 'pending' OR NEW.decided_by IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a request is made pending'); END;
CREATE TRIGGER approvals_decided_once BEFORE UPDATE ON approvals
WHEN OLD.status <> 'pending' OR NEW.kind IS NOT OLD.kind OR NEW.exam_id IS NOT OLD.exam_id
  OR NEW.payload IS NOT OLD.payload OR NEW.requested_by IS NOT OLD.requested_by
  OR (NEW.status = 'approved' AND NEW.kind IN ('lock', 'unlock', 'release', 'amend', 'suspend_marker', 'dismiss_marker')
      AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.decided_by AND u.role = 'leader' AND u.chief AND u.active))
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a request is decided once, by the right person, and never edited'); END;
CREATE TRIGGER approvals_never_removed BEFORE DELETE ON approvals
BEGIN SELECT RAISE(ABORT, 'approvals_kept: a request is never removed'); END;

CREATE TABLE used_approvals (
    approval_id TEXT PRIMARY KEY REFERENCES approvals (id)
);
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

-- An exam is never written over (INSERT OR REPLACE would reset its flags).
CREATE TRIGGER exams_not_replaced BEFORE INSERT ON exams
WHEN EXISTS (SELECT 1 FROM exams WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'lock_not_approved: an exam is never written over'); END;
