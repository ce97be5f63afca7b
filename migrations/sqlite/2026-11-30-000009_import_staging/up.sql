-- Response imports in progress and done. An import stages its rows in short transactions
-- (status 'staging', heartbeat_at renewed with every batch); once the whole file has validated
-- and staged it is marked 'publishing' (the commit point), summed up once per count row it adds
-- to, and the sums are added to the counts in short steps (published_through: how many sums, in
-- key order, are added), then it is 'done'.
-- An import that fails before the commit point is 'discarding' while its rows are deleted.
-- Rows of an import that is not 'done' are invisible to every reader of responses.
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('staging', 'publishing', 'done', 'discarding')),
    rows BIGINT NOT NULL DEFAULT 0,
    published_through BIGINT
);

-- The import a response came with (NULL for web submissions and older imports). No foreign
-- key: a row whose import is gone is invisible like a staged one, and the column can be
-- dropped again on SQLite.
ALTER TABLE responses ADD COLUMN import_id BIGINT;
CREATE INDEX responses_import ON responses (import_id, id) WHERE import_id IS NOT NULL;
