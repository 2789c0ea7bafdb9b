-- The audit log chains per exam (chain = the exam id, '' for entries that concern no exam), so
-- it distributes with its exam and no exam's sealing waits on another's head. Rows sealed before
-- this migration stay in the '' chain, where their links and hashes still verify; rows not yet
-- sealed go to their exam's chain. Altered in place, so privileges granted on the tables stay.
ALTER TABLE audit_log ADD COLUMN chain TEXT NOT NULL DEFAULT '';
UPDATE audit_log SET chain = exam_id WHERE seq IS NULL AND exam_id IS NOT NULL;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_seq_key;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_chain_seq_key UNIQUE (chain, seq);
DROP INDEX audit_log_unsealed;
CREATE INDEX audit_log_unsealed ON audit_log (chain, id) WHERE seq IS NULL;

ALTER TABLE audit_head ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_head DROP COLUMN id;
ALTER TABLE audit_head ALTER COLUMN chain DROP DEFAULT;
ALTER TABLE audit_head ADD PRIMARY KEY (chain);
