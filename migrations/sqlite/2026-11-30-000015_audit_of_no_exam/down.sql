INSERT INTO audit_head SELECT chain, seq, hash FROM audit_head_general;
DROP TABLE audit_head_general;
-- New ids: the two tables numbered their rows apart. Chain order is `seq`, and rows not yet
-- sealed keep their order.
INSERT INTO audit_log (chain, seq, at, actor_id, actor_role, workstation_id, action, object_type,
    object_id, exam_id, outcome, details, request_id, prev_hash, hash)
SELECT chain, seq, at, actor_id, actor_role, workstation_id, action, object_type, object_id,
    exam_id, outcome, details, request_id, prev_hash, hash FROM audit_log_general ORDER BY id;
DROP TABLE audit_log_general;
