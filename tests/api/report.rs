//! `sipas report` end to end: responses imported with `sipas import responses`, a report with
//! planted problem agencies (and a null data set with none), reproducible to the byte on both
//! databases, and daily counts equal to a recount from raw rows.

use std::fmt::Write as _;
use std::path::Path;

use diesel::prelude::*;

use crate::helpers::{TestDb, TestResult, spawn_app};

/// A deterministic generator (SplitMix64), so the data set is the same on every run.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Agencies of province RP: (code, responses, harassment rate, repeat-visit rate).
fn province(planted: bool) -> Vec<(String, usize, f64, f64)> {
    let mut list = Vec::new();
    for i in 0..36 {
        // Sizes from 6 to 216; a dozen agencies below 30 responses.
        let n = 6 + (i * 37) % 211;
        list.push((format!("R-{i:02}"), n, 0.04, 0.08));
    }
    if planted {
        list.push(("R-BAD-H1".into(), 150, 0.25, 0.08));
        list.push(("R-BAD-H2".into(), 90, 0.30, 0.08));
        list.push(("R-BAD-V".into(), 120, 0.04, 0.40));
    }
    list.push(("R-EMPTY".into(), 0, 0.0, 0.0));
    list
}

pub(crate) fn write_files(
    dir: &Path,
    planted: bool,
    seed: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let agencies = province(planted);
    let mut catalog = String::from("code,name,level,province_code,parent_code\n");
    for (code, ..) in &agencies {
        writeln!(catalog, "{code},Cơ quan {code},xa,RP,")?;
    }
    std::fs::write(dir.join("agencies.csv"), catalog)?;
    let mut rng = Rng(seed);
    let mut csv = String::from("agency_code,submitted_at,channel,late,HL0,TC0,E1,E2,E6,E7,C1\n");
    for (code, n, harassment, repeat) in &agencies {
        for j in 0..*n {
            // January to November 2026: an import refuses days after today.
            let day = 1 + (j / 12) % 28;
            let month = 1 + j % 11;
            let hl0 = if rng.unit() < 0.8 {
                4 + usize::from(rng.unit() < 0.5)
            } else {
                1 + (rng.unit() * 3.0) as usize
            };
            let harassed = rng.unit() < *harassment;
            let (e6, e7) = if harassed {
                (2, if rng.unit() < 0.3 { 2 } else { 1 })
            } else {
                (1, 1)
            };
            let e1 = if rng.unit() < *repeat { 3 } else { 1 };
            let late = u8::from(rng.unit() < 0.1);
            let comment = if harassed && rng.unit() < 0.2 {
                "phải bồi dưỡng"
            } else {
                ""
            };
            writeln!(
                csv,
                "{code},2026-{month:02}-{day:02},counter,{late},{hl0},4,{e1},1,{e6},{e7},{comment}"
            )?;
        }
    }
    std::fs::write(dir.join("responses.csv"), csv)?;
    Ok(())
}

fn sipas(db: &str, dir: &Path, args: &[&str]) -> Result<std::process::Output, std::io::Error> {
    std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(args)
        .env("SIPAS_DATABASE_URL", db)
        .env(
            "SIPAS_SECURITY_SECRET_KEY",
            "report-test-secret-report-test-secret",
        )
        .current_dir(dir)
        .output()
}

/// Imports the data set into `db` and returns the JSON report.
fn import_and_report(db: &str, dir: &Path) -> Result<String, Box<dyn std::error::Error>> {
    for (what, file) in [("agencies", "agencies.csv"), ("responses", "responses.csv")] {
        let out = sipas(db, dir, &["import", what, file])?;
        assert!(
            out.status.success(),
            "import {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = sipas(
        db,
        dir,
        &[
            "report",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--province",
            "RP",
            "--format",
            "json",
        ],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

fn flags(report: &serde_json::Value) -> Vec<(String, String, String, u64)> {
    report["agencies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["code"].as_str().unwrap_or("").to_owned(),
                a["harassment"]["flag"].as_str().unwrap_or("").to_owned(),
                a["repeat_visits"]["flag"].as_str().unwrap_or("").to_owned(),
                a["responses"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn planted_agencies_are_flagged_with_reasons_and_small_ones_are_not() -> TestResult {
    let db = TestDb::new()?;
    let dir = tempfile::tempdir()?;
    write_files(dir.path(), true, 7)?;
    let json = import_and_report(&db.url, dir.path())?;
    let report: serde_json::Value = serde_json::from_str(&json)?;
    assert_eq!(report["period"]["from"], "2026-01-01");
    assert_eq!(report["period"]["to"], "2026-12-31");
    let rows = flags(&report);
    let flag_of = |code: &str| {
        rows.iter()
            .find(|r| r.0 == code)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(flag_of("R-BAD-H1").1, "alarm");
    assert_eq!(flag_of("R-BAD-H2").1, "alarm");
    assert_eq!(flag_of("R-BAD-V").2, "alarm");
    assert_eq!(flag_of("R-BAD-V").1, "none");
    // Alarms first.
    assert!(
        rows[..3].iter().all(|r| r.0.starts_with("R-BAD")),
        "{rows:?}"
    );
    // No normal agency with fewer than 30 responses is flagged.
    for r in rows
        .iter()
        .filter(|r| !r.0.starts_with("R-BAD") && r.3 < 30)
    {
        assert_eq!((r.1.as_str(), r.2.as_str()), ("none", "none"), "{r:?}");
    }
    let bad = report["agencies"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["code"] == "R-BAD-H1"))
        .ok_or("row")?;
    let h = &bad["harassment"];
    for field in [
        "count",
        "n",
        "rate",
        "ci_low",
        "ci_high",
        "baseline",
        "peers",
        "problem_probability",
        "p_value",
        "flag",
        "reason",
    ] {
        assert!(!h[field].is_null(), "harassment.{field}");
    }
    let rate = h["rate"].as_f64().ok_or("rate")?;
    assert!(
        (rate - h["count"].as_f64().unwrap_or(0.0) / h["n"].as_f64().unwrap_or(1.0)).abs() < 1e-12
    );
    assert!(
        (0.0..=1.0).contains(&rate)
            && h["ci_low"].as_f64() <= Some(rate)
            && h["ci_high"].as_f64() >= Some(rate)
    );
    assert!(h["problem_probability"].as_f64().is_some_and(|p| p > 0.95));
    let reason = h["reason"].as_str().ok_or("reason")?;
    assert!(
        reason.contains(" trên 150 người trả lời") && reason.contains("so với khoảng"),
        "{reason}"
    );
    assert!(
        bad["sipas"]["index"]
            .as_f64()
            .is_some_and(|v| (0.0..=1.0).contains(&v))
    );
    assert!(
        bad["comment_signals"].as_u64().is_some_and(|c| c > 0),
        "the lexicon matched 'bồi dưỡng'"
    );
    let empty = report["agencies"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["code"] == "R-EMPTY"))
        .ok_or("empty")?;
    assert_eq!(empty["responses"], 0);
    assert!(empty["harassment"]["rate"].is_null() && empty["sipas"]["index"].is_null());
    assert_eq!(empty["harassment"]["flag"], "none");
    Ok(())
}

#[test]
fn a_null_data_set_raises_no_alarm() -> TestResult {
    for seed in [1, 2, 3] {
        let db = TestDb::new()?;
        let dir = tempfile::tempdir()?;
        write_files(dir.path(), false, seed)?;
        let report: serde_json::Value =
            serde_json::from_str(&import_and_report(&db.url, dir.path())?)?;
        let alarms: Vec<_> = flags(&report)
            .into_iter()
            .filter(|r| r.1 == "alarm" || r.2 == "alarm")
            .collect();
        assert!(alarms.is_empty(), "seed {seed}: {alarms:?}");
    }
    Ok(())
}

#[test]
fn reports_are_byte_identical_across_runs_and_databases() -> TestResult {
    let dir = tempfile::tempdir()?;
    write_files(dir.path(), true, 11)?;
    let sqlite = TestDb::new_sqlite()?;
    let first = import_and_report(&sqlite.url, dir.path())?;
    let again = sipas(
        &sqlite.url,
        dir.path(),
        &[
            "report",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--province",
            "RP",
            "--format",
            "json",
        ],
    )?;
    assert_eq!(first.as_bytes(), again.stdout.as_slice());
    let other = TestDb::new()?;
    if other.is_postgres() {
        assert_eq!(
            first,
            import_and_report(&other.url, dir.path())?,
            "SQLite and PostgreSQL disagree"
        );
    }
    // The other groupings and formats work on the same data.
    for group in [
        "procedure",
        "field",
        "level",
        "month",
        "channel",
        "province",
    ] {
        let out = sipas(
            &sqlite.url,
            dir.path(),
            &[
                "report",
                "--from",
                "2026-01-01",
                "--to",
                "2026-12-31",
                "--group-by",
                group,
                "--format",
                "csv",
            ],
        )?;
        assert!(
            out.status.success(),
            "{group}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout)?;
        assert!(text.starts_with("key,label,responses"), "{text}");
        if group == "month" {
            assert_eq!(text.lines().count(), 12, "eleven months and a header");
        }
    }
    let table = sipas(
        &sqlite.url,
        dir.path(),
        &["report", "--from", "2026-01-01", "--to", "2026-12-31"],
    )?;
    let table = String::from_utf8(table.stdout)?;
    assert!(
        table.contains("BÁO ĐỘNG") && table.contains("chưa đủ dữ liệu"),
        "{table}"
    );
    let bad = sipas(&sqlite.url, dir.path(), &["report", "--province", "NOPE"])?;
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("NOPE"));
    let bad = sipas(
        &sqlite.url,
        dir.path(),
        &["report", "--from", "2026-02-01", "--to", "2026-01-01"],
    )?;
    assert!(!bad.status.success());
    Ok(())
}

#[derive(QueryableByName, Debug, PartialEq)]
pub(crate) struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) line: String,
}

pub(crate) fn dump_counts(conn: &mut sipas::db::DbConn) -> QueryResult<Vec<Row>> {
    let columns: Vec<String> = sipas::aggregates::MEASURES
        .iter()
        .map(|(c, _)| format!("CAST({c} AS TEXT)"))
        .collect();
    // The months (per procedure and channel, and per agency), the years per agency and the
    // dossier counts too: dossiers returned and their invitations answered, per day and month.
    diesel::sql_query(format!(
        "SELECT CAST(agency_id AS TEXT) || '|' || COALESCE(CAST(procedure_id AS TEXT), '') || '|' || channel || '|' || \
         CAST(day AS TEXT) || '|' || {m} AS line FROM daily_counts \
         UNION ALL SELECT 'month|' || CAST(agency_id AS TEXT) || '|' || CAST(procedure_id AS TEXT) || '|' || channel || '|' || \
         month || '|' || {m} FROM monthly_counts \
         UNION ALL SELECT 'agency month|' || CAST(agency_id AS TEXT) || '|' || month || '|' || {m} || \
         '|' || CAST(dossier_responses AS TEXT) FROM agency_monthly_counts \
         UNION ALL SELECT 'agency year|' || CAST(agency_id AS TEXT) || '|' || year || '|' || {m} || \
         '|' || CAST(dossier_responses AS TEXT) FROM agency_yearly_counts \
         UNION ALL SELECT 'dossiers|' || CAST(agency_id AS TEXT) || '|' || CAST(day AS TEXT) || '|' || \
         CAST(dossiers AS TEXT) || '|' || CAST(answered AS TEXT) FROM daily_dossiers \
         UNION ALL SELECT 'dossiers|' || CAST(agency_id AS TEXT) || '|' || month || '|' || \
         CAST(dossiers AS TEXT) || '|' || CAST(answered AS TEXT) FROM monthly_dossiers \
         ORDER BY line",
        m = columns.join(" || '|' || ")
    ))
    .load(conn)
}

#[tokio::test]
async fn daily_counts_equal_a_recount_from_raw_rows() -> TestResult {
    let app = spawn_app().await?;
    for i in 0..3 {
        let token = app.invite(&format!("AG-{i}"), i == 1).await?;
        let mut answers = crate::helpers::SHORT_FORM.to_vec();
        answers.extend([
            ("E4", "1"),
            ("E5", "2"),
            ("E6", "2"),
            ("C1", "phải đưa phong bì"),
        ]);
        app.post_form(&format!("/s/{token}"), &answers).await?;
    }
    let csv = "agency_code,submitted_at,procedure_code,late,HL0,E1,E7\nT-SO,2026-02-01,P-LLTP,1,2,4,3\nT-XA,2026-02-01,,0,5,1,1\n";
    app.import_responses(csv)?;
    let mut conn = app.conn()?;
    let kept = dump_counts(&mut conn)?;
    assert!(kept.len() >= 3, "{kept:?}");
    sipas::aggregates::recount(&mut conn)?;
    assert_eq!(kept, dump_counts(&mut conn)?);
    Ok(())
}
