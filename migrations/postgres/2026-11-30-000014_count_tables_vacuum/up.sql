-- Count rows are updated in place by every answer and every dossier: leave room on each page so
-- an update stays on its page (a HOT update, no index entry to add), and vacuum and analyse
-- these tables after 2% of their rows changed instead of 20%, so dead rows do not pile up
-- between autovacuum runs.
ALTER TABLE daily_counts SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE monthly_counts SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE daily_dossiers SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE monthly_dossiers SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE rate_counts SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02);
