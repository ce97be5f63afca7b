-- Follow-up of flags: one case per agency and problem while it is open, with its action log.
CREATE TABLE cases (
    id BIGSERIAL PRIMARY KEY,
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    problem TEXT NOT NULL CHECK (problem IN ('harassment', 'repeat_visits', 'money_asked')),
    flag TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('new', 'acknowledged', 'in_progress', 'resolved', 'unfounded')),
    assignee_id BIGINT REFERENCES users (id),
    due_on DATE,
    opened_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP,
    unfounded_reason TEXT
);
CREATE INDEX cases_agency ON cases (agency_id, problem);

CREATE TABLE case_events (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    at TIMESTAMP NOT NULL,
    user_id BIGINT REFERENCES users (id),
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id);
