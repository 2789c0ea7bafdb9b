-- Entries that concern no exam (and the history sealed before the log had chains, which is of
-- that chain) move to a table of their own, as exam-less approvals did: the audit log left holds
-- exam chains only, each named by its exam's id, so it distributes by exam with no NULL and no
-- exam-less rows. Ids keep coming from one sequence.
CREATE TABLE audit_log_general (LIKE audit_log INCLUDING DEFAULTS);
ALTER TABLE audit_log_general ADD PRIMARY KEY (id);
ALTER TABLE audit_log_general ADD CONSTRAINT audit_log_general_chain_seq_key UNIQUE (chain, seq);
ALTER TABLE audit_log_general ADD CONSTRAINT audit_log_general_no_exam_chain CHECK (chain = '');
CREATE INDEX audit_log_general_unsealed ON audit_log_general (chain, id) WHERE seq IS NULL;
INSERT INTO audit_log_general SELECT * FROM audit_log WHERE chain = '';
DELETE FROM audit_log WHERE chain = '';
ALTER TABLE audit_log ALTER COLUMN exam_id SET NOT NULL;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_chain_is_exam CHECK (chain = exam_id);

CREATE TABLE audit_head_general (LIKE audit_head INCLUDING DEFAULTS);
ALTER TABLE audit_head_general ADD PRIMARY KEY (chain);
ALTER TABLE audit_head_general ADD CONSTRAINT audit_head_general_no_exam_chain CHECK (chain = '');
INSERT INTO audit_head_general SELECT * FROM audit_head WHERE chain = '';
DELETE FROM audit_head WHERE chain = '';
ALTER TABLE audit_head ADD CONSTRAINT audit_head_exam_chain CHECK (chain <> '');
