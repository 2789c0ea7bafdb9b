DROP TABLE certifications;
DROP TABLE marker_questions;
DROP TABLE trainings;
DROP TABLE marker_reviews;
DROP TABLE marker_status_history;
DROP TABLE marker_exams;
DROP TABLE relatives;
DROP TABLE markers;
