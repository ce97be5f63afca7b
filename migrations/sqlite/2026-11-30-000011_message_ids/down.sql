ALTER TABLE monthly_dossiers DROP COLUMN answered;
ALTER TABLE daily_dossiers DROP COLUMN answered;
DROP INDEX outbox_message_id;
ALTER TABLE outbox DROP COLUMN message_id;
