-- The administrative map changes (the 2025 reform: districts abolished, provinces and communes
-- merged). An agency or a province has a life span (valid_from, valid_to: the first and last day
-- it existed; NULL = open) and zero or more successors from an effective date (the first day of
-- the new unit). A merger is several rows to one successor, a split one row per successor, with
-- the share of the old unit's population or caseload that went to it when known. Responses and
-- dossiers keep the agency they were given to; reports map predecessors to their successors at
-- query time (report::map).
ALTER TABLE agencies ADD COLUMN valid_from DATE;
ALTER TABLE agencies ADD COLUMN valid_to DATE;
ALTER TABLE provinces ADD COLUMN valid_from DATE;
ALTER TABLE provinces ADD COLUMN valid_to DATE;

CREATE TABLE agency_successions (
    id INTEGER PRIMARY KEY,
    old_agency_id BIGINT NOT NULL REFERENCES agencies (id),
    new_agency_id BIGINT NOT NULL REFERENCES agencies (id),
    effective_date DATE NOT NULL,
    share DOUBLE PRECISION CHECK (share IS NULL OR (share > 0 AND share <= 1)),
    CHECK (old_agency_id <> new_agency_id),
    UNIQUE (old_agency_id, new_agency_id)
);
CREATE INDEX agency_successions_new ON agency_successions (new_agency_id);

CREATE TABLE province_successions (
    id INTEGER PRIMARY KEY,
    old_province_id BIGINT NOT NULL REFERENCES provinces (id),
    new_province_id BIGINT NOT NULL REFERENCES provinces (id),
    effective_date DATE NOT NULL,
    share DOUBLE PRECISION CHECK (share IS NULL OR (share > 0 AND share <= 1)),
    CHECK (old_province_id <> new_province_id),
    UNIQUE (old_province_id, new_province_id)
);
