ALTER TABLE agencies DROP COLUMN peer_group;
DROP TABLE locks;
ALTER TABLE cases DROP COLUMN false_probability;
DROP TABLE flag_history;
