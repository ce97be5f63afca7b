DROP TABLE pending_recounts;
DROP TABLE agency_monthly_counts;
