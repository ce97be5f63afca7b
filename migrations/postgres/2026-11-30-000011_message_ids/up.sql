-- Each queued message gets its Message-ID when it is queued (a random part and the domain of
-- `mail.from`, see `mail::outbox`), kept with the row so that a retry or a resend after a crash
-- carries the same one. Rows queued before this migration keep the ID they were, or would have
-- been, sent with (`<outbox-N@sipas>`), since some of them may already have been delivered.
ALTER TABLE outbox ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
UPDATE outbox SET message_id = '<outbox-' || id || '@sipas>';
CREATE UNIQUE INDEX outbox_message_id ON outbox (message_id);

-- The response rate's numerator, in the same population as its denominator: of the dossiers
-- returned on a day (one survey invitation each), how many invitations have been answered.
-- Counted when an invitation is used (`responses::record`), so answered <= dossiers by
-- construction; here counted once for the invitations already used. The Vietnam day of a UTC
-- timestamp is the one expression that differs between the two backends (`clock::sql_local_day`).
ALTER TABLE daily_dossiers ADD COLUMN answered BIGINT NOT NULL DEFAULT 0;
ALTER TABLE monthly_dossiers ADD COLUMN answered BIGINT NOT NULL DEFAULT 0;
UPDATE daily_dossiers SET answered = s.n
FROM (
    SELECT agency_id, DATE(returned_at + INTERVAL '7 hours') AS day, COUNT(*) AS n
    FROM invitations WHERE used GROUP BY agency_id, DATE(returned_at + INTERVAL '7 hours')
) AS s
WHERE daily_dossiers.agency_id = s.agency_id AND daily_dossiers.day = s.day;
UPDATE monthly_dossiers SET answered = s.n
FROM (
    SELECT agency_id, SUBSTR(CAST(DATE(returned_at + INTERVAL '7 hours') AS TEXT), 1, 7) AS month, COUNT(*) AS n
    FROM invitations WHERE used GROUP BY agency_id, SUBSTR(CAST(DATE(returned_at + INTERVAL '7 hours') AS TEXT), 1, 7)
) AS s
WHERE monthly_dossiers.agency_id = s.agency_id AND monthly_dossiers.month = s.month;
