-- A question never changes once written: the service keeps the rows it has read in memory
-- (`db::exams::question`), which is only right while no statement can change one.
CREATE FUNCTION markroom_questions_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'question_immutable: a question never changes once written';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER questions_immutable BEFORE UPDATE OR DELETE ON questions
    FOR EACH ROW EXECUTE FUNCTION markroom_questions_immutable();
