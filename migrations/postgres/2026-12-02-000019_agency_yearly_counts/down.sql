DELETE FROM pending_recounts WHERE reason = 'agency_yearly_counts';
DROP TABLE agency_yearly_counts;
