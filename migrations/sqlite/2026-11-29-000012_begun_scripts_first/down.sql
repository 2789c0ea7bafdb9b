DROP INDEX tasks_queue;
CREATE INDEX tasks_queue ON tasks (exam_id, question_id, state, shuffle);
ALTER TABLE tasks DROP COLUMN begun;
