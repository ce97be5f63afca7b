-- Every digest and alert is written here first, in the transaction that decides to send it,
-- then delivered by a worker. (recipient, kind, period) is unique: a digest is never queued twice.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    period TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    UNIQUE (recipient, kind, period)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Extra digest recipients per agency (agency_id) or for the reform office (no agency), and
-- unsubscribed addresses (active = false).
CREATE TABLE mail_recipients (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    agency_id BIGINT REFERENCES agencies (id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX mail_recipients_email ON mail_recipients (email);
