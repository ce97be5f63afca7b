ALTER TABLE invitations ADD COLUMN citizen_email TEXT;
DROP INDEX outbox_outreach;
ALTER TABLE outbox DROP COLUMN outreach_id;
ALTER TABLE outbox DROP COLUMN channel;
DROP TABLE monthly_outreach;
DROP TABLE daily_outreach;
DROP TABLE contact_hashes;
DROP TABLE outreach;
