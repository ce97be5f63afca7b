-- The months per agency are updated in place like the other count tables (000014): room on each
-- page for HOT updates, and vacuum and analyse after 2% of their rows changed.
ALTER TABLE agency_monthly_counts SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
