-- Reaching the citizen (docs/outreach.md): the invitation and one reminder by email, SMS or Zalo.
--
-- The address a dossier carried waits here, apart from the invitation, only until the last
-- message is sent (or the link is used or expires); the row itself stays, without any address,
-- while the link can still be answered, so that an answer is counted for the channel that brought
-- it. `day` is the Vietnam day the dossier was returned: the response rate's cohort.
CREATE TABLE outreach (
    id INTEGER PRIMARY KEY,
    invitation_id BIGINT NOT NULL UNIQUE REFERENCES invitations (id),
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    day DATE NOT NULL,
    email TEXT,
    phone TEXT,
    -- The channel that delivered the invitation.
    channel TEXT CHECK (channel IN ('email', 'sms', 'zalo')),
    remind_at TIMESTAMP,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX outreach_remind ON outreach (remind_at);
CREATE INDEX outreach_expires ON outreach (expires_at);

-- Keyed hashes (HMAC with the installation's secret) of addresses, never the addresses: when one
-- was last invited (the fatigue window) and whether its owner asked for no more messages.
CREATE TABLE contact_hashes (
    hash TEXT PRIMARY KEY,
    invited_on DATE,
    opted_out BOOLEAN NOT NULL DEFAULT FALSE
);

-- The reach funnel per agency, cohort day (or month) and channel. contacts, recent and opted_out
-- count dossiers with an address under the first channel planned for them; the others count
-- messages (and SMS parts) under the channel that carried or failed them, and answered links
-- under the channel that delivered their invitation.
CREATE TABLE daily_outreach (
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    day DATE NOT NULL,
    medium TEXT NOT NULL CHECK (medium IN ('email', 'sms', 'zalo')),
    contacts BIGINT NOT NULL DEFAULT 0,
    recent BIGINT NOT NULL DEFAULT 0,
    opted_out BIGINT NOT NULL DEFAULT 0,
    invited BIGINT NOT NULL DEFAULT 0,
    reminded BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    answered BIGINT NOT NULL DEFAULT 0,
    sms_parts BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (agency_id, day, medium)
);
CREATE TABLE monthly_outreach (
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    month TEXT NOT NULL,
    medium TEXT NOT NULL CHECK (medium IN ('email', 'sms', 'zalo')),
    contacts BIGINT NOT NULL DEFAULT 0,
    recent BIGINT NOT NULL DEFAULT 0,
    opted_out BIGINT NOT NULL DEFAULT 0,
    invited BIGINT NOT NULL DEFAULT 0,
    reminded BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    answered BIGINT NOT NULL DEFAULT 0,
    sms_parts BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (agency_id, month, medium)
);

-- Citizen messages go through the outbox like every other message: `channel` is the one being
-- tried, `outreach_id` the row the message is rendered from when it is sent (the outbox keeps no
-- address and no survey link for them).
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';
ALTER TABLE outbox ADD COLUMN outreach_id BIGINT;
CREATE INDEX outbox_outreach ON outbox (outreach_id);

-- Addresses reported before this version were stored with the invitation and never used: they go.
ALTER TABLE invitations DROP COLUMN citizen_email;
