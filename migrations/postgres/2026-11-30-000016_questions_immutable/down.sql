DROP TRIGGER questions_immutable ON questions;
DROP FUNCTION markroom_questions_immutable();
