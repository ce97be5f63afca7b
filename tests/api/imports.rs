//! CSV imports: catalog, dossiers and responses — good files land whole, bad files land nothing.

use diesel::prelude::*;
use sipas::catalog::import::{import_agencies, import_links, import_procedures};
use sipas::csvfile::ImportError;
use sipas::db::schema::{agencies, responses};

use crate::helpers::{TestResult, spawn_app};

fn lines(result: Result<impl std::fmt::Debug, ImportError>) -> Vec<u64> {
    match result {
        Err(ImportError::Lines(errors)) => errors.iter().map(|e| e.line).collect(),
        other => panic!("expected line errors, got {other:?}"),
    }
}

#[tokio::test]
async fn agencies_import_whole_or_not_at_all() -> TestResult {
    let app = spawn_app().await?;
    let mut conn = app.conn()?;
    let before = app.count("agencies")?;
    let good = "code,name,level,province_code,parent_code\n\
                N-XA2,UBND xã Mới,xa,TT,N-H2\n\
                N-H2,\"UBND huyện Mới, tỉnh TT\",huyen,TT,\n";
    assert_eq!(
        import_agencies(&mut conn, good.as_bytes())?,
        2,
        "a parent may come after its child"
    );
    let parent: Option<i64> = agencies::table
        .filter(agencies::code.eq("N-XA2"))
        .select(agencies::parent_id)
        .first(&mut *conn)?;
    assert!(parent.is_some());
    assert_eq!(app.count("agencies")?, before + 2);

    let bad = "code,name,level,province_code,parent_code\n\
               N-OK,UBND xã Tốt,xa,TT,\n\
               N-BAD,UBND xã Xấu,commune,TT,\n\
               ,Không mã,xa,TT,\n\
               N-ORPHAN,UBND xã Mồ côi,xa,TT,NOT-THERE\n\
               N-OK,Trùng mã,xa,TT,\n";
    assert_eq!(lines(import_agencies(&mut conn, bad.as_bytes())), [3, 4, 6]);
    let orphan =
        "code,name,level,province_code,parent_code\nN-ORPHAN,UBND xã Mồ côi,xa,TT,NOT-THERE\n";
    assert_eq!(lines(import_agencies(&mut conn, orphan.as_bytes())), [2]);
    let cycle = "code,name,level,province_code,parent_code\nC-A,A,xa,TT,C-B\nC-B,B,xa,TT,C-A\n";
    assert_eq!(lines(import_agencies(&mut conn, cycle.as_bytes())), [2, 3]);
    let other_province = "code,name,level,province_code,parent_code\nC-X,X,xa,NEWP,T-HUYEN\n";
    assert_eq!(
        lines(import_agencies(&mut conn, other_province.as_bytes())),
        [2]
    );
    assert_eq!(
        app.count("agencies")?,
        before + 2,
        "nothing from a bad file"
    );
    assert_eq!(app.count("provinces WHERE code = 'NEWP'")?, 0);
    let missing_column = "code,name,level\nX,Y,xa\n";
    assert_eq!(
        lines(import_agencies(&mut conn, missing_column.as_bytes())),
        [1]
    );
    Ok(())
}

#[tokio::test]
async fn procedures_and_links_import() -> TestResult {
    let app = spawn_app().await?;
    let mut conn = app.conn()?;
    let good = "code,name,field,level\nQ-1,Cấp giấy phép xây dựng,Xây dựng,huyen\nP-KS,Đăng ký khai sinh (sửa),Hộ tịch,xa\n";
    assert_eq!(import_procedures(&mut conn, good.as_bytes())?, 2);
    assert_eq!(
        app.count("procedures")?,
        4,
        "an existing code is updated, not duplicated"
    );
    let bad = "code,name,field,level\nQ-2,Tên,,xa\nQ-3,Tên,Lĩnh vực,province\n";
    assert_eq!(lines(import_procedures(&mut conn, bad.as_bytes())), [2, 3]);
    assert_eq!(app.count("procedures")?, 4);
    let links = "agency_code,procedure_code\nT-HUYEN,Q-1\nT-HUYEN,NOPE\n";
    assert_eq!(lines(import_links(&mut conn, links.as_bytes())), [3]);
    assert_eq!(
        import_links(
            &mut conn,
            "agency_code,procedure_code\nT-HUYEN,Q-1\n".as_bytes()
        )?,
        1
    );
    Ok(())
}

const RESPONSES: &str = "agency_code,submitted_at,procedure_code,channel,late,questionnaire,HL0,TC0,PA0,E1,E6,E7,TC1,C1\n\
T-SO,2026-02-01,P-LLTP,counter,0,sipas-2640-post,5,4,NA,1,1,1,3,Tốt\n\
T-XA,2026-02-02T09:30:00+07:00,,,1,,2,,,3,2,3,,\n\
T-HUYEN,2026-01-31T20:00:00Z,P-DD,online,,,4,4,4,2,1,1,,\n";

#[tokio::test]
async fn responses_import_with_positions_na_and_extra_items() -> TestResult {
    let app = spawn_app().await?;
    assert_eq!(app.import_responses(RESPONSES)?, 3);
    let mut conn = app.conn()?;
    type Row = (
        String,
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<bool>,
        chrono::NaiveDate,
    );
    let rows: Vec<Row> = responses::table
        .order(responses::id)
        .select((
            responses::channel,
            responses::hl0,
            responses::pa0,
            responses::e7,
            responses::late,
            responses::submitted_on,
        ))
        .load(&mut *conn)?;
    assert_eq!(rows[0].0, "counter");
    assert_eq!(
        (rows[0].1, rows[0].2),
        (Some(5), Some(0)),
        "NA is stored as 0"
    );
    assert_eq!(rows[1].0, "paper", "the default channel");
    assert_eq!((rows[1].3, rows[1].4), (Some(3), Some(true)));
    assert_eq!(
        rows[2].5.to_string(),
        "2026-02-01",
        "UTC evening is the next Vietnam day"
    );
    assert_eq!(
        app.count("response_answers WHERE item = 'TC1' AND value = 3")?,
        1
    );
    Ok(())
}

#[tokio::test]
async fn a_response_file_with_errors_imports_nothing() -> TestResult {
    let app = spawn_app().await?;
    let mut bad = String::from(RESPONSES);
    bad.push_str("NOPE,2026-02-01,,,,,5,,,,,,,\n");
    bad.push_str("T-SO,01/02/2026,,,,,5,,,,,,,\n");
    bad.push_str("T-SO,2026-02-01,,,2,,6,NA,,5,,,,\n");
    bad.push_str("T-SO,2026-02-01,,fax,,other-q,,,,,,,,\n");
    assert_eq!(
        lines(app.import_responses(&bad)),
        [5, 6, 7, 7, 7, 7, 8, 8, 8],
        "line 8 also answers no question"
    );
    assert_eq!(app.count("responses")?, 0);
    let unknown_column = "agency_code,submitted_at,HL9\nT-SO,2026-02-01,5\n";
    assert_eq!(lines(app.import_responses(unknown_column)), [1]);
    Ok(())
}

fn messages(result: Result<u64, ImportError>) -> Vec<(u64, String)> {
    match result {
        Err(ImportError::Lines(errors)) => {
            errors.into_iter().map(|e| (e.line, e.message)).collect()
        }
        other => panic!("expected line errors, got {other:?}"),
    }
}

#[tokio::test]
async fn implausible_responses_are_refused_by_line() -> TestResult {
    let app = spawn_app().await?;
    let header = "agency_code,submitted_at,HL0,E6,C1\n";
    let good = "T-SO,2026-02-01,5,1,\n";
    let cases: [(&str, String); 7] = [
        ("in the future", "T-SO,2031-01-01,5,1,\n".into()),
        ("before 2015-01-01", "T-SO,1900-01-01,5,1,\n".into()),
        (
            "in the future",
            format!("T-SO,{},5,1,\n", crate::helpers::tomorrow()),
        ),
        (
            "before 2015-01-01",
            "T-SO,2014-12-31T23:00:00+07:00,5,1,\n".into(),
        ),
        ("answers no question", "T-SO,2026-02-01,,,\n".into()),
        ("answers no question", "T-SO,2026-02-01,,,   \n".into()),
        (
            "5000 characters long; at most 1000",
            format!("T-SO,2026-02-01,5,1,{}\n", "ý".repeat(5000)),
        ),
    ];
    for (expected, line) in &cases {
        let file = format!("{header}{good}{good}{line}{good}");
        let found = messages(app.import_responses(&file));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 4, "the line of the bad row");
        assert!(found[0].1.contains(expected), "{expected}: {found:?}");
    }
    assert_eq!(app.count("responses")?, 0, "nothing from a bad file");
    assert_eq!(app.count("imports")?, 0);
    // A comment alone is an answer; the limits themselves are accepted.
    let fine = format!(
        "{header}T-SO,2026-02-01,,,Chỉ có ý kiến\nT-SO,2015-01-01,3,,\nT-SO,{},,2,{}\n",
        sipas::clock::today(),
        "y".repeat(1000)
    );
    assert_eq!(app.import_responses(&fine)?, 3);
    // The earliest day is a setting.
    let q = sipas::questionnaire::Questionnaire::built_in()?;
    let later = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).ok_or("date")?;
    let old = format!("{header}T-SO,2025-12-31,4,1,\n");
    let refused = sipas::responses::import::import_responses(
        &app.database,
        &q,
        later,
        old.as_bytes(),
        |_| {},
    );
    assert!(messages(refused)[0].1.contains("before 2026-01-01"));
    Ok(())
}

#[tokio::test]
async fn the_command_line_imports_and_reports_bad_lines() -> TestResult {
    let app = spawn_app().await?;
    let dir = tempfile::tempdir()?;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
            .args(args)
            .env("SIPAS_DATABASE_URL", &app.db.url)
            .env(
                "SIPAS_SECURITY_SECRET_KEY",
                "test-secret-test-secret-test-secret-00",
            )
            .env("SIPAS_SERVER_PUBLIC_URL", "https://khaosat.test")
            .current_dir(dir.path())
            .output()
    };
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "code,name,level,province_code,parent_code\nZ-1,Tên,tinh,TT,\nZ-2,Tên,quan,TT,\n",
    )?;
    let out = run(&["import", "agencies", bad.to_str().ok_or("path")?])?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("nothing was imported"),
        "{stderr}"
    );
    // A province admin reads Vietnamese first: the count, the line and the level's problem.
    assert!(
        stderr.contains("lỗi (error): có 1 lỗi, không dòng nào được nhập")
            && stderr.contains("dòng 3 (line 3): cấp \"quan\" không hợp lệ"),
        "{stderr}"
    );

    let dossiers = dir.path().join("dossiers.csv");
    std::fs::write(
        &dossiers,
        "dossier_code,agency_code,procedure_code,channel,received_at,due_at,returned_at,citizen_email\n\
         CSV-1,T-SO,P-LLTP,counter,2026-01-05,2026-01-10,2026-01-12,\n\
         CSV-2,T-XA,P-KS,online,2026-01-05,,2026-01-06,a@b.vn\n",
    )?;
    let out = run(&["import", "dossiers", dossiers.to_str().ok_or("path")?])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stdout.contains("CSV-1,T-SO,created,https://khaosat.test/s/"));
    let again = run(&["import", "dossiers", dossiers.to_str().ok_or("path")?])?;
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(again.contains("CSV-1,T-SO,existing"));
    let first_link = stdout
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').nth(3))
        .ok_or("no link")?;
    assert!(again.contains(first_link), "the same link again");

    let key = run(&["apikey", "create", "--agency", "T-SO"])?;
    assert!(key.status.success());
    assert!(
        String::from_utf8_lossy(&key.stdout)
            .trim()
            .starts_with("sipas_")
    );
    let unknown = run(&["apikey", "create", "--agency", "NOPE"])?;
    assert!(!unknown.status.success());
    Ok(())
}

#[tokio::test]
async fn agencies_carry_an_optional_peer_group() -> TestResult {
    let app = spawn_app().await?;
    let mut conn = app.conn()?;
    let file = "code,name,level,province_code,parent_code,peer_group\n\
                P-DD,Sở Tài nguyên,tinh,TT,,Đất đai\n\
                P-TP,Sở Tư pháp,tinh,TT,,\n";
    assert_eq!(import_agencies(&mut conn, file.as_bytes())?, 2);
    let group = |conn: &mut sipas::db::PooledConn, code: &str| {
        agencies::table
            .filter(agencies::code.eq(code))
            .select(agencies::peer_group)
            .first::<Option<String>>(&mut **conn)
    };
    assert_eq!(group(&mut conn, "P-DD")?.as_deref(), Some("Đất đai"));
    assert_eq!(group(&mut conn, "P-TP")?, None);
    // Without the column the group is kept; a name too long is refused with its line.
    let without = "code,name,level,province_code,parent_code\nP-DD,Sở Tài nguyên,tinh,TT,\n";
    import_agencies(&mut conn, without.as_bytes())?;
    assert_eq!(group(&mut conn, "P-DD")?.as_deref(), Some("Đất đai"));
    let long = format!(
        "code,name,level,province_code,parent_code,peer_group\nP-DD,Sở,tinh,TT,,{}\n",
        "x".repeat(101)
    );
    assert_eq!(lines(import_agencies(&mut conn, long.as_bytes())), [2]);
    assert_eq!(group(&mut conn, "P-DD")?.as_deref(), Some("Đất đai"));
    Ok(())
}

/// Sums of `(agency code, key)` → dossiers in a count table.
fn dossier_counts(
    app: &crate::helpers::TestApp,
    table: &str,
    column: &str,
) -> Result<std::collections::BTreeMap<(String, String), i64>, Box<dyn std::error::Error>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        code: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        key: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        dossiers: i64,
    }
    let mut conn = app.conn()?;
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT a.code AS code, CAST(t.{column} AS TEXT) AS key, t.dossiers AS dossiers \
         FROM {table} t JOIN agencies a ON a.id = t.agency_id"
    ))
    .load(&mut *conn as &mut sipas::db::DbConn)?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.code, r.key), r.dossiers))
        .collect())
}

#[tokio::test]
async fn a_dossier_file_of_many_slices_lands_whole_or_not_at_all() -> TestResult {
    use sipas::invitations::import::import_dossiers;
    use sipas::invitations::issue::{Issued, Issuer};
    use std::collections::{BTreeMap, HashMap};

    let app = spawn_app().await?;
    let secret = sipas::startup::load_secret(&app.settings)?;
    let issuer = Issuer {
        secret: &secret,
        ttl_days: 30,
        now: crate::helpers::now(),
        reach: None,
    };
    // 12,001 rows (three slices of the import): two agencies, returned over 40 days from
    // 2026-01-01, every 997th row repeating the code of the row 5,000 before it.
    let header = "dossier_code,agency_code,procedure_code,channel,received_at,due_at,returned_at\n";
    let mut good = String::from(header);
    let mut expected_daily: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut expected_monthly: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut codes = Vec::new();
    for i in 0..12_001usize {
        let (code, agency, procedure) = if i % 997 == 0 && i >= 5_000 {
            let (code, agency, procedure): &(String, &str, &str) = &codes[i - 5_000];
            (code.clone(), *agency, *procedure)
        } else if i % 3 == 0 {
            (format!("HS-{i:05}"), "T-XA", "P-KS")
        } else {
            (format!("HS-{i:05}"), "T-SO", "P-LLTP")
        };
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).ok_or("date")?
            + chrono::Duration::days((i % 40) as i64);
        good.push_str(&format!(
            "{code},{agency},{procedure},counter,{},,{day}\n",
            day - chrono::Duration::days(3)
        ));
        if !(i % 997 == 0 && i >= 5_000) {
            *expected_daily
                .entry((agency.to_string(), day.to_string()))
                .or_default() += 1;
            *expected_monthly
                .entry((agency.to_string(), day.format("%Y-%m").to_string()))
                .or_default() += 1;
        }
        codes.push((code, agency, procedure));
    }
    let repeats = (5_000..12_001).filter(|i| i % 997 == 0).count();

    // A bad last line, after two slices were issued: nothing is kept.
    let bad = format!("{good}HS-LAST,NOPE,P-KS,counter,2026-01-01,,2026-01-02\n");
    let mut conn = app.conn()?;
    assert_eq!(
        lines(import_dossiers(&mut conn, &issuer, bad.as_bytes(), |_| Ok(
            ()
        ))),
        vec![12_003]
    );
    drop(conn);
    assert_eq!(app.count("invitations")?, 0);
    assert_eq!(app.count("daily_dossiers")?, 0);
    assert_eq!(app.count("agency_procedures")?, 0);

    let mut conn = app.conn()?;
    let mut issued: Vec<Issued> = Vec::new();
    let n = import_dossiers(&mut conn, &issuer, good.as_bytes(), |i| {
        issued.push(i.clone());
        Ok(())
    })?;
    drop(conn);
    assert_eq!(n, 12_001);
    assert_eq!(issued.len(), 12_001);
    assert_eq!(issued.iter().filter(|i| !i.created).count(), repeats);
    assert_eq!(app.count("invitations")?, (12_001 - repeats) as i64);
    // In file order, a repeat carries the link of its first report.
    let mut first: HashMap<String, String> = HashMap::new();
    for (i, outcome) in issued.iter().enumerate() {
        assert_eq!(outcome.dossier_code, codes[i].0);
        let token = outcome.token.as_str().to_string();
        match first.get(&outcome.dossier_code) {
            Some(t) => assert_eq!(*t, token, "row {i} repeats {}", outcome.dossier_code),
            None => {
                assert!(outcome.created, "row {i}");
                first.insert(outcome.dossier_code.clone(), token);
            }
        }
    }
    assert_eq!(
        (
            dossier_counts(&app, "daily_dossiers", "day")?,
            dossier_counts(&app, "monthly_dossiers", "month")?
        ),
        (expected_daily.clone(), expected_monthly.clone())
    );
    assert_eq!(app.count("agency_procedures")?, 2);

    // Again, with 10 new dossiers: the old ones keep their links, only the new ones count.
    let mut again = String::from(header);
    for (code, agency, procedure) in codes.iter().take(30) {
        again.push_str(&format!(
            "{code},{agency},{procedure},counter,2026-01-01,,2026-01-05\n"
        ));
    }
    for i in 0..10 {
        again.push_str(&format!(
            "NEW-{i},T-SO,P-LLTP,counter,2026-03-01,,2026-03-02\n"
        ));
    }
    let mut conn = app.conn()?;
    let mut reissued: Vec<Issued> = Vec::new();
    import_dossiers(&mut conn, &issuer, again.as_bytes(), |i| {
        reissued.push(i.clone());
        Ok(())
    })?;
    drop(conn);
    assert_eq!(reissued.iter().filter(|i| i.created).count(), 10);
    for outcome in &reissued[..30] {
        assert_eq!(
            Some(&outcome.token.as_str().to_string()),
            first.get(&outcome.dossier_code)
        );
    }
    expected_daily.insert(("T-SO".into(), "2026-03-02".into()), 10);
    expected_monthly.insert(("T-SO".into(), "2026-03".into()), 10);
    assert_eq!(
        (
            dossier_counts(&app, "daily_dossiers", "day")?,
            dossier_counts(&app, "monthly_dossiers", "month")?
        ),
        (expected_daily.clone(), expected_monthly.clone())
    );
    Ok(())
}
