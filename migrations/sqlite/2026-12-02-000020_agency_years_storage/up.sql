-- PostgreSQL only (fill factor, autovacuum thresholds and the dropped foreign-key check of
-- agency_yearly_counts, as 000014, 000016 and 000017 did for the other count tables); SQLite has
-- no equivalent. Kept so both folders hold the same migrations.
SELECT 1;
