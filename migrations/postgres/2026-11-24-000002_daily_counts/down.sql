DROP TABLE monthly_dossiers;
DROP TABLE daily_dossiers;
DROP TABLE monthly_counts;
DROP TABLE daily_counts;
