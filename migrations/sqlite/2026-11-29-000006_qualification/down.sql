CREATE TABLE image_tokens_old (
    exam_id    TEXT NOT NULL REFERENCES exams (id),
    token_hash TEXT NOT NULL,
    script_id  TEXT NOT NULL,
    image_key  TEXT NOT NULL,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked    BOOLEAN NOT NULL,
    PRIMARY KEY (exam_id, token_hash),
    FOREIGN KEY (exam_id, script_id) REFERENCES scripts (exam_id, id)
);
INSERT INTO image_tokens_old SELECT exam_id, token_hash, script_id, image_key, holder, expires_at, revoked
    FROM image_tokens WHERE script_id IS NOT NULL;
DROP TABLE image_tokens;
ALTER TABLE image_tokens_old RENAME TO image_tokens;
CREATE UNIQUE INDEX image_tokens_hash ON image_tokens (token_hash);
ALTER TABLE marker_reviews DROP COLUMN decided_at;
ALTER TABLE marker_reviews DROP COLUMN decided_by;
ALTER TABLE marker_reviews DROP COLUMN decision;
DROP INDEX marker_status_history_order;
DROP TABLE discipline_entries;
DROP TABLE qualification_tasks;
DROP TABLE qualification_attempts;
DROP TABLE prescored_scripts;
