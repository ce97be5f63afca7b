-- Each queued message gets its Message-ID when it is queued (a random part and the domain of
-- `mail.from`, see `mail::outbox`), kept with the row so that a retry or a resend after a crash
-- carries the same one. Rows queued before this migration keep the ID they were, or would have
-- been, sent with (`<outbox-N@sipas>`), since some of them may already have been delivered.
ALTER TABLE outbox ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
UPDATE outbox SET message_id = '<outbox-' || id || '@sipas>';
CREATE UNIQUE INDEX outbox_message_id ON outbox (message_id);

-- The response rate's numerator, in the same population as its denominator: of the dossiers
-- returned on a day (each one invitation), how many invitations have been answered. Counted
-- when an invitation is used (`responses::record`), so answered <= dossiers by construction.
ALTER TABLE daily_dossiers ADD COLUMN answered BIGINT NOT NULL DEFAULT 0;
ALTER TABLE monthly_dossiers ADD COLUMN answered BIGINT NOT NULL DEFAULT 0;
UPDATE daily_dossiers SET answered = (
    SELECT COUNT(*) FROM invitations i
    WHERE i.agency_id = daily_dossiers.agency_id AND i.used
      AND DATE(i.returned_at, '+7 hours') = daily_dossiers.day
);
UPDATE monthly_dossiers SET answered = (
    SELECT COUNT(*) FROM invitations i
    WHERE i.agency_id = monthly_dossiers.agency_id AND i.used
      AND SUBSTR(DATE(i.returned_at, '+7 hours'), 1, 7) = monthly_dossiers.month
);
