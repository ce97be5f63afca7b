DROP TABLE agency_monthly_counts;
