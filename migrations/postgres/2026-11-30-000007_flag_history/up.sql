-- Each agency's flag state over time (a row whenever it changes), written by the monitoring
-- sweep; and the probability that a case's flag was false when it was opened.
CREATE TABLE flag_history (
    id BIGSERIAL PRIMARY KEY,
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    problem TEXT NOT NULL CHECK (problem IN ('harassment', 'repeat_visits')),
    severity TEXT NOT NULL CHECK (severity IN ('none', 'alert', 'alarm')),
    problem_probability DOUBLE PRECISION,
    observed_at TIMESTAMP NOT NULL
);
CREATE INDEX flag_history_agency ON flag_history (agency_id, problem, id);
ALTER TABLE cases ADD COLUMN false_probability DOUBLE PRECISION;

-- Named locks: a job that must not run twice at once (the monitoring sweep on several servers)
-- upserts its row first thing in its transaction and so holds it until it commits.
CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    taken_at TIMESTAMP NOT NULL
);

-- An agency's peer group for flags (optional; without one, its level in its province).
ALTER TABLE agencies ADD COLUMN peer_group TEXT;
