-- Back to one number per import. An import publishing on several connections may have added
-- its chunks out of order, which one number cannot say: if any import is adding its counts,
-- every count is rebuilt at the next start (`pending_recounts`, which also sets such an import
-- back to its first chunk), so nothing is counted twice or left out.
ALTER TABLE imports ADD COLUMN published_through BIGINT;
INSERT INTO pending_recounts (reason)
    SELECT 'import chunks forgotten' WHERE EXISTS (SELECT 1 FROM import_chunks)
    AND NOT EXISTS (SELECT 1 FROM pending_recounts WHERE reason = 'import chunks forgotten');
DROP TABLE import_chunks;
