-- A question never changes once written: the service keeps the rows it has read in memory
-- (`db::exams::question`), which is only right while no statement can change one.
CREATE TRIGGER questions_immutable_update BEFORE UPDATE ON questions
BEGIN SELECT RAISE(ABORT, 'question_immutable: a question never changes once written'); END;
CREATE TRIGGER questions_immutable_delete BEFORE DELETE ON questions
BEGIN SELECT RAISE(ABORT, 'question_immutable: a question never changes once written'); END;
