//! Report speed: `report::build` from the daily counts against the same per-agency sums computed
//! by scanning the raw responses in SQL. Run against a loaded database:
//!
//! ```sh
//! SIPAS_DATABASE_URL=/tmp/bench/p1m.db cargo bench --bench report -- 2026-01-01 2026-12-31
//! ```

use std::time::{Duration, Instant};

use diesel::prelude::*;
use sipas::aggregates::MEASURES;
use sipas::config::DatabaseSettings;
use sipas::report::{self, GroupBy, Query};

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(Duration, T)> {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f()?);
        times.push(start.elapsed());
    }
    Ok((
        median(times),
        last.ok_or_else(|| anyhow::anyhow!("no run"))?,
    ))
}

#[derive(QueryableByName)]
struct Scanned {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n_responses: i64,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let from = args
        .first()
        .map(String::as_str)
        .unwrap_or("2026-01-01")
        .parse()?;
    let to = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("2026-12-31")
        .parse()?;
    let url = std::env::var("SIPAS_DATABASE_URL").unwrap_or_else(|_| "sipas.db".into());
    let pool = sipas::db::connect(&DatabaseSettings {
        url: url.clone(),
        ..Default::default()
    })?;
    sipas::db::migrations::run(&pool)?;
    let mut conn: sipas::db::PooledConn = pool.get()?.into();
    let query = Query {
        from,
        to,
        province: None,
        level: None,
        agencies: None,
        group_by: GroupBy::Agency,
        map: Default::default(),
    };
    // As the dashboard's cache and `sipas report` build it: the early-warning months on a
    // second connection, when the pool has one idle.
    let (report_time, built) = time(5, || {
        Ok(report::build_with(
            &mut conn,
            || pool.try_get().map(Into::into),
            &query,
        )?)
    })?;
    let agencies = built.agencies.as_ref().map(Vec::len).unwrap_or(0);
    let sums: Vec<String> = MEASURES
        .iter()
        .map(|(c, e)| format!("CAST(SUM({e}) AS BIGINT) AS {c}"))
        .collect();
    let scan = format!(
        "SELECT agency_id, {} FROM responses WHERE submitted_on BETWEEN '{from}' AND '{to}' GROUP BY agency_id",
        sums.join(", ")
    );
    let (scan_time, rows) = time(3, || {
        Ok(diesel::sql_query(&scan).load::<Scanned>(&mut *conn)?)
    })?;
    let scanned: i64 = rows.iter().map(|r| r.n_responses).sum();
    println!("database: {}", sipas::db::redact(&url));
    println!(
        "responses in period: {} (report) / {scanned} (raw scan); agencies: {agencies}",
        built.totals.responses
    );
    println!(
        "report::build from daily counts (median of 5): {:.1} ms",
        report_time.as_secs_f64() * 1e3
    );
    println!(
        "raw SQL scan of responses, sums only (median of 3): {:.1} ms",
        scan_time.as_secs_f64() * 1e3
    );
    println!(
        "speed-up: {:.1}x",
        scan_time.as_secs_f64() / report_time.as_secs_f64()
    );
    Ok(())
}
