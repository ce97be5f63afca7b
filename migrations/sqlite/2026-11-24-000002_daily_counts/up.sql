-- Per-day counts per (agency, procedure, channel), kept in the same transaction as every insert
-- of responses (src/aggregates.rs); reports read these instead of scanning responses.
-- procedure_id 0 stands for "no procedure given".
CREATE TABLE daily_counts (
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    procedure_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    day DATE NOT NULL,
    n_responses BIGINT NOT NULL,
    tc0_valid BIGINT NOT NULL,
    tc0_top2 BIGINT NOT NULL,
    tc0_sum BIGINT NOT NULL,
    tc0_sumsq BIGINT NOT NULL,
    tt0_valid BIGINT NOT NULL,
    tt0_top2 BIGINT NOT NULL,
    tt0_sum BIGINT NOT NULL,
    tt0_sumsq BIGINT NOT NULL,
    cc0_valid BIGINT NOT NULL,
    cc0_top2 BIGINT NOT NULL,
    cc0_sum BIGINT NOT NULL,
    cc0_sumsq BIGINT NOT NULL,
    kq0_valid BIGINT NOT NULL,
    kq0_top2 BIGINT NOT NULL,
    kq0_sum BIGINT NOT NULL,
    kq0_sumsq BIGINT NOT NULL,
    pa0_valid BIGINT NOT NULL,
    pa0_top2 BIGINT NOT NULL,
    pa0_sum BIGINT NOT NULL,
    pa0_sumsq BIGINT NOT NULL,
    hl0_valid BIGINT NOT NULL,
    hl0_top2 BIGINT NOT NULL,
    hl0_sum BIGINT NOT NULL,
    hl0_sumsq BIGINT NOT NULL,
    harassment_k BIGINT NOT NULL,
    harassment_n BIGINT NOT NULL,
    money_hinted BIGINT NOT NULL,
    money_asked BIGINT NOT NULL,
    repeat_k BIGINT NOT NULL,
    repeat_n BIGINT NOT NULL,
    late_k BIGINT NOT NULL,
    late_n BIGINT NOT NULL,
    notified_k BIGINT NOT NULL,
    notified_n BIGINT NOT NULL,
    apology_k BIGINT NOT NULL,
    apology_n BIGINT NOT NULL,
    late_no_apology BIGINT NOT NULL,
    unsatisfied_766 BIGINT NOT NULL,
    comment_flags BIGINT NOT NULL,
    PRIMARY KEY (agency_id, procedure_id, channel, day)
);
CREATE INDEX daily_counts_day ON daily_counts (day);

-- The same counts per calendar month ('YYYY-MM'): a report reads whole months here and only
-- the partial months at the ends of its period from daily_counts.
CREATE TABLE monthly_counts (
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    procedure_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    month TEXT NOT NULL,
    n_responses BIGINT NOT NULL,
    tc0_valid BIGINT NOT NULL,
    tc0_top2 BIGINT NOT NULL,
    tc0_sum BIGINT NOT NULL,
    tc0_sumsq BIGINT NOT NULL,
    tt0_valid BIGINT NOT NULL,
    tt0_top2 BIGINT NOT NULL,
    tt0_sum BIGINT NOT NULL,
    tt0_sumsq BIGINT NOT NULL,
    cc0_valid BIGINT NOT NULL,
    cc0_top2 BIGINT NOT NULL,
    cc0_sum BIGINT NOT NULL,
    cc0_sumsq BIGINT NOT NULL,
    kq0_valid BIGINT NOT NULL,
    kq0_top2 BIGINT NOT NULL,
    kq0_sum BIGINT NOT NULL,
    kq0_sumsq BIGINT NOT NULL,
    pa0_valid BIGINT NOT NULL,
    pa0_top2 BIGINT NOT NULL,
    pa0_sum BIGINT NOT NULL,
    pa0_sumsq BIGINT NOT NULL,
    hl0_valid BIGINT NOT NULL,
    hl0_top2 BIGINT NOT NULL,
    hl0_sum BIGINT NOT NULL,
    hl0_sumsq BIGINT NOT NULL,
    harassment_k BIGINT NOT NULL,
    harassment_n BIGINT NOT NULL,
    money_hinted BIGINT NOT NULL,
    money_asked BIGINT NOT NULL,
    repeat_k BIGINT NOT NULL,
    repeat_n BIGINT NOT NULL,
    late_k BIGINT NOT NULL,
    late_n BIGINT NOT NULL,
    notified_k BIGINT NOT NULL,
    notified_n BIGINT NOT NULL,
    apology_k BIGINT NOT NULL,
    apology_n BIGINT NOT NULL,
    late_no_apology BIGINT NOT NULL,
    unsatisfied_766 BIGINT NOT NULL,
    comment_flags BIGINT NOT NULL,
    PRIMARY KEY (agency_id, procedure_id, channel, month)
);
CREATE INDEX monthly_counts_month ON monthly_counts (month);

-- Dossiers reported per agency and day (and month) of return: the denominator of response rates.
CREATE TABLE daily_dossiers (
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    day DATE NOT NULL,
    dossiers BIGINT NOT NULL,
    PRIMARY KEY (agency_id, day)
);
CREATE INDEX daily_dossiers_day ON daily_dossiers (day);

CREATE TABLE monthly_dossiers (
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    month TEXT NOT NULL,
    dossiers BIGINT NOT NULL,
    PRIMARY KEY (agency_id, month)
);
