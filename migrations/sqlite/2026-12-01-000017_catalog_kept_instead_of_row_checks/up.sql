-- PostgreSQL only: there, agencies and procedures are guarded by triggers and the per-row
-- foreign-key checks of `responses`, `invitations` and the count tables are dropped (they were
-- most of the cost of a bulk COPY). On SQLite dropping a constraint means rebuilding each table,
-- and its checks are cheap. Kept so both folders hold the same migrations.
SELECT 1;
