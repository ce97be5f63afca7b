-- The years per agency as the other count tables on PostgreSQL: updated in place, so room on
-- each page for HOT updates and vacuum and analyse after 2% of their rows changed (000014,
-- 000016); and no per-row foreign-key check, agencies being kept (000017).
ALTER TABLE agency_yearly_counts DROP CONSTRAINT IF EXISTS agency_yearly_counts_agency_id_fkey;
ALTER TABLE agency_yearly_counts SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
