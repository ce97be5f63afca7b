-- The survey loop: catalog, API keys, invitations (dossiers), anonymous responses.
CREATE TABLE provinces (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);

CREATE TABLE agencies (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('tinh', 'huyen', 'xa')),
    province_id BIGINT NOT NULL REFERENCES provinces (id),
    parent_id BIGINT REFERENCES agencies (id)
);
CREATE INDEX agencies_province ON agencies (province_id);
CREATE INDEX agencies_parent ON agencies (parent_id);

CREATE TABLE procedures (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    field TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('tinh', 'huyen', 'xa'))
);

CREATE TABLE agency_procedures (
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    procedure_id BIGINT NOT NULL REFERENCES procedures (id),
    PRIMARY KEY (agency_id, procedure_id)
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    agency_id BIGINT REFERENCES agencies (id),
    province_id BIGINT REFERENCES provinces (id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    CHECK ((agency_id IS NULL) <> (province_id IS NULL))
);

CREATE TABLE invitations (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    token_seed TEXT NOT NULL,
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    procedure_id BIGINT NOT NULL REFERENCES procedures (id),
    dossier_code TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('counter', 'online', 'postal')),
    received_at TIMESTAMP NOT NULL,
    due_at TIMESTAMP,
    returned_at TIMESTAMP NOT NULL,
    late BOOLEAN,
    days_late INTEGER,
    citizen_email TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (agency_id, dossier_code)
);
CREATE INDEX invitations_returned ON invitations (agency_id, returned_at);

-- One row per submitted questionnaire. Deliberately no token, dossier code, IP, user agent or
-- time of day: see domain.md section 7.
CREATE TABLE responses (
    id INTEGER PRIMARY KEY,
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    procedure_id BIGINT REFERENCES procedures (id),
    channel TEXT NOT NULL CHECK (channel IN ('counter', 'online', 'postal', 'walk_in', 'paper')),
    questionnaire_id TEXT NOT NULL,
    questionnaire_version INTEGER NOT NULL,
    submitted_on DATE NOT NULL,
    late BOOLEAN,
    days_late INTEGER,
    tc0 INTEGER,
    tt0 INTEGER,
    cc0 INTEGER,
    kq0 INTEGER,
    pa0 INTEGER,
    hl0 INTEGER,
    e1 INTEGER,
    e2 INTEGER,
    e3 INTEGER,
    e4 INTEGER,
    e5 INTEGER,
    e6 INTEGER,
    e7 INTEGER,
    comment TEXT,
    -- The comment matches the harassment lexicon (computed on insert, diacritics-insensitive).
    comment_flag BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX responses_agency_day ON responses (agency_id, submitted_on);

-- Answers to items without a column of their own (long-form criteria, expectations,
-- demographics, items of a province's own questionnaire version).
CREATE TABLE response_answers (
    response_id BIGINT NOT NULL REFERENCES responses (id),
    item TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (response_id, item)
);

-- A citizen who asks to be contacted leaves details here, apart from any response.
CREATE TABLE contact_requests (
    id INTEGER PRIMARY KEY,
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    created_on DATE NOT NULL,
    contact TEXT NOT NULL
);
