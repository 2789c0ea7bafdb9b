DROP INDEX approvals_one_pending;
ALTER TABLE approvals DROP COLUMN pending_key;
DROP INDEX questions_position;
ALTER TABLE exams DROP COLUMN rules;
DROP INDEX users_one_account_per_person;
ALTER TABLE users DROP COLUMN must_change_password;
ALTER TABLE users DROP COLUMN id_document_hash;
ALTER TABLE users DROP COLUMN full_name;
