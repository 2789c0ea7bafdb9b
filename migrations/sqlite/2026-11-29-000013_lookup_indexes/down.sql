DROP INDEX script_holders_of_marker;
DROP INDEX scripts_sheet;
DROP INDEX sheets_batch;
