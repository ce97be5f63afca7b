-- The chunks of a publishing import's sums already added to the counts, one row per chunk of
-- 5,000 count rows (`staging::PUBLISH_CHUNK`): a chunk is claimed here and added in the same
-- transaction, so several connections publish one import side by side, in any order, and a
-- crash or a second publisher repeats none. One number (`published_through`, how many sums in
-- key order) allowed one publisher at a time. The rows of an import go once it is 'done'.
CREATE TABLE import_chunks (
    import_id BIGINT NOT NULL,
    chunk BIGINT NOT NULL,
    PRIMARY KEY (import_id, chunk)
);

-- An import interrupted while publishing has its first published_through / 5,000 chunks added.
WITH RECURSIVE added (import_id, chunk, chunks) AS (
    SELECT id, CAST(0 AS BIGINT), published_through / 5000 FROM imports
    WHERE status = 'publishing' AND published_through >= 5000
    UNION ALL
    SELECT import_id, chunk + 1, chunks FROM added WHERE chunk + 1 < chunks
)
INSERT INTO import_chunks (import_id, chunk) SELECT import_id, chunk FROM added;

ALTER TABLE imports DROP COLUMN published_through;
