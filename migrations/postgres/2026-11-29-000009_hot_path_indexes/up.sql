-- What every lease and mark does must not read every row of a growing table:
-- the expiry sweep before each lease walks only leased rows, in order of expiry;
-- a lease's image links are found (to be revoked) by script or pre-scored script and holder.
CREATE INDEX tasks_expiring ON tasks (lease_expires_at) WHERE state = 'leased';
CREATE INDEX serves_expiring ON serves (lease_expires_at) WHERE state = 'leased';
CREATE INDEX image_tokens_of_script ON image_tokens (exam_id, script_id, holder);
CREATE INDEX image_tokens_of_prescored ON image_tokens (exam_id, prescored_id, holder);
