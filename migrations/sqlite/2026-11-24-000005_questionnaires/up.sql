-- Questionnaire versions published from the dashboard; the latest one is the active one.
CREATE TABLE questionnaires (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    published_at TIMESTAMP NOT NULL,
    published_by BIGINT REFERENCES users (id),
    UNIQUE (code, version)
);
