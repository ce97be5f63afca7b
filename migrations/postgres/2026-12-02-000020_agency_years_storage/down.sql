ALTER TABLE agency_yearly_counts RESET (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE agency_yearly_counts ADD CONSTRAINT agency_yearly_counts_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES agencies (id);
