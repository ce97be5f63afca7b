-- An import publishing on several connections may have added chunks out of order: the number
-- kept is how many come first without a gap, and the chunks past a gap are added again when the
-- import is completed. After a downgrade while an import is publishing, run
-- `sipas aggregates recount` once it is done.
ALTER TABLE imports ADD COLUMN published_through BIGINT;
UPDATE imports SET published_through = 5000 * CASE
    WHEN EXISTS (SELECT 1 FROM import_chunks c WHERE c.import_id = imports.id AND c.chunk = 0)
    THEN (
        SELECT MIN(c.chunk + 1) FROM import_chunks c
        WHERE c.import_id = imports.id AND NOT EXISTS (
            SELECT 1 FROM import_chunks n WHERE n.import_id = c.import_id AND n.chunk = c.chunk + 1
        )
    )
    ELSE 0 END
WHERE status = 'publishing';
DROP TABLE import_chunks;
