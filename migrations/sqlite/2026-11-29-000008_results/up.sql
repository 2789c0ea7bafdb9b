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
