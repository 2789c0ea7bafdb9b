-- A task is "begun" once its script is in marking (another of its tasks was leased): leases
-- take begun tasks first, so that a script's independent marks come close together. The
-- statistics judge a marker by the scripts someone else marked too; with 30,000 scripts a
-- question taken in random order, a marker's first hundred marks would have almost no partner
-- for hours, and a severe marker would go unseen all that time.
ALTER TABLE tasks ADD COLUMN begun BOOLEAN NOT NULL DEFAULT 0;
UPDATE tasks SET begun = 1
 WHERE EXISTS (SELECT 1 FROM scripts s
                WHERE s.exam_id = tasks.exam_id AND s.id = tasks.script_id AND s.state = 'marking');
DROP INDEX tasks_queue;
CREATE INDEX tasks_queue ON tasks (exam_id, question_id, state, begun, shuffle);
