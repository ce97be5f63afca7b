DROP TABLE province_successions;
DROP TABLE agency_successions;
ALTER TABLE provinces DROP COLUMN valid_to;
ALTER TABLE provinces DROP COLUMN valid_from;
ALTER TABLE agencies DROP COLUMN valid_to;
ALTER TABLE agencies DROP COLUMN valid_from;
