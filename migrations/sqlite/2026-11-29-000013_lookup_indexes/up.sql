-- A batch's sheets, and a sheet's scripts, found by index rather than by walking the exam's
-- (releasing a batch, counting what blocks it, voiding a sheet's scripts).
CREATE INDEX sheets_batch ON sheets (exam_id, batch_id);
CREATE INDEX scripts_sheet ON scripts (exam_id, sheet_id);
-- The scripts a marker held, as one index range: the lease's walk leaves them out with an
-- anti-join, which PostgreSQL plans as one read of the marker's holdings; without this index it
-- read every holder of the exam at every lease.
CREATE INDEX script_holders_of_marker ON script_holders (exam_id, marker_id, script_id);
