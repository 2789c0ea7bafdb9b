DROP INDEX image_tokens_of_prescored;
DROP INDEX image_tokens_of_script;
DROP INDEX serves_expiring;
DROP INDEX tasks_expiring;
