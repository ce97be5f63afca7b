-- The counts of each agency and calendar year, summed from its months: what a report by agency,
-- level or province over whole years reads (a province-year is then one row per agency instead
-- of twelve: on PostgreSQL the year's count query of 3,000 agencies took 14 ms instead of 40,
-- docs/benchmarks.md). Written with the other count tables in every inserting transaction
-- (src/aggregates/mod.rs); filled here from `agency_monthly_counts`.
CREATE TABLE agency_yearly_counts (
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    year TEXT NOT NULL,
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
    dossier_responses BIGINT NOT NULL,
    PRIMARY KEY (agency_id, year)
);
CREATE INDEX agency_yearly_counts_year ON agency_yearly_counts (year);
INSERT INTO agency_yearly_counts (agency_id, year, n_responses, tc0_valid, tc0_top2, tc0_sum, tc0_sumsq, tt0_valid, tt0_top2, tt0_sum, tt0_sumsq, cc0_valid, cc0_top2, cc0_sum, cc0_sumsq, kq0_valid, kq0_top2, kq0_sum, kq0_sumsq, pa0_valid, pa0_top2, pa0_sum, pa0_sumsq, hl0_valid, hl0_top2, hl0_sum, hl0_sumsq, harassment_k, harassment_n, money_hinted, money_asked, repeat_k, repeat_n, late_k, late_n, notified_k, notified_n, apology_k, apology_n, late_no_apology, unsatisfied_766, comment_flags, dossier_responses)
SELECT agency_id, SUBSTR(month, 1, 4), SUM(n_responses), SUM(tc0_valid), SUM(tc0_top2), SUM(tc0_sum), SUM(tc0_sumsq), SUM(tt0_valid), SUM(tt0_top2), SUM(tt0_sum), SUM(tt0_sumsq), SUM(cc0_valid), SUM(cc0_top2), SUM(cc0_sum), SUM(cc0_sumsq), SUM(kq0_valid), SUM(kq0_top2), SUM(kq0_sum), SUM(kq0_sumsq), SUM(pa0_valid), SUM(pa0_top2), SUM(pa0_sum), SUM(pa0_sumsq), SUM(hl0_valid), SUM(hl0_top2), SUM(hl0_sum), SUM(hl0_sumsq), SUM(harassment_k), SUM(harassment_n), SUM(money_hinted), SUM(money_asked), SUM(repeat_k), SUM(repeat_n), SUM(late_k), SUM(late_n), SUM(notified_k), SUM(notified_n), SUM(apology_k), SUM(apology_n), SUM(late_no_apology), SUM(unsatisfied_766), SUM(comment_flags), SUM(dossier_responses)
FROM agency_monthly_counts GROUP BY agency_id, SUBSTR(month, 1, 4);

-- An import interrupted while adding its counts resumes by number across the count tables,
-- and its years are numbered after the others only from this release: months it already added
-- are in the years filled above and would be added again once it resumes. Such a database is
-- recounted once at the next start (src/db/migrations.rs), as after migration 000015.
INSERT INTO pending_recounts (reason)
SELECT 'agency_yearly_counts' WHERE EXISTS (SELECT 1 FROM imports WHERE status = 'publishing');
