-- Rate limits shared by every server process: one counter per (scope, key, fixed window). Keys
-- are keyed hashes (HMAC) of client addresses or emails, never the addresses themselves; rows are
-- deleted once their window has passed.
CREATE TABLE rate_counts (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    hits INTEGER NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, key, window_start)
);
CREATE INDEX rate_counts_expiry ON rate_counts (expires_at);

-- Sign-in failures are counted in rate_counts (bounded), no longer one row per attempt.
DROP TABLE login_failures;

-- A password set by someone else (an invitation, a reset) must be changed at the next sign-in.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
