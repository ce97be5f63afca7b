//! `sipas import responses FILE.csv`: paper and legacy answers, all or nothing, staged in short
//! transactions so that citizens' submissions go on meanwhile (`super::staging`).
//!
//! Columns: `agency_code, submitted_at` (RFC 3339 or `YYYY-MM-DD`), optional `procedure_code,
//! channel, late` (0/1) and `questionnaire`, then one column per question id. An answer is the
//! option's position from 1, `NA` for "Không áp dụng", empty for not answered; `C1` is text.
//!
//! Plausibility: `submitted_at` is neither after today (Vietnam) nor before the configured
//! earliest day (`[survey] import_earliest`); a row answers at least one question (an option or
//! `NA`) or has a comment; the comment is at most as long as the web form allows.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};

use chrono::NaiveDate;

use super::staging::{self, Import, STAGE_BATCH, StageError};
use super::{Context, Submission};
use crate::aggregates::Tally;
use crate::catalog::queries as catalog;
use crate::csvfile::{CsvRows, ImportError, Problems, Row};
use crate::db::{Database, DbConn};
use crate::domain::Channel;
use crate::invitations::dossier::parse_timestamp;
use crate::questionnaire::{COMMENT_ITEM, DEFAULT_MAX_TEXT_LENGTH, Item, Questionnaire};

const FIXED: [&str; 6] = [
    "agency_code",
    "submitted_at",
    "procedure_code",
    "channel",
    "late",
    "questionnaire",
];

/// How far an import is, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Rows read, checked and staged so far (not yet visible).
    Staged(u64),
    /// The whole file is in (nothing can undo it now) and is added to the counts: `added` count
    /// rows (per agency, procedure, channel and day or month) of `of` (0 while it is summed up).
    Publishing { added: u64, of: u64 },
}

/// Imports every row or none, staged in short transactions; `earliest` is the first day a
/// response may have been given. Returns the number of responses imported.
pub fn import_responses(
    db: &Database,
    questionnaire: &Questionnaire,
    earliest: NaiveDate,
    input: impl Read + Send,
    mut progress: impl FnMut(Progress),
) -> Result<u64, ImportError> {
    let mut rows = CsvRows::open_with(input, &["agency_code", "submitted_at"], &[COMMENT_ITEM])?;
    let mut conn = db.conn()?;
    let conn: &mut DbConn = &mut conn;
    let mut header = Problems::default();
    for column in rows.column_names() {
        if !FIXED.contains(&column) && questionnaire.item(column).is_none() {
            header.add(
                1,
                format!(
                    "cột {column} không phải là câu hỏi của bảng hỏi {q} (column {column} is not a question of {q})",
                    q = questionnaire.id
                ),
            );
        }
    }
    header.into_result()?;
    let rules = Rules::load(conn, questionnaire, earliest)?;
    crate::db::with_import_cache(conn, |conn| {
        let import = staging::begin(db, conn)?;
        // Staging writes many runs; publishing (below) checkpoints as usual, or a citizen's
        // commit would find the whole log to copy.
        let staged = db
            .with_background_checkpoints(conn, |conn| {
                stage_file(db, conn, import, &rules, &mut rows, &mut progress)
            })
            .and_then(|n| {
                staging::commit(db, conn, import)?;
                Ok(n)
            });
        let (count, tally) = match staged {
            Ok(staged) => staged,
            Err(e) => {
                if let Err(cleanup) = staging::discard(db, conn, import) {
                    tracing::warn!(
                        import = import.id,
                        error = %cleanup,
                        "could not remove the rows of a failed import; they stay invisible, and a later start or import removes them"
                    );
                }
                return Err(e);
            }
        };
        staging::publish(db, conn, import.id, tally, |added, of| {
            progress(Progress::Publishing { added, of })
        })
        .map_err(|e| ImportError::Unpublished {
            rows: count,
            reason: e.to_string(),
        })?;
        Ok(count)
    })
}

impl From<StageError> for ImportError {
    fn from(e: StageError) -> Self {
        match e {
            StageError::Abandoned(_) => ImportError::Abandoned(e.to_string()),
            StageError::Database(e) => ImportError::Database(e),
        }
    }
}

/// What the checking thread sends: a batch of checked rows, or, at the end, the problems found
/// (rows after the first problem are checked, never sent).
enum Checked {
    Batch(Vec<Submission>),
    Done(Problems, Option<Tally>),
}

/// Connections that stage an import's batches side by side on PostgreSQL: the server checks
/// each row's agency and procedure and updates three indexes on one core per connection, which
/// left the second core of the benchmark machine idle with one.
const PG_STAGERS: usize = 2;

/// Reads, checks and stages every row: a second thread reads, checks and sums the file while
/// this one stages the batch before (on PostgreSQL, with a spare pooled connection, a third
/// thread stages beside it). Stops writing at the first bad row but goes on checking, to report
/// every bad line. Returns the rows staged and their sums.
fn stage_file(
    db: &Database,
    conn: &mut DbConn,
    import: Import,
    rules: &Rules<'_>,
    rows: &mut CsvRows<impl Read + Send>,
    progress: &mut impl FnMut(Progress),
) -> Result<(u64, Option<Tally>), ImportError> {
    // Two batches in flight per stager at most.
    let stagers = match conn {
        DbConn::Sqlite(_) => 1,
        DbConn::Pg(_) => PG_STAGERS,
    };
    let (send, checked) = mpsc::sync_channel::<Checked>(2 * stagers);
    let spares: Vec<_> = (1..stagers).map_while(|_| db.spare_conn()).collect();
    let shared = Stagers {
        checked: Mutex::new(Some(checked)),
        stop: AtomicBool::new(false),
        staged: AtomicU64::new(0),
    };
    let shared = &shared;
    std::thread::scope(|scope| {
        let checker = scope.spawn(move || check_rows(rows, rules, import.id, &send));
        // Closes the channel however this closure ends (a panic too): the checker's next send
        // then fails and it ends, instead of waiting for a receiver forever.
        let closer = CloseOnDrop(shared);
        let helpers: Vec<_> = spares
            .into_iter()
            .map(|mut spare| scope.spawn(move || shared.stage(db, &mut spare, import, &mut |_| {})))
            .collect();
        let mut outcome = shared.stage(db, conn, import, &mut |n| progress(Progress::Staged(n)));
        for helper in helpers {
            let helped = helper.join().unwrap_or_else(|_| {
                Err(ImportError::Read(
                    "luồng ghi dữ liệu đã dừng (a staging thread stopped)".into(),
                ))
            });
            outcome = match (outcome, helped) {
                (Err(e), _) | (Ok(_), Err(e)) => Err(e),
                (Ok(mine), Ok(theirs)) => Ok(mine.or(theirs)),
            };
        }
        // The other threads' last batches.
        progress(Progress::Staged(shared.staged.load(Ordering::Acquire)));
        drop(closer);
        // The checker ends with `Done` unless it panicked: joined here, its panic is this error
        // (and the import is discarded) instead of a panic of the whole import.
        if checker.join().is_err() {
            tracing::error!(
                import = import.id,
                "the thread checking the import file panicked"
            );
        }
        match outcome? {
            Some((problems, tally)) => {
                problems.into_result()?;
                Ok((shared.staged.load(Ordering::Acquire), tally))
            }
            None => Err(ImportError::Read(
                "luồng kiểm tra tệp đã dừng (the thread checking the file stopped)".into(),
            )),
        }
    })
}

/// Closes the stagers' channel when dropped.
struct CloseOnDrop<'a>(&'a Stagers);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// What the threads staging one import share: the checked batches, a stop sign raised by the
/// first that fails, and the rows staged by all.
struct Stagers {
    /// Taken away ([`Stagers::close`]) once every stager is done.
    checked: Mutex<Option<mpsc::Receiver<Checked>>>,
    stop: AtomicBool,
    staged: AtomicU64,
}

/// The checker's verdict and its sums.
type Verdict = (Problems, Option<Tally>);

impl Stagers {
    /// The next message, or `None` once the checker is gone or another thread failed.
    fn next(&self) -> Option<Checked> {
        if self.stop.load(Ordering::Acquire) {
            return None;
        }
        self.checked.lock().ok()?.as_ref()?.recv().ok()
    }

    /// Drops the receiving end: the checker's next send fails.
    fn close(&self) {
        if let Ok(mut checked) = self.checked.lock() {
            checked.take();
        }
    }

    /// Stages batches on `conn` until the checker's verdict (returned by the thread that takes
    /// it) or the end; on SQLite a run takes the batches already checked while nobody else needs
    /// the turn. Calls `progress` with the rows staged by every thread so far.
    fn stage(
        &self,
        db: &Database,
        conn: &mut DbConn,
        import: Import,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Option<Verdict>, ImportError> {
        let mut run = || -> Result<Option<Verdict>, ImportError> {
            // A message taken while staging that is not a batch, for the loop to handle.
            let mut pending: Option<Checked> = None;
            while let Some(message) = pending.take().or_else(|| self.next()) {
                match message {
                    Checked::Batch(batch) => {
                        let more = || {
                            let checked = self.checked.lock().ok()?;
                            match checked.as_ref()?.try_recv() {
                                Ok(Checked::Batch(next)) => Some(next),
                                Ok(done) => {
                                    pending = Some(done);
                                    None
                                }
                                Err(_) => None,
                            }
                        };
                        let staged = staging::stage_run(db, conn, import, batch, more)?;
                        progress(self.staged.fetch_add(staged, Ordering::AcqRel) + staged);
                    }
                    Checked::Done(problems, tally) => {
                        return Ok(Some((problems, tally)));
                    }
                }
            }
            Ok(None)
        };
        let outcome = run();
        if outcome.is_err() {
            self.stop.store(true, Ordering::Release);
        }
        outcome
    }
}

/// Checks every row, sending batches of [`STAGE_BATCH`] while no problem was found, and sums
/// them up (sent with the problems at the end).
fn check_rows(
    rows: &mut CsvRows<impl Read>,
    rules: &Rules<'_>,
    import_id: i64,
    send: &mpsc::SyncSender<Checked>,
) {
    let mut problems = Problems::default();
    let mut batch: Vec<Submission> = Vec::with_capacity(STAGE_BATCH);
    // Summing in SQL took 9 of a 25 s SQLite import, and 20 of a 90 s PostgreSQL one (1,000,000
    // responses over 40 procedures a level); the tally is bounded (`tally::MAX_KEYS`, then the
    // import is summed in SQL).
    let mut tally = Some(Tally::new());
    while let Some(row) = rows.next_row() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let Some(mut submission) = rules.check(&row, &mut problems) else {
            continue;
        };
        if !problems.is_empty() {
            // Keep validating to report every bad line, but write nothing more.
            continue;
        }
        submission.response.import_id = Some(import_id);
        if let Some(tally) = &mut tally {
            tally.add(&submission.response);
        }
        batch.push(submission);
        if batch.len() == STAGE_BATCH
            && send
                .send(Checked::Batch(std::mem::take(&mut batch)))
                .is_err()
        {
            return;
        }
    }
    if problems.is_empty() && !batch.is_empty() && send.send(Checked::Batch(batch)).is_err() {
        return;
    }
    // The receiver gone means staging already stopped with its own error.
    let _ = send.send(Checked::Done(problems, tally));
}

/// What a row is checked against.
struct Rules<'q> {
    questionnaire: &'q Questionnaire,
    agencies: HashMap<String, i64>,
    procedures: HashMap<String, i64>,
    earliest: NaiveDate,
    today: NaiveDate,
    comment_max: usize,
}

impl<'q> Rules<'q> {
    fn load(
        conn: &mut DbConn,
        questionnaire: &'q Questionnaire,
        earliest: NaiveDate,
    ) -> Result<Rules<'q>, ImportError> {
        Ok(Rules {
            questionnaire,
            agencies: catalog::all_agencies(conn)?
                .into_iter()
                .map(|a| (a.code, a.id))
                .collect(),
            procedures: catalog::all_procedures(conn)?
                .into_iter()
                .map(|p| (p.code, p.id))
                .collect(),
            earliest,
            today: crate::clock::today(),
            comment_max: questionnaire
                .item(COMMENT_ITEM)
                .map_or(DEFAULT_MAX_TEXT_LENGTH, Item::max_text_length),
        })
    }

    /// The row as a submission, or `None` with its problems added.
    fn check(&self, row: &Row<'_>, problems: &mut Problems) -> Option<Submission> {
        let line = row.line;
        let mut bad = |m: String| problems.add(line, m);
        let agency_id = self.agencies.get(row.get("agency_code")).copied();
        if agency_id.is_none() {
            bad(format!(
                "không có cơ quan mã {c:?} (unknown agency_code {c:?})",
                c = row.get("agency_code")
            ));
        }
        let submitted_on = match submitted_on(row.get("submitted_at")) {
            None => {
                bad(format!(
                    "submitted_at {v:?} không đúng dạng RFC 3339 hay YYYY-MM-DD (submitted_at {v:?} is not RFC 3339 or YYYY-MM-DD)",
                    v = row.get("submitted_at")
                ));
                None
            }
            Some(day) if day > self.today => {
                bad(format!(
                    "submitted_at {v:?} là ngày trong tương lai (hôm nay là {t} theo giờ Việt Nam) (submitted_at {v:?} is in the future: today is {t} in Vietnam)",
                    v = row.get("submitted_at"),
                    t = self.today
                ));
                None
            }
            Some(day) if day < self.earliest => {
                bad(format!(
                    "submitted_at {v:?} trước ngày {e}, ngày sớm nhất được nhận ([survey] import_earliest) (submitted_at {v:?} is before {e}, the earliest day accepted)",
                    v = row.get("submitted_at"),
                    e = self.earliest
                ));
                None
            }
            day => day,
        };
        let procedure_id = match row.get("procedure_code") {
            "" => Some(None),
            code => self.procedures.get(code).map(|id| Some(*id)),
        };
        if procedure_id.is_none() {
            bad(format!(
                "không có thủ tục mã {c:?} (unknown procedure_code {c:?})",
                c = row.get("procedure_code")
            ));
        }
        let channel = match row.get("channel") {
            "" => Some(Channel::Paper),
            c => Channel::parse(c),
        };
        if channel.is_none() {
            bad(format!(
                "kênh {c:?} không phải counter, online, postal, walk_in hay paper (channel {c:?} is not counter, online, postal, walk_in or paper)",
                c = row.get("channel")
            ));
        }
        let late = match row.get("late") {
            "" => Some(None),
            "0" => Some(Some(false)),
            "1" => Some(Some(true)),
            _ => None,
        };
        if late.is_none() {
            bad(format!(
                "late {v:?} phải là 0, 1 hoặc để trống (late {v:?} must be 0, 1 or empty)",
                v = row.get("late")
            ));
        }
        let questionnaire = self.questionnaire;
        match row.get("questionnaire") {
            "" => {}
            q if q == questionnaire.id => {}
            q => bad(format!(
                "bảng hỏi {q:?} không phải bảng hỏi đang dùng {a} (questionnaire {q:?} is not the active questionnaire {a})",
                a = questionnaire.id
            )),
        }
        let mut answers: Vec<(&str, i32)> = Vec::new();
        let mut comment = None;
        let mut answered = false;
        for (column, value) in row.columns_where(|c| !FIXED.contains(&c)) {
            if value.is_empty() {
                continue;
            }
            answered = true;
            if column == COMMENT_ITEM {
                let length = value.chars().count();
                if length > self.comment_max {
                    bad(format!(
                        "{COMMENT_ITEM} dài {length} ký tự; chỉ nhận tối đa {m} (như trên biểu mẫu web) ({COMMENT_ITEM} is {length} characters long; at most {m} are accepted, as on the web form)",
                        m = self.comment_max
                    ));
                }
                comment = Some(value);
                continue;
            }
            let Some(item) = questionnaire.item(column) else {
                continue;
            };
            let stored = if value.eq_ignore_ascii_case("NA") {
                item.na.then_some(0)
            } else {
                value
                    .parse::<i32>()
                    .ok()
                    .filter(|v| *v >= 1 && *v as usize <= item.options.len())
            };
            match stored {
                Some(v) => answers.push((column, v)),
                None => bad(format!(
                    "{column} = {value:?}: cần một số từ 1 đến {n}{vi} (expected 1–{n}{en})",
                    n = item.options.len(),
                    vi = if item.na { " hoặc NA" } else { "" },
                    en = if item.na { " or NA" } else { "" }
                )),
            }
        }
        if !answered {
            bad("dòng không trả lời câu hỏi nào: cần ít nhất một câu trả lời hoặc một ý kiến (the row answers no question: at least one answer or a comment is needed)".into());
        }
        let (Some(agency_id), Some(submitted_on), Some(procedure_id), Some(channel), Some(late)) =
            (agency_id, submitted_on, procedure_id, channel, late)
        else {
            return None;
        };
        let ctx = Context {
            agency_id,
            procedure_id,
            channel,
            submitted_on,
            late,
            days_late: None,
        };
        let mut submission = Submission::new(questionnaire, ctx);
        for (item, value) in answers {
            submission.set(item, value);
        }
        if let Some(comment) = comment {
            submission.set_comment(comment);
        }
        Some(submission)
    }
}

/// The Vietnam calendar day of a submission time.
fn submitted_on(value: &str) -> Option<NaiveDate> {
    if let Ok(d) = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d") {
        return Some(d);
    }
    let utc = parse_timestamp(value)?;
    Some(crate::clock::day_of(utc))
}
