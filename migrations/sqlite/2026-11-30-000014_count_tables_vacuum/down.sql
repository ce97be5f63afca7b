-- PostgreSQL only (fill factor and autovacuum thresholds of the count tables); SQLite has no
-- equivalent. Kept so both folders hold the same migrations.
SELECT 1;
