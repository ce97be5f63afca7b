//! Staged response imports: citizens submit while a large import runs, a bad file leaves no
//! trace after many batches, and an interrupted import is removed or completed by recovery.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use sipas::aggregates::Tally;
use sipas::db::schema::{agencies, import_chunks, imports};
use sipas::questionnaire::Questionnaire;
use sipas::responses::import::{Progress, import_responses};
use sipas::responses::staging::{self, ImportStatus, PUBLISH_CHUNK, STAGE_BATCH};
use sipas::responses::{Context, Submission};

use crate::helpers::{SHORT_FORM, TestApp, TestResult, import_earliest, spawn_app};

/// `n` plausible paper responses over 2026, with a long-form answer (TC1, kept in
/// `response_answers`) on every third row and a comment on every seventh.
fn paper_file(n: usize) -> String {
    let mut csv = String::with_capacity(n * 48);
    csv.push_str("agency_code,submitted_at,procedure_code,late,TC0,HL0,E1,E6,E7,TC1,C1\n");
    let agencies = ["T-SO", "T-HUYEN", "T-XA"];
    let procedures = ["P-LLTP", "P-DD", ""];
    for i in 0..n {
        let a = i % 3;
        csv.push_str(&format!(
            "{},2026-{:02}-{:02},{},{},{},{},{},{},{},{},{}\n",
            agencies[a],
            1 + (i / 7) % 10,
            1 + (i / 3) % 28,
            procedures[a],
            i % 2,
            1 + i % 5,
            1 + (i / 5) % 5,
            1 + i % 4,
            1 + (i / 11) % 2,
            1 + (i / 13) % 3,
            if i % 3 == 0 { "2" } else { "" },
            if i % 7 == 0 {
                "Nhanh và đúng hẹn"
            } else {
                ""
            },
        ));
    }
    csv
}

/// Every row of the count tables, as text, for comparisons.
fn dump(app: &TestApp) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let mut conn = app.conn()?;
    let mut out = Vec::new();
    let measures: Vec<String> = sipas::aggregates::MEASURES
        .iter()
        .map(|(c, _)| format!("CAST({c} AS TEXT)"))
        .collect();
    let measures = measures.join(" || '|' || ");
    for (table, keys, extra) in [
        (
            "daily_counts",
            "CAST(procedure_id AS TEXT) || '|' || channel || '|' || CAST(day AS TEXT)",
            "''",
        ),
        (
            "monthly_counts",
            "CAST(procedure_id AS TEXT) || '|' || channel || '|' || month",
            "''",
        ),
        (
            "agency_monthly_counts",
            "month",
            "CAST(dossier_responses AS TEXT)",
        ),
        (
            "agency_yearly_counts",
            "year",
            "CAST(dossier_responses AS TEXT)",
        ),
    ] {
        let sql = format!(
            "SELECT '{table}|' || CAST(agency_id AS TEXT) || '|' || {keys} || '|' || {measures} \
             || '|' || {extra} AS line FROM {table} ORDER BY line"
        );
        let lines: Vec<Line> = diesel::sql_query(sql).load(&mut *conn)?;
        out.extend(lines.into_iter().map(|l| l.line));
    }
    Ok(out)
}

/// The counts are what a recount from the raw rows gives (the recount replaces them with the
/// same values).
fn assert_counts_equal_a_recount(app: &TestApp) -> TestResult {
    let kept = dump(app)?;
    sipas::aggregates::recount(&mut *app.conn()?)?;
    assert_eq!(kept, dump(app)?, "counts kept incrementally = a recount");
    Ok(())
}

/// Responses counted in `daily_counts`.
fn counted(app: &TestApp) -> Result<i64, Box<dyn std::error::Error>> {
    counted_in(app, "daily_counts")
}

/// The responses counted in `table` (a count table, with a `WHERE` if wanted).
fn counted_in(app: &TestApp, table: &str) -> Result<i64, Box<dyn std::error::Error>> {
    let mut conn = app.conn()?;
    let n: Option<i64> = diesel::select(diesel::dsl::sql::<
        diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
    >(&format!(
        "(SELECT CAST(SUM(n_responses) AS BIGINT) FROM {table})"
    )))
    .get_result(&mut *conn)?;
    Ok(n.unwrap_or(0))
}

/// Responses a reader sees (the raw export's rule).
fn visible(app: &TestApp) -> Result<i64, Box<dyn std::error::Error>> {
    app.count(&format!("responses WHERE {}", sipas::responses::VISIBLE))
}

#[tokio::test]
async fn citizens_submit_while_a_large_import_runs() -> TestResult {
    let app = spawn_app().await?;
    // PostgreSQL imports about five times slower than SQLite here.
    let rows = if app.db.is_postgres() {
        60_000
    } else {
        200_000
    };
    let batch: Vec<serde_json::Value> = (0..300)
        .map(|i| crate::helpers::dossier(&format!("IMP-{i:03}"), "T-SO", false))
        .collect();
    let issued: serde_json::Value = app
        .post_dossiers(&serde_json::Value::Array(batch))
        .await?
        .json()
        .await?;
    let tokens: Vec<String> = issued["invitations"]
        .as_array()
        .ok_or("no invitations")?
        .iter()
        .filter_map(|i| {
            i["survey_url"]
                .as_str()?
                .rsplit('/')
                .next()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(tokens.len(), 300);
    let submit = async |token: &str| -> Result<(u16, Duration), Box<dyn std::error::Error>> {
        let started = Instant::now();
        let response = app.post_form(&format!("/s/{token}"), &SHORT_FORM).await?;
        Ok((response.status().as_u16(), started.elapsed()))
    };
    let (status, idle) = submit(&tokens[0]).await?;
    assert_eq!(status, 303);

    let csv = paper_file(rows);
    let staged = Arc::new(AtomicU64::new(0));
    let publishing = Arc::new(AtomicBool::new(false));
    let published_after = Arc::new(std::sync::Mutex::new(None));
    let finished = Arc::new(AtomicBool::new(false));
    let importer = {
        let (db, staged, publishing, finished, published_after) = (
            app.database.clone(),
            staged.clone(),
            publishing.clone(),
            finished.clone(),
            published_after.clone(),
        );
        std::thread::spawn(move || {
            let started = Instant::now();
            let result = Questionnaire::built_in()
                .map_err(|e| e.to_string())
                .and_then(|q| {
                    import_responses(&db, &q, import_earliest(), csv.as_bytes(), |p| match p {
                        Progress::Staged(n) => staged.store(n, Ordering::SeqCst),
                        Progress::Publishing { .. } => {
                            if !publishing.swap(true, Ordering::SeqCst)
                                && let Ok(mut at) = published_after.lock()
                            {
                                *at = Some(started.elapsed());
                            }
                        }
                    })
                    .map_err(|e| e.to_string())
                });
            finished.store(true, Ordering::SeqCst);
            (result, started.elapsed())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while staged.load(Ordering::SeqCst) < STAGE_BATCH as u64 && !finished.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the import never staged a batch");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut during = Vec::new();
    for token in &tokens[1..] {
        if finished.load(Ordering::SeqCst) {
            break;
        }
        let phase = if publishing.load(Ordering::SeqCst) {
            "publishing"
        } else {
            "staging"
        };
        let (status, latency) = submit(token).await?;
        assert!(
            status == 303 || status == 200,
            "a citizen's submission during the import got {status}"
        );
        // Answered while the import was still running: a real overlap.
        if !finished.load(Ordering::SeqCst) {
            during.push((phase, latency));
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let (result, took) = importer.join().map_err(|_| "the import thread panicked")?;
    assert_eq!(result?, rows as u64);
    let staging_took = published_after
        .lock()
        .ok()
        .and_then(|at| *at)
        .unwrap_or(took);
    let summary = |phase: &str| {
        let mut ms: Vec<f64> = during
            .iter()
            .filter(|d| d.0 == phase)
            .map(|d| d.1.as_secs_f64() * 1e3)
            .collect();
        ms.sort_by(f64::total_cmp);
        format!(
            "{phase}: {} submits, median {:.1} ms, max {:.1} ms",
            ms.len(),
            ms.get(ms.len() / 2).copied().unwrap_or(0.0),
            ms.last().copied().unwrap_or(0.0)
        )
    };
    eprintln!(
        "{rows} rows imported on {} in {:.1} s (staged in {:.1} s); a submit without an import \
         {:.1} ms; during the import: {}; {}",
        if app.db.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        took.as_secs_f64(),
        staging_took.as_secs_f64(),
        idle.as_secs_f64() * 1e3,
        summary("staging"),
        summary("publishing"),
    );
    assert!(
        during.len() >= 3,
        "citizens submitted while the import ran ({} times)",
        during.len()
    );
    let web = app.count("invitations WHERE used")?;
    assert!(web > during.len() as i64);
    assert_eq!(visible(&app)?, rows as i64 + web);
    assert_eq!(counted(&app)?, rows as i64 + web);
    assert_eq!(app.count("imports WHERE status = 'done'")?, 1);
    assert_counts_equal_a_recount(&app)
}

#[tokio::test]
async fn a_bad_last_line_leaves_no_trace_after_many_batches() -> TestResult {
    let app = spawn_app().await?;
    app.import_responses(&paper_file(50))?;
    let token = app.invite("BEFORE-1", false).await?;
    assert_eq!(
        app.post_form(&format!("/s/{token}"), &SHORT_FORM)
            .await?
            .status()
            .as_u16(),
        303
    );
    let before = app.row_counts()?;
    let counts = dump(&app)?;
    let rows = 3 * STAGE_BATCH + 500;
    let mut csv = paper_file(rows);
    csv.push_str("T-SO,2031-01-01,,,5,5,1,1,1,,\n");
    let q = Questionnaire::built_in()?;
    let mut staged = 0;
    let result = import_responses(&app.database, &q, import_earliest(), csv.as_bytes(), |p| {
        if let Progress::Staged(n) = p {
            staged = n;
        }
    });
    match result {
        Err(sipas::csvfile::ImportError::Lines(errors)) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].line, rows as u64 + 2, "{}", errors[0]);
        }
        other => panic!("expected the last line refused, got {other:?}"),
    }
    assert_eq!(staged, 3 * STAGE_BATCH as u64, "batches were staged first");
    assert_eq!(
        app.row_counts()?,
        before,
        "every table as before (responses, response_answers, counts, imports)"
    );
    assert_eq!(dump(&app)?, counts);
    Ok(())
}

/// The id of agency `code`.
fn agency(app: &TestApp, code: &str) -> Result<i64, Box<dyn std::error::Error>> {
    Ok(agencies::table
        .filter(agencies::code.eq(code))
        .select(agencies::id)
        .first(&mut *app.conn()?)?)
}

/// `n` submissions of import `id`, with extra answers.
fn submissions(
    app: &TestApp,
    id: i64,
    n: usize,
    offset: usize,
) -> Result<Vec<Submission>, Box<dyn std::error::Error>> {
    let q = Questionnaire::built_in()?;
    let agencies = [
        agency(app, "T-SO")?,
        agency(app, "T-HUYEN")?,
        agency(app, "T-XA")?,
    ];
    let first = chrono::NaiveDate::from_ymd_opt(2015, 1, 1).ok_or("date")?;
    // 12,000 (agency, day) pairs over eleven years: many more count rows than a chunk.
    Ok((offset..offset + n)
        .map(|i| {
            let mut s = Submission::new(
                &q,
                Context {
                    agency_id: agencies[i % 3],
                    procedure_id: None,
                    channel: [
                        sipas::domain::Channel::Paper,
                        sipas::domain::Channel::Counter,
                        sipas::domain::Channel::WalkIn,
                        sipas::domain::Channel::Online,
                        sipas::domain::Channel::Postal,
                    ][i / 7 % 5],
                    submitted_on: first + chrono::Duration::days((i * 7 % 4000) as i64),
                    late: Some(i % 5 == 0),
                    days_late: None,
                },
            );
            s.set("HL0", 1 + (i % 5) as i32);
            s.set("E6", 1 + (i % 2) as i32);
            s.set("TC1", 3);
            s.response.import_id = Some(id);
            s
        })
        .collect())
}

fn status(app: &TestApp, id: i64) -> Result<Option<ImportStatus>, Box<dyn std::error::Error>> {
    Ok(imports::table
        .find(id)
        .select(imports::status)
        .first(&mut *app.conn()?)
        .optional()?)
}

async fn submit_one(app: &TestApp, code: &str) -> TestResult {
    let token = app.invite(code, false).await?;
    let response = app.post_form(&format!("/s/{token}"), &SHORT_FORM).await?;
    assert_eq!(response.status().as_u16(), 303);
    Ok(())
}

#[tokio::test]
async fn an_interrupted_staging_import_is_removed_once_its_heartbeat_is_stale() -> TestResult {
    let app = spawn_app().await?;
    submit_one(&app, "WEB-1").await?;
    // An import that staged three batches, with citizens' responses between them, and died.
    let db = &app.database;
    let mut conn = db.conn()?;
    let import = staging::begin(db, &mut conn)?;
    let id = import.id;
    for b in 0..3 {
        staging::stage(
            db,
            &mut conn,
            import,
            &submissions(&app, id, STAGE_BATCH, b * STAGE_BATCH)?,
        )?;
        submit_one(&app, &format!("WEB-S{b}")).await?;
    }
    drop(conn);
    let staged = 3 * STAGE_BATCH as i64;
    assert_eq!(app.count("responses")?, 4 + staged);
    assert_eq!(app.count("response_answers")?, staged);
    assert_eq!(visible(&app)?, 4, "staged rows are invisible");
    assert_eq!(counted(&app)?, 4, "and not counted");
    assert_counts_equal_a_recount(&app)?;
    let counts = dump(&app)?;
    let mut expected = app.row_counts()?;
    for (table, n) in &mut expected {
        match table.as_str() {
            "responses" | "response_answers" => *n -= staged,
            "imports" => *n -= 1,
            _ => {}
        }
    }

    // A live import (fresh heartbeat) is left alone.
    let recovered = staging::recover(db)?;
    assert!(recovered.is_empty(), "{recovered:?}");
    assert_eq!(status(&app, id)?, Some(ImportStatus::Staging));

    // Ten minutes without a heartbeat: start-up removes it, rows, answers and all.
    let stale = sipas::clock::now_to_second() - chrono::Duration::minutes(11);
    diesel::update(imports::table.find(id))
        .set(imports::heartbeat_at.eq(stale))
        .execute(&mut *app.conn()?)?;
    let keys = tempfile::tempdir()?;
    let settings = crate::helpers::test_settings(&app.db, keys.path())?;
    drop(sipas::startup::Application::build(settings)?);
    assert_eq!(status(&app, id)?, None);
    assert_eq!(
        app.row_counts()?,
        expected,
        "only the import's rows are gone; the citizens' responses stay"
    );
    assert_eq!(dump(&app)?, counts, "the counts did not move");
    // A staging step of the removed import is refused, even once a new import has its id
    // (SQLite gives the largest id again).
    let mut conn = db.conn()?;
    let next = staging::begin(db, &mut conn)?;
    if !app.db.is_postgres() {
        assert_eq!(next.id, id, "SQLite reuses the id");
    }
    let late = staging::stage(db, &mut conn, import, &submissions(&app, id, 10, 0)?);
    assert!(
        matches!(late, Err(staging::StageError::Abandoned(_))),
        "{late:?}"
    );
    assert_eq!(app.count("responses")?, 4);
    staging::stage(db, &mut conn, next, &submissions(&app, next.id, 10, 0)?)?;
    staging::discard(db, &mut conn, next)?;
    assert_eq!(
        app.row_counts()?,
        expected,
        "a discarded import leaves no trace"
    );
    Ok(())
}

/// Stages `rows` responses as one import, with citizens' responses between its batches, and
/// commits it. Returns it with its sums kept in memory, as `sipas import responses` keeps them
/// (a recovery that finishes the job sums in SQL and must number the count rows the same way).
async fn committed_import(
    app: &TestApp,
    rows: usize,
    tag: &str,
) -> Result<(staging::Import, Tally), Box<dyn std::error::Error>> {
    let db = &app.database;
    let mut conn = db.conn()?;
    let import = staging::begin(db, &mut conn)?;
    let mut done = 0;
    while done < rows {
        let n = STAGE_BATCH.min(rows - done);
        staging::stage(
            db,
            &mut conn,
            import,
            &submissions(app, import.id, n, done)?,
        )?;
        done += n;
        // Citizens' responses take ids between the import's batches.
        if done % (3 * STAGE_BATCH) == 0 {
            submit_one(app, &format!("{tag}-{done}")).await?;
        }
    }
    staging::commit(db, &mut conn, import)?;
    let mut tally = Tally::new();
    for s in submissions(app, import.id, rows, 0)? {
        tally.add(&s.response);
    }
    Ok((import, tally))
}

/// A committed import of `rows` responses ([`committed_import`]) that dies after adding the
/// first chunk of its counts. Returns its id.
async fn interrupted_while_publishing(
    app: &TestApp,
    rows: usize,
    tag: &str,
) -> Result<i64, Box<dyn std::error::Error>> {
    let (import, tally) = committed_import(app, rows, tag).await?;
    let db = &app.database;
    let mut conn = db.conn()?;
    // The pool's idle connections held: on PostgreSQL too the import publishes on this one
    // connection, and dies after exactly one chunk.
    let held: Vec<_> = std::iter::from_fn(|| db.spare_conn()).collect();
    let died = std::panic::catch_unwind(AssertUnwindSafe(|| {
        staging::publish(db, &mut conn, import.id, Some(tally), |added, _| {
            if added > 0 {
                panic!("killed while publishing");
            }
        })
    }));
    drop(held);
    assert!(died.is_err());
    assert_eq!(status(app, import.id)?, Some(ImportStatus::Publishing));
    assert_eq!(chunks(app, import.id)?, [0], "one chunk of sums added");
    Ok(import.id)
}

/// The chunks of import `id`'s counts recorded as added.
fn chunks(app: &TestApp, id: i64) -> Result<Vec<i64>, Box<dyn std::error::Error>> {
    Ok(import_chunks::table
        .filter(import_chunks::import_id.eq(id))
        .select(import_chunks::chunk)
        .order(import_chunks::chunk)
        .load(&mut *app.conn()?)?)
}

#[tokio::test]
async fn an_import_interrupted_after_its_commit_point_is_rolled_forward() -> TestResult {
    let app = spawn_app().await?;
    submit_one(&app, "WEB-1").await?;
    let rows = 13_000;
    let id = interrupted_while_publishing(&app, rows, "WEB-A").await?;
    let web = visible(&app)?;
    assert!(web >= 3, "{web} web responses between batches");
    assert_eq!(app.count("responses")?, web + rows as i64);
    let partly = counted(&app)?;
    assert!(
        partly > web && partly < web + rows as i64,
        "part of the import counted: {partly}"
    );
    submit_one(&app, "WEB-LATE").await?;

    // Start-up completes it from where it stopped: every row counted once.
    let keys = tempfile::tempdir()?;
    let settings = crate::helpers::test_settings(&app.db, keys.path())?;
    drop(sipas::startup::Application::build(settings)?);
    assert_eq!(status(&app, id)?, Some(ImportStatus::Done));
    assert_eq!(visible(&app)?, web + 1 + rows as i64);
    assert_eq!(
        counted(&app)?,
        web + 1 + rows as i64,
        "each row counted once"
    );
    assert_eq!(app.count("response_answers")?, rows as i64);
    assert_counts_equal_a_recount(&app)?;
    assert!(staging::recover(&app.database)?.is_empty(), "nothing left");

    // A recount while an import is adding its counts leaves it out and sets it back to the
    // start; completing it then counts it once.
    let second = interrupted_while_publishing(&app, 7_000, "WEB-B").await?;
    let web = app.count("invitations WHERE used")?;
    let before = web + rows as i64;
    assert!(counted(&app)? > before);
    sipas::aggregates::recount(&mut *app.conn()?)?;
    assert_eq!(counted(&app)?, before, "the recount leaves it out");
    assert!(chunks(&app, second)?.is_empty(), "its chunks are forgotten");
    let recovered = staging::recover(&app.database)?;
    assert_eq!(recovered.rolled_forward, [second]);
    assert!(recovered.discarded.is_empty());
    assert_eq!(counted(&app)?, before + 7_000);
    assert_eq!(visible(&app)?, before + 7_000);
    assert_counts_equal_a_recount(&app)
}

/// Waits until `ready`, for a minute at most (then the test fails).
fn wait_until(ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited a minute"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Counts the chunks one publisher adds from its `progress` calls: after the first call with a
/// total (which says what was added before), each call where the figure goes up.
struct ChunkCounter<'a> {
    added_by: &'a AtomicU64,
    of: &'a AtomicU64,
    last: Option<u64>,
}

impl<'a> ChunkCounter<'a> {
    fn new(added_by: &'a AtomicU64, of: &'a AtomicU64) -> ChunkCounter<'a> {
        ChunkCounter {
            added_by,
            of,
            last: None,
        }
    }

    /// Takes one `progress(added, total)` call; returns the chunks counted so far.
    fn progress(&mut self, added: u64, total: u64) -> u64 {
        if total > 0 {
            self.of.store(total, Ordering::Release);
            let went_up = self.last.is_some_and(|last| added > last);
            self.last = Some(added);
            if went_up {
                self.added_by.fetch_add(1, Ordering::AcqRel);
            }
        }
        self.added_by.load(Ordering::Acquire)
    }
}

/// Two publishers of one import side by side (the importer with its sums in memory and a
/// recovery summing in SQL), with recounts between their chunks. They take turns: the importer
/// adds a chunk and waits until the recovery has added one; the recovery then waits until the
/// importer has added another, so each goes over chunks the other added. Every chunk is added
/// once, and a recount's forgotten chunks are added again.
#[tokio::test]
async fn two_publishers_and_recounts_count_each_row_once() -> TestResult {
    let app = spawn_app().await?;
    let rows = 13_000;
    let (import, tally) = committed_import(&app, rows, "WEB-P").await?;
    let web = visible(&app)?;
    assert!(web >= 2, "{web} web responses between batches");
    let db = &app.database;
    let (mut importer_conn, mut recovery_conn, mut recount_conn) =
        (db.conn()?, db.conn()?, db.conn()?);
    // The pool's other connections held: each publisher writes on its own one.
    let held: Vec<_> = std::iter::from_fn(|| db.spare_conn()).collect();
    // Chunks each publisher added (its progress went up), and the import's count rows.
    let (by_importer, by_recovery, of) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    // Each thread's error as text (a boxed error cannot leave its thread).
    std::thread::scope(|scope| {
        let importer = scope.spawn(|| {
            let mut count = ChunkCounter::new(&by_importer, &of);
            staging::publish(
                db,
                &mut importer_conn,
                import.id,
                Some(tally),
                |added, total| {
                    if count.progress(added, total) == 1 {
                        wait_until(|| by_recovery.load(Ordering::Acquire) >= 1);
                    }
                },
            )
            .map_err(|e| e.to_string())
        });
        let recovery = scope.spawn(|| {
            let mut count = ChunkCounter::new(&by_recovery, &of);
            let mut waited = false;
            staging::publish(db, &mut recovery_conn, import.id, None, |added, total| {
                if count.progress(added, total) == 1 && !waited {
                    waited = true;
                    wait_until(|| by_importer.load(Ordering::Acquire) >= 2);
                }
            })
            .map_err(|e| e.to_string())
        });
        let recounts = scope.spawn(|| -> Result<(), String> {
            for _ in 0..3 {
                sipas::aggregates::recount(&mut recount_conn).map_err(|e| e.to_string())?;
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        });
        [importer, recovery, recounts]
            .into_iter()
            .try_for_each(|thread| thread.join().map_err(|_| "a thread panicked".to_string())?)
    })?;
    drop(held);
    assert!(
        by_importer.load(Ordering::Acquire) >= 2,
        "the importer added chunks"
    );
    assert!(
        by_recovery.load(Ordering::Acquire) >= 1,
        "the recovery added one"
    );
    assert!(
        of.load(Ordering::Acquire) > 2 * PUBLISH_CHUNK as u64,
        "several chunks to share"
    );
    assert_eq!(status(&app, import.id)?, Some(ImportStatus::Done));
    assert!(
        chunks(&app, import.id)?.is_empty(),
        "done: chunks forgotten"
    );
    assert_eq!(visible(&app)?, web + rows as i64);
    assert_eq!(counted(&app)?, web + rows as i64, "each row counted once");
    assert_counts_equal_a_recount(&app)?;
    assert!(staging::recover(db)?.is_empty(), "nothing left");
    Ok(())
}

#[tokio::test]
async fn the_command_line_import_first_removes_an_abandoned_one() -> TestResult {
    let app = spawn_app().await?;
    let db = &app.database;
    let mut conn = db.conn()?;
    let import = staging::begin(db, &mut conn)?;
    let id = import.id;
    staging::stage(db, &mut conn, import, &submissions(&app, id, 30, 0)?)?;
    drop(conn);
    let stale = sipas::clock::now_to_second() - chrono::Duration::minutes(30);
    diesel::update(imports::table.find(id))
        .set(imports::heartbeat_at.eq(stale))
        .execute(&mut *app.conn()?)?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("paper.csv");
    std::fs::write(&file, paper_file(5))?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(["import", "responses", file.to_str().ok_or("path")?])
        .env("SIPAS_DATABASE_URL", &app.db.url)
        .env(
            "SIPAS_SECURITY_SECRET_KEY",
            "test-secret-test-secret-test-secret-00",
        )
        .current_dir(dir.path())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 completed, 1 removed"), "{stdout}");
    assert!(stdout.contains("imported 5 responses"), "{stdout}");
    assert_eq!(app.count("responses")?, 5, "only the new import's rows");
    assert_eq!(app.count("imports WHERE status = 'done'")?, 1);
    assert_counts_equal_a_recount(&app)
}

/// Every answer an import can carry (each item's options, not applicable, unanswered; late or
/// not or unknown; every channel; with and without a procedure; keys met many times) is counted
/// as the SQL definitions of the measures count it: the counts of an import, summed while its
/// file is read, equal a recount from the raw rows.
#[tokio::test]
async fn an_import_counts_every_answer_as_a_recount_does() -> TestResult {
    let app = spawn_app().await?;
    let options: [(&str, &[&str]); 13] = [
        ("TC0", &["", "1", "2", "3", "4", "5"]),
        ("TT0", &["", "1", "2", "3", "4", "5"]),
        ("CC0", &["", "1", "2", "3", "4", "5"]),
        ("KQ0", &["", "1", "2", "3", "4", "5"]),
        ("PA0", &["", "NA", "1", "2", "3", "4", "5"]),
        ("HL0", &["", "1", "2", "3", "4", "5"]),
        ("E1", &["", "1", "2", "3", "4"]),
        ("E2", &["", "1", "2", "3"]),
        ("E3", &["", "1", "2", "3"]),
        ("E4", &["", "1", "2"]),
        ("E5", &["", "1", "2"]),
        ("E6", &["", "1", "2"]),
        ("E7", &["", "1", "2", "3"]),
    ];
    let mut file = String::from("agency_code,submitted_at,procedure_code,channel,late");
    for (item, _) in &options {
        file.push(',');
        file.push_str(item);
    }
    file.push('\n');
    // A fixed pseudo-random sequence (the same file every run).
    let mut state: u64 = 0x5eed;
    let mut pick = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    };
    let rows: u64 = 4000;
    for _ in 0..rows {
        let agency = ["T-SO", "T-HUYEN", "T-XA"][pick(3)];
        let day = 1 + pick(40);
        let procedure = ["", "P-LLTP", "P-KS", "P-DD"][pick(4)];
        let channel = ["", "counter", "online", "postal", "walk_in", "paper"][pick(6)];
        let late = ["", "0", "1"][pick(3)];
        let mut line = format!(
            "{agency},2026-{:02}-{:02},{procedure},{channel},{late}",
            1 + (day - 1) / 28,
            1 + (day - 1) % 28
        );
        // HL0 always answered: a row must answer something.
        for (item, values) in &options {
            line.push(',');
            let value = values[pick(values.len())];
            line.push_str(if *item == "HL0" && value.is_empty() {
                "3"
            } else {
                value
            });
        }
        file.push_str(&line);
        file.push('\n');
    }
    assert_eq!(app.import_responses(&file)?, rows);
    assert_eq!(counted(&app)?, rows as i64);
    assert!(
        app.count("daily_counts")? > 500,
        "many keys, each met several times"
    );
    assert!(
        app.count("daily_counts WHERE harassment_k > 0 AND late_no_apology > 0 AND pa0_valid > 0")?
            > 0
    );
    assert_counts_equal_a_recount(&app)
}

/// Rolls back migration `version` (dropping the `tables` it creates) and applies it again
/// through the production path, as an upgrade from the version before it does.
fn upgrade_again(app: &TestApp, version: &str, tables: &[&str]) -> TestResult {
    let mut conn = app.conn()?;
    for table in tables {
        diesel::sql_query(format!("DROP TABLE {table}")).execute(&mut *conn)?;
    }
    diesel::sql_query(format!(
        "DELETE FROM __diesel_schema_migrations WHERE version LIKE '%{version}%'"
    ))
    .execute(&mut *conn)?;
    drop(conn);
    let applied = sipas::db::migrations::run(&app.pool)?;
    assert_eq!(applied.len(), 1, "{applied:?}");
    Ok(())
}

/// Migration 000015 again: the months over procedures.
fn upgrade_to_agency_months(app: &TestApp) -> TestResult {
    upgrade_again(
        app,
        "000015",
        &["pending_recounts", "agency_monthly_counts"],
    )
}

/// Migration 000019 again: the years per agency.
fn upgrade_to_agency_years(app: &TestApp) -> TestResult {
    upgrade_again(app, "000019", &["agency_yearly_counts"])
}

/// The upgrade that adds `agency_monthly_counts` fills it from the monthly counts; an import
/// interrupted after adding part of its months (numbered before the new table's rows) would be
/// counted twice there, so that upgrade recounts once, and the import then completes once.
#[tokio::test]
async fn the_agency_months_upgrade_counts_an_interrupted_import_once() -> TestResult {
    let app = spawn_app().await?;
    submit_one(&app, "UPG-1").await?;
    // About 4,000 day rows, then months: the first chunk of 5,000 goes into the months.
    let rows = 4_000;
    let id = interrupted_while_publishing(&app, rows, "UPG-A").await?;
    let days = app.count(&format!(
        "(SELECT DISTINCT agency_id, channel, submitted_on FROM responses WHERE import_id = {id}) d"
    ))?;
    assert!(
        days < PUBLISH_CHUNK,
        "part of the months added: {days} days"
    );
    let web = visible(&app)?;
    upgrade_to_agency_months(&app)?;
    let recovered = staging::recover(&app.database)?;
    assert_eq!(recovered.rolled_forward, [id]);
    assert_eq!(counted(&app)?, web + rows as i64, "each row counted once");
    assert_counts_equal_a_recount(&app)?;
    assert_eq!(app.count("pending_recounts")?, 0, "the request is cleared");

    // A start that died before its recount leaves the request: the next start recounts.
    let mut conn = app.conn()?;
    diesel::sql_query("INSERT INTO pending_recounts (reason) VALUES ('agency_monthly_counts')")
        .execute(&mut *conn)?;
    diesel::sql_query("UPDATE agency_monthly_counts SET n_responses = n_responses + 1")
        .execute(&mut *conn)?;
    drop(conn);
    assert!(sipas::db::migrations::run(&app.pool)?.is_empty());
    assert_eq!(app.count("pending_recounts")?, 0);
    assert_counts_equal_a_recount(&app)?;

    // With nothing interrupted, the table is filled from the months, as a recount fills it.
    submit_one(&app, "UPG-2").await?;
    let before = dump(&app)?;
    upgrade_to_agency_months(&app)?;
    assert_eq!(dump(&app)?, before);
    Ok(())
}

/// The upgrade that adds `agency_yearly_counts` fills it from the agency months; an import
/// interrupted after adding part of its agency months (numbered before the years) would be
/// counted twice in the years once it resumes, so that upgrade recounts once.
#[tokio::test]
async fn the_agency_years_upgrade_counts_an_interrupted_import_once() -> TestResult {
    let app = spawn_app().await?;
    submit_one(&app, "UPY-1").await?;
    // 3,100 day rows and 1,630 months, then 396 agency months: the first chunk of 5,000 ends
    // among the agency months, the years come in the second.
    let rows = 3_100;
    let id = interrupted_while_publishing(&app, rows, "UPY-A").await?;
    let web = visible(&app)?;
    let partly = counted_in(&app, "agency_monthly_counts")?;
    assert!(
        partly > web && partly < web + rows as i64,
        "part of the import's agency months added: {partly}"
    );
    upgrade_to_agency_years(&app)?;
    let recovered = staging::recover(&app.database)?;
    assert_eq!(recovered.rolled_forward, [id]);
    assert_eq!(counted(&app)?, web + rows as i64, "each row counted once");
    assert_counts_equal_a_recount(&app)?;
    assert_eq!(app.count("pending_recounts")?, 0, "the request is cleared");

    // With nothing interrupted, the table is filled from the agency months, as a recount
    // fills it.
    submit_one(&app, "UPY-2").await?;
    let before = dump(&app)?;
    upgrade_to_agency_years(&app)?;
    assert_eq!(dump(&app)?, before);
    Ok(())
}

/// While an import adds its counts (its days before its months), a report reads a partial month
/// as its days, not as the whole month less the other days: no group goes below zero.
#[tokio::test]
async fn a_report_during_publishing_counts_nothing_below_zero() -> TestResult {
    let app = spawn_app().await?;
    interrupted_while_publishing(&app, 13_000, "NEG").await?;
    let mut conn = app.conn()?;
    let map = sipas::report::map::UnitMap::load(
        &mut conn,
        Default::default(),
        chrono::Utc::now().date_naive(),
    )?;
    // 3 January – 27 February 2015: both ends are partial months that the whole month less two
    // and one days would read, and the import's first days (1–2 January, 28 February) are in.
    for group_by in [
        sipas::report::GroupBy::Agency,
        sipas::report::GroupBy::Month,
    ] {
        let query = sipas::report::Query {
            from: chrono::NaiveDate::from_ymd_opt(2015, 1, 3).ok_or("date")?,
            to: chrono::NaiveDate::from_ymd_opt(2015, 2, 27).ok_or("date")?,
            province: None,
            level: None,
            agencies: None,
            group_by,
            map: Default::default(),
        };
        let groups = sipas::report::counts::grouped(&mut conn, &query, None, &map)?;
        assert!(!groups.is_empty());
        for (key, counts) in &groups {
            assert!(counts.n_responses > 0, "{key}: {counts:?}");
            assert!(counts.harassment_n >= 0 && counts.dossier_responses >= 0);
        }
    }
    Ok(())
}

/// Agencies and procedures are kept: answers and counts refer to them. PostgreSQL refuses to
/// delete any (a trigger, in place of the per-row checks it no longer runs on `responses` and
/// the count tables); SQLite's foreign keys refuse to delete one that has answers.
#[tokio::test]
async fn an_agency_with_answers_cannot_be_deleted() -> TestResult {
    let app = spawn_app().await?;
    app.import_responses(&paper_file(30))?;
    let mut conn = app.conn()?;
    let answered = agency(&app, "T-SO")?;
    let refused = diesel::delete(agencies::table.find(answered)).execute(&mut *conn);
    assert!(
        refused.is_err(),
        "deleting an agency with answers: {refused:?}"
    );
    let renumbered = diesel::update(agencies::table.find(answered))
        .set(agencies::id.eq(answered + 1_000))
        .execute(&mut *conn);
    assert!(renumbered.is_err(), "changing its id: {renumbered:?}");
    if app.db.is_postgres() {
        let message = diesel::sql_query("DELETE FROM procedures WHERE code = 'P-KS'")
            .execute(&mut *conn)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("are kept"), "{message}");
    }
    assert_eq!(app.count("agencies WHERE code = 'T-SO'")?, 1);
    assert_eq!(counted(&app)?, 30);
    assert_counts_equal_a_recount(&app)
}

/// With a pool of one connection the import stages on that one alone (on PostgreSQL it takes
/// a second only if one is idle) and still lands every row once.
#[tokio::test]
async fn an_import_with_a_single_pooled_connection_lands_every_row_once() -> TestResult {
    let app = spawn_app().await?;
    let settings = sipas::config::DatabaseSettings {
        pool_size: 1,
        ..app.settings.database.clone()
    };
    let database = sipas::db::Database::open(&settings)?;
    let q = Questionnaire::built_in()?;
    let rows = 3 * STAGE_BATCH + 7;
    let imported = import_responses(
        &database,
        &q,
        import_earliest(),
        paper_file(rows).as_bytes(),
        |_| {},
    )?;
    assert_eq!(imported, rows as u64);
    assert_eq!(visible(&app)?, rows as i64);
    assert_eq!(counted(&app)?, rows as i64);
    assert_counts_equal_a_recount(&app)
}

/// Reports over whole years read the years per agency, alone or with months and days added or
/// taken off: every period gives, per agency and per month, what the raw rows give.
#[tokio::test]
async fn reports_over_years_sum_what_the_rows_hold() -> TestResult {
    use sipas::report::GroupBy;
    let app = spawn_app().await?;
    // 6,000 rows over eleven years (2015 to late 2025) and three agencies, published.
    let (import, tally) = committed_import(&app, 6_000, "YRS").await?;
    let db = &app.database;
    staging::publish(db, &mut *db.conn()?, import.id, Some(tally), |_, _| {})?;
    assert_eq!(status(&app, import.id)?, Some(ImportStatus::Done));
    let mut conn = app.conn()?;
    let today = chrono::Utc::now().date_naive();
    let map = sipas::report::map::UnitMap::load(&mut conn, Default::default(), today)?;
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).ok_or("date");
    let periods = [
        // One year, three years; a year with a ragged start before it.
        (day(2016, 1, 1)?, day(2016, 12, 31)?),
        (day(2016, 1, 1)?, day(2018, 12, 31)?),
        (day(2015, 11, 5)?, day(2019, 12, 31)?),
        // A year less December, less January and December, less two days, plus one day.
        (day(2017, 1, 1)?, day(2017, 11, 30)?),
        (day(2017, 2, 1)?, day(2018, 11, 30)?),
        (day(2017, 1, 3)?, day(2017, 12, 31)?),
        (day(2016, 12, 31)?, day(2017, 12, 31)?),
        // Half a year on either side of New Year: months only.
        (day(2019, 7, 1)?, day(2020, 6, 30)?),
    ];
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Raw {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        hl0_sumsq: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        dossier: i64,
    }
    let [(_, hl0_sumsq)] = sipas::aggregates::MEASURES
        .iter()
        .filter(|(c, _)| *c == "hl0_sumsq")
        .copied()
        .collect::<Vec<_>>()[..]
    else {
        return Err("no hl0_sumsq measure".into());
    };
    let dossier = sipas::aggregates::DOSSIER_RESPONSES[1];
    for (from, to) in periods {
        for (group_by, key, least) in [
            (GroupBy::Agency, "CAST(agency_id AS TEXT)", 3),
            (
                GroupBy::Month,
                "SUBSTR(CAST(submitted_on AS TEXT), 1, 7)",
                3,
            ),
            (GroupBy::Level, "a.level", 3),
            (GroupBy::Province, "CAST(a.province_id AS TEXT)", 1),
        ] {
            let raw: Vec<Raw> = diesel::sql_query(format!(
                "SELECT {key} AS key, COUNT(*) AS n, CAST(SUM({hl0_sumsq}) AS BIGINT) AS hl0_sumsq, \
                 CAST(SUM({dossier}) AS BIGINT) AS dossier \
                 FROM responses JOIN agencies a ON a.id = responses.agency_id \
                 WHERE {} AND submitted_on BETWEEN '{from}' AND '{to}' GROUP BY {key} ORDER BY {key}",
                sipas::responses::VISIBLE
            ))
            .load(&mut *conn)?;
            let query = sipas::report::Query {
                from,
                to,
                province: None,
                level: None,
                agencies: None,
                group_by,
                map: Default::default(),
            };
            let counted: Vec<Raw> = sipas::report::counts::grouped(&mut conn, &query, None, &map)?
                .into_iter()
                .map(|(key, c)| Raw {
                    key,
                    n: c.n_responses,
                    hl0_sumsq: c.hl0_sumsq,
                    dossier: c.dossier_responses,
                })
                .collect();
            assert!(raw.len() >= least, "{from}–{to}: {raw:?}");
            assert_eq!(counted, raw, "{from}–{to} by {}", group_by.as_str());
        }
        // The report with its early-warning months read on a second connection meanwhile is
        // the report read on one.
        let query = sipas::report::Query {
            from,
            to,
            province: None,
            level: None,
            agencies: None,
            group_by: GroupBy::Agency,
            map: Default::default(),
        };
        let alone = serde_json::to_string(&sipas::report::build(&mut conn, &query)?)?;
        let beside = sipas::report::build_with(&mut conn, || app.conn().ok(), &query)?;
        assert_eq!(serde_json::to_string(&beside)?, alone, "{from}–{to}");
    }
    Ok(())
}

/// An import whose first chunk (summed in memory while the file was read) ends among its years,
/// and whose rest is added at the next start (summed in SQL): both number the years alike, so
/// each is counted once.
#[tokio::test]
async fn years_summed_in_memory_and_in_sql_are_numbered_alike() -> TestResult {
    let app = spawn_app().await?;
    // 2,975 day rows, 1,610 months and 396 agency months, then 33 years (numbers 4,982 to
    // 5,014): the first chunk of 5,000 ends after 19 of them.
    let rows = 2_975;
    let id = interrupted_while_publishing(&app, rows, "NUM").await?;
    let web = visible(&app)?;
    let years = counted_in(&app, "agency_yearly_counts WHERE year < '2026'")?;
    assert!(
        years > 0 && years < rows as i64,
        "part of the import's years added: {years}"
    );
    // Meanwhile the last agency's months are in and its years not: a report reads its months
    // (a year less its other months would go below zero).
    let mut conn = app.conn()?;
    let today = chrono::Utc::now().date_naive();
    let map = sipas::report::map::UnitMap::load(&mut conn, Default::default(), today)?;
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).ok_or("date");
    for (from, to) in [
        (day(2020, 1, 1)?, day(2020, 11, 30)?),
        (day(2019, 2, 1)?, day(2020, 11, 30)?),
    ] {
        for group_by in [
            sipas::report::GroupBy::Agency,
            sipas::report::GroupBy::Level,
        ] {
            let query = sipas::report::Query {
                from,
                to,
                province: None,
                level: None,
                agencies: None,
                group_by,
                map: Default::default(),
            };
            let groups = sipas::report::counts::grouped(&mut conn, &query, None, &map)?;
            assert_eq!(groups.len(), 3, "{from}–{to}: {groups:?}");
            for (key, counts) in &groups {
                assert!(counts.n_responses > 0, "{from}–{to} {key}: {counts:?}");
            }
        }
    }
    drop(conn);
    let recovered = staging::recover(&app.database)?;
    assert_eq!(recovered.rolled_forward, [id]);
    assert_eq!(counted(&app)?, web + rows as i64, "each row counted once");
    assert_counts_equal_a_recount(&app)
}
