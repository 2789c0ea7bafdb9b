ALTER TABLE audit_head DROP CONSTRAINT audit_head_exam_chain;
INSERT INTO audit_head SELECT * FROM audit_head_general;
DROP TABLE audit_head_general;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_chain_is_exam;
ALTER TABLE audit_log ALTER COLUMN exam_id DROP NOT NULL;
INSERT INTO audit_log SELECT * FROM audit_log_general;
DROP TABLE audit_log_general;
