DROP INDEX responses_import;
ALTER TABLE responses DROP COLUMN import_id;
DROP TABLE imports;
