-- PostgreSQL only (fill factor and autovacuum thresholds of agency_monthly_counts); SQLite has
-- no equivalent. Kept so both folders hold the same migrations.
SELECT 1;
