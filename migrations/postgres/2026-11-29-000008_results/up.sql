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
CREATE FUNCTION markroom_refuse_when_locked() RETURNS trigger AS $$
BEGIN
    -- The exam row is held while the change commits, so a lock cannot slip in between.
    IF TG_OP <> 'DELETE' THEN
        PERFORM 1 FROM exams WHERE id = NEW.exam_id FOR SHARE;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM 1 FROM exams WHERE id = OLD.exam_id FOR SHARE;
    END IF;
    IF (TG_OP <> 'INSERT' AND EXISTS (SELECT 1 FROM exams WHERE id = OLD.exam_id AND locked))
       OR (TG_OP <> 'DELETE' AND EXISTS (SELECT 1 FROM exams WHERE id = NEW.exam_id AND locked)) THEN
        RAISE EXCEPTION 'exam_locked: the % of a locked exam do not change', TG_TABLE_NAME;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER marks_locked BEFORE INSERT OR UPDATE OR DELETE ON marks
    FOR EACH ROW EXECUTE FUNCTION markroom_refuse_when_locked();
CREATE TRIGGER finals_locked BEFORE INSERT OR UPDATE OR DELETE ON finals
    FOR EACH ROW EXECUTE FUNCTION markroom_refuse_when_locked();

CREATE FUNCTION markroom_refuse_truncate_when_locked() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM exams WHERE locked) THEN
        RAISE EXCEPTION 'exam_locked: % of a locked exam cannot be emptied', TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER marks_locked_truncate BEFORE TRUNCATE ON marks
    FOR EACH STATEMENT EXECUTE FUNCTION markroom_refuse_truncate_when_locked();
CREATE TRIGGER finals_locked_truncate BEFORE TRUNCATE ON finals
    FOR EACH STATEMENT EXECUTE FUNCTION markroom_refuse_truncate_when_locked();

-- The lock flag moves only with a fresh approved `lock` (to locked) or `unlock` (to open)
-- request of this exam; release only forward, with an approved `release` request, once locked.
CREATE FUNCTION markroom_guard_results_flags() RETURNS trigger AS $$
BEGIN
    IF NEW.locked IS DISTINCT FROM OLD.locked THEN
        IF NEW.lock_approval_id IS NOT DISTINCT FROM OLD.lock_approval_id
           OR NOT EXISTS (SELECT 1 FROM approvals a
                          WHERE a.id = NEW.lock_approval_id AND a.exam_id = NEW.id AND a.status = 'approved'
                            AND a.kind = CASE WHEN NEW.locked THEN 'lock' ELSE 'unlock' END) THEN
            RAISE EXCEPTION 'lock_not_approved: the lock flag changes only on an approved request';
        END IF;
    END IF;
    IF NEW.released IS DISTINCT FROM OLD.released THEN
        IF OLD.released OR NOT NEW.locked
           OR NOT EXISTS (SELECT 1 FROM approvals a
                          WHERE a.id = NEW.release_approval_id AND a.exam_id = NEW.id AND a.status = 'approved'
                            AND a.kind = 'release') THEN
            RAISE EXCEPTION 'release_not_approved: results are released once, locked, on an approved request';
        END IF;
    END IF;
    IF OLD.released AND NEW.locked IS DISTINCT FROM OLD.locked THEN
        RAISE EXCEPTION 'already_released: released results stay locked';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER exams_results_flags BEFORE UPDATE ON exams
    FOR EACH ROW EXECUTE FUNCTION markroom_guard_results_flags();

-- An amendment needs an approved `amend` request of its exam, after release; it is never
-- changed or removed.
CREATE FUNCTION markroom_guard_amendments() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'amendments_append_only: an amendment is never changed or removed';
    END IF;
    -- No such exam: its foreign key refuses the row.
    IF NOT EXISTS (SELECT 1 FROM exams WHERE id = NEW.exam_id) THEN
        RETURN NEW;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM exams WHERE id = NEW.exam_id AND released)
       OR NOT EXISTS (SELECT 1 FROM approvals a WHERE a.id = NEW.approval_id AND a.exam_id = NEW.exam_id
                      AND a.status = 'approved' AND a.kind = 'amend') THEN
        RAISE EXCEPTION 'amend_not_approved: an amendment needs an approved request after release';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER amendments_guard BEFORE INSERT OR UPDATE OR DELETE ON amendments
    FOR EACH ROW EXECUTE FUNCTION markroom_guard_amendments();

-- A request the flags rely on cannot be forged, altered or used twice: it is made pending, decided
-- once by someone else (a chief leader for the chiefs' kinds), never edited or removed; and each
-- approval moves a flag at most once.
CREATE FUNCTION markroom_guard_approvals() RETURNS trigger AS $$
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
    IF OLD.status <> 'pending' OR NEW.kind IS DISTINCT FROM OLD.kind OR NEW.exam_id IS DISTINCT FROM OLD.exam_id
       OR NEW.payload IS DISTINCT FROM OLD.payload OR NEW.requested_by IS DISTINCT FROM OLD.requested_by THEN
        RAISE EXCEPTION 'approvals_kept: a request is decided once and never edited';
    END IF;
    IF NEW.status = 'approved' AND NEW.kind IN ('lock', 'unlock', 'release', 'amend', 'suspend_marker', 'dismiss_marker')
       AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.decided_by AND u.role = 'leader' AND u.chief AND u.active) THEN
        RAISE EXCEPTION 'approvals_kept: only a chief leader approves this';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER approvals_guard BEFORE INSERT OR UPDATE OR DELETE ON approvals
    FOR EACH ROW EXECUTE FUNCTION markroom_guard_approvals();

CREATE TABLE used_approvals (
    approval_id TEXT PRIMARY KEY REFERENCES approvals (id)
);

CREATE FUNCTION markroom_use_approval() RETURNS trigger AS $$
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

CREATE TRIGGER exams_use_approval AFTER UPDATE ON exams
    FOR EACH ROW EXECUTE FUNCTION markroom_use_approval();

CREATE FUNCTION markroom_keep_used() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'approvals_kept: a used approval stays used';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER used_approvals_kept BEFORE UPDATE OR DELETE ON used_approvals
    FOR EACH ROW EXECUTE FUNCTION markroom_keep_used();
