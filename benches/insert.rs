//! The physical limit for the submit path: the same response rows stored straight into the
//! database, one transaction each (as a web submission commits), without HTTP.
//!
//! ```sh
//! SIPAS_DATABASE_URL=/tmp/bench/submit.db cargo bench --bench insert -- 20000
//! ```

use std::time::Instant;

use chrono::NaiveDate;
use diesel::Connection;
use sipas::config::DatabaseSettings;
use sipas::domain::Channel;
use sipas::questionnaire::Questionnaire;
use sipas::responses::record::{Entry, record};
use sipas::responses::{Context, Submission};

fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let url = std::env::var("SIPAS_DATABASE_URL").unwrap_or_else(|_| "sipas.db".into());
    let pool = sipas::db::connect(&DatabaseSettings {
        url: url.clone(),
        ..Default::default()
    })?;
    sipas::db::migrations::run(&pool)?;
    let mut conn: sipas::db::PooledConn = pool.get()?.into();
    let agency = sipas::catalog::queries::all_agencies(&mut conn)?
        .first()
        .map(|a| a.id)
        .ok_or_else(|| anyhow::anyhow!("import agencies first"))?;
    let q = Questionnaire::built_in()?;
    let ctx = Context {
        agency_id: agency,
        procedure_id: None,
        channel: Channel::Counter,
        submitted_on: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default(),
        late: Some(false),
        days_late: Some(0),
    };
    let mut submission = Submission::new(&q, ctx);
    for (item, value) in [
        ("TC0", 5),
        ("TT0", 4),
        ("CC0", 4),
        ("KQ0", 5),
        ("PA0", 0),
        ("HL0", 4),
        ("E1", 2),
        ("E2", 1),
        ("E6", 1),
        ("E7", 1),
    ] {
        submission.set(item, value);
    }
    let entry = [Entry::plain(submission)];
    let start = Instant::now();
    for _ in 0..count {
        conn.transaction(|c| record(c, &entry))?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("database: {}", sipas::db::redact(&url));
    println!(
        "{count} single-row transactions (response + daily and monthly counts) in {secs:.2} s: {:.0} rows/s",
        count as f64 / secs
    );
    Ok(())
}
