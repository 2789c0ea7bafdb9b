DROP INDEX marks_of_marker_question;
