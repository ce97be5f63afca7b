//! The administrative map across a reorganisation: `import successions` (all or nothing),
//! reports "as today's map" and "as it was" against hand-computed sums, a merged commune's trend
//! continuing across the date, old responses keeping their agency, and the 2026 demo.

use chrono::NaiveDate;
use diesel::prelude::*;
use sipas::catalog::import::import_agencies;
use sipas::catalog::successions::import_successions;
use sipas::csvfile::ImportError;
use sipas::db::schema::{agencies, agency_successions, provinces, responses};
use sipas::report::counts::recent_events;
use sipas::report::map::{MapMode, UnitMap};
use sipas::report::{GroupBy, Query, Report, build};

use crate::helpers::{TestApp, TestResult, spawn_app};
use crate::signed;

const PASSWORD: &str = "a-long-test-password";

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap_or_default()
}

fn lines_and_messages(result: Result<usize, ImportError>) -> Vec<(u64, String)> {
    match result {
        Err(ImportError::Lines(errors)) => {
            errors.iter().map(|e| (e.line, e.message.clone())).collect()
        }
        other => panic!("expected line errors, got {other:?}"),
    }
}

/// Province MP before and after 1 July 2025: communes M-A and M-B merge into M-C; M-D is split
/// 70/30 into M-C and M-E; the district M-H's desk goes to the service-centre branch M-G; M-F
/// does not change.
const CATALOG: &str = "code,name,level,province_code,parent_code,valid_from,valid_to
M-H,UBND huyện Hòa Bình,huyen,MP,,,
M-A,UBND xã An Lạc,xa,MP,M-H,,
M-B,UBND xã Bình Minh,xa,MP,M-H,,
M-D,UBND xã Đông Hải,xa,MP,M-H,,
M-F,UBND xã Phú Yên,xa,MP,,,
M-C,UBND xã An Bình,xa,MP,,2025-07-01,
M-E,UBND xã Đông Thành,xa,MP,,2025-07-01,
M-G,Chi nhánh Trung tâm Phục vụ hành chính công khu vực Hòa Bình,tinh,MP,,2025-07-01,
";

const SUCCESSIONS: &str = "old_code,new_code,effective_date,share
M-A,M-C,2025-07-01,
M-B,M-C,2025-07-01,
M-D,M-C,2025-07-01,0.7
M-D,M-E,2025-07-01,0.3
M-H,M-G,2025-07-01,
";

/// (agency, day, HL0 answers): 3 + 2 + 2 before the merger into M-C, 4 after it.
const ANSWERS: [(&str, &str, &[u8]); 8] = [
    ("M-A", "2025-03-10", &[5, 4, 2]),
    ("M-B", "2025-05-20", &[1, 5]),
    ("M-D", "2025-06-15", &[4, 4]),
    ("M-C", "2025-09-01", &[5, 5, 3, 4]),
    ("M-E", "2025-10-01", &[2]),
    ("M-F", "2025-04-01", &[5]),
    ("M-H", "2025-02-01", &[3, 4]),
    ("M-G", "2025-08-01", &[5]),
];

async fn reorganised() -> Result<TestApp, Box<dyn std::error::Error>> {
    let app = spawn_app().await?;
    {
        let mut conn = app.conn()?;
        import_agencies(&mut conn, CATALOG.as_bytes())?;
        assert_eq!(import_successions(&mut conn, SUCCESSIONS.as_bytes())?, 5);
    }
    // Harassment reported (E6 = 2, "Có") exactly by those who answered HL0 1 or 2.
    let mut csv = String::from("agency_code,submitted_at,channel,HL0,E6\n");
    for (agency, day, answers) in ANSWERS {
        for a in answers {
            let e6 = if *a <= 2 { 2 } else { 1 };
            csv.push_str(&format!("{agency},{day},paper,{a},{e6}\n"));
        }
    }
    assert_eq!(app.import_responses(&csv)?, 16);
    Ok(app)
}

fn report(
    app: &TestApp,
    map: MapMode,
    group_by: GroupBy,
    agencies: Option<Vec<i64>>,
) -> Result<Report, Box<dyn std::error::Error>> {
    let mut conn = app.conn()?;
    Ok(build(
        &mut conn,
        &Query {
            from: d("2025-01-01"),
            to: d("2025-12-31"),
            province: Some("MP".into()),
            level: None,
            agencies,
            group_by,
            map,
        },
    )?)
}

/// (code, responses, top-2 HL0 answers) of each agency row, by code.
fn rows(r: &Report) -> Vec<(String, u64, u64)> {
    let mut rows: Vec<(String, u64, u64)> = r
        .agencies
        .iter()
        .flatten()
        .map(|a| (a.code.clone(), a.responses, a.sipas.count))
        .collect();
    rows.sort();
    rows
}

fn id_of(app: &TestApp, code: &str) -> Result<i64, Box<dyn std::error::Error>> {
    Ok(agencies::table
        .filter(agencies::code.eq(code))
        .select(agencies::id)
        .first(&mut *app.conn()?)?)
}

#[tokio::test]
async fn a_report_across_a_merger_in_both_maps_matches_hand_sums() -> TestResult {
    let app = reorganised().await?;
    // Today's map: M-C = M-A 3 + M-B 2 + M-D 2 (its principal successor, 70%) + its own 4 = 11
    // responses, top-2 answers 2 + 1 + 2 + 3 = 8; M-G = M-H 2 + 1 = 3 (top-2: 1 + 1 = 2).
    let today = report(&app, MapMode::Today, GroupBy::Agency, None)?;
    assert_eq!(
        rows(&today),
        [
            ("M-C".into(), 11, 8),
            ("M-E".into(), 1, 0),
            ("M-F".into(), 1, 1),
            ("M-G".into(), 3, 2),
        ]
    );
    assert_eq!(today.totals.responses, 16);
    let m_c = today
        .agencies
        .iter()
        .flatten()
        .find(|a| a.code == "M-C")
        .ok_or("no M-C")?;
    let note = m_c.map_note.as_ref().ok_or("no note on M-C")?;
    for name in [
        "UBND xã An Lạc",
        "UBND xã Bình Minh",
        "UBND xã Đông Hải (70%)",
        "01/07/2025",
    ] {
        assert!(note.vi.contains(name), "{}", note.vi);
    }
    // As it was: every agency that existed in 2025, with its own answers.
    let was = report(&app, MapMode::AsItWas, GroupBy::Agency, None)?;
    assert_eq!(
        rows(&was),
        [
            ("M-A".into(), 3, 2),
            ("M-B".into(), 2, 1),
            ("M-C".into(), 4, 3),
            ("M-D".into(), 2, 2),
            ("M-E".into(), 1, 0),
            ("M-F".into(), 1, 1),
            ("M-G".into(), 1, 1),
            ("M-H".into(), 2, 1),
        ]
    );
    assert_eq!(was.totals.responses, 16);
    let note_of = |code: &str| {
        was.agencies
            .iter()
            .flatten()
            .find(|a| a.code == code)
            .and_then(|a| a.map_note.clone())
            .map(|n| n.vi)
            .unwrap_or_default()
    };
    assert_eq!(
        note_of("M-A"),
        "Đã sáp nhập vào UBND xã An Bình từ ngày 01/07/2025"
    );
    assert!(
        note_of("M-D").starts_with("Đã chia tách"),
        "{}",
        note_of("M-D")
    );
    assert_eq!(note_of("M-F"), "");
    // Levels follow the map: the district's answers count as provincial (the branch) today.
    let levels = |r: &Report| -> Vec<(String, u64)> {
        r.groups
            .iter()
            .flatten()
            .map(|g| (g.key.clone(), g.indicators.responses))
            .collect()
    };
    assert_eq!(
        levels(&report(&app, MapMode::Today, GroupBy::Level, None)?),
        [("tinh".into(), 3), ("xa".into(), 13)]
    );
    let was_levels = report(&app, MapMode::AsItWas, GroupBy::Level, None)?;
    assert_eq!(
        levels(&was_levels),
        [("huyen".into(), 2), ("tinh".into(), 1), ("xa".into(), 13)]
    );
    let huyen = was_levels
        .groups
        .iter()
        .flatten()
        .find(|g| g.key == "huyen")
        .ok_or("no huyen")?;
    assert_eq!(huyen.label, "cấp huyện (cũ)");
    Ok(())
}

#[tokio::test]
async fn a_merged_communes_trend_continues_and_old_answers_keep_their_agency() -> TestResult {
    let app = reorganised().await?;
    let m_c = id_of(&app, "M-C")?;
    let months = |r: &Report| -> Vec<(String, u64)> {
        r.groups
            .iter()
            .flatten()
            .map(|g| (g.key.clone(), g.indicators.responses))
            .collect()
    };
    let today = report(&app, MapMode::Today, GroupBy::Month, Some(vec![m_c]))?;
    assert_eq!(
        months(&today),
        [
            ("2025-03".into(), 3),
            ("2025-05".into(), 2),
            ("2025-06".into(), 2),
            ("2025-09".into(), 4)
        ]
    );
    let was = report(&app, MapMode::AsItWas, GroupBy::Month, Some(vec![m_c]))?;
    assert_eq!(months(&was), [("2025-09".into(), 4)]);
    // The early warning's window (here from April) continues from the predecessors' months:
    // (harassment reports, answers) for M-B in May (HL0 1 and 5: 1 of 2), M-D in June (0 of 2),
    // then M-C's own September (0 of 4).
    let window = |map: MapMode| -> Result<Vec<(i64, i64)>, Box<dyn std::error::Error>> {
        let mut conn = app.conn()?;
        let query = Query {
            from: d("2025-01-01"),
            to: d("2025-09-30"),
            province: None,
            level: None,
            agencies: Some(vec![m_c]),
            group_by: GroupBy::Agency,
            map,
        };
        let units = UnitMap::load(&mut conn, map, sipas::clock::today())?;
        let months = recent_events(&mut conn, &query, None, d("2025-04-01"), &units)?;
        Ok(months
            .iter()
            .map(|m| {
                assert_eq!(m.agency_id, m_c);
                (m.harassment_k, m.harassment_n)
            })
            .collect())
    };
    assert_eq!(window(MapMode::Today)?, [(1, 2), (0, 2), (0, 4)]);
    assert_eq!(window(MapMode::AsItWas)?, [(0, 4)]);
    // Nothing was rewritten: the answers stay with the agency that existed.
    let mut conn = app.conn()?;
    for (code, n) in [("M-A", 3), ("M-B", 2), ("M-D", 2), ("M-C", 4), ("M-H", 2)] {
        let id = id_of(&app, code)?;
        let stored: i64 = responses::table
            .filter(responses::agency_id.eq(id))
            .count()
            .get_result(&mut *conn)?;
        assert_eq!(stored, n, "{code}");
    }
    // The succeeded agencies' life spans were closed the day before.
    let ended: Vec<(String, Option<NaiveDate>)> = agencies::table
        .filter(agencies::valid_to.is_not_null())
        .select((agencies::code, agencies::valid_to))
        .order(agencies::code)
        .load(&mut *conn)?;
    let last = Some(d("2025-06-30"));
    assert_eq!(
        ended,
        [
            ("M-A".into(), last),
            ("M-B".into(), last),
            ("M-D".into(), last),
            ("M-H".into(), last)
        ]
    );
    // The dashboard's agency list in both maps.
    sipas::accounts::users::create(
        &mut conn,
        "admin@mp.vn",
        "admin",
        None,
        PASSWORD,
        crate::helpers::now(),
    )?;
    drop(conn);
    let signed_in = signed::sign_in(&app, "admin@mp.vn", PASSWORD, "203.0.113.9").await?;
    let session = signed::session_of(&signed_in).ok_or("no session")?;
    let period = "from=2025-01-01&to=2025-12-31&province=MP";
    let page = signed::get(
        &app,
        &format!("/admin/agencies?{period}&map=as-it-was"),
        &session,
    )
    .await?
    .text()
    .await?;
    assert!(
        page.contains("Đã sáp nhập vào UBND xã An Bình"),
        "as it was"
    );
    let page = signed::get(&app, &format!("/admin/agencies?{period}"), &session)
        .await?
        .text()
        .await?;
    assert!(page.contains("gồm cả số liệu của"), "today's map");
    assert!(!page.contains("/admin/agencies/M-A?"), "M-A is within M-C");
    let bad = signed::get(
        &app,
        &format!("/admin/agencies?{period}&map=tomorrow"),
        &session,
    )
    .await?;
    assert_eq!(bad.status().as_u16(), 400);
    // Successions pasted on the catalog page: a bad line is named and nothing changes.
    let csrf = signed::csrf_of(&app, "/admin/catalog", &session).await?;
    let paste = |csv: &'static str| {
        let csrf = csrf.clone();
        let (app, session) = (&app, &session);
        async move {
            let fields = [
                ("csrf", csrf.as_str()),
                ("what", "successions"),
                ("csv", csv),
            ];
            let response = signed::post(app, "/admin/catalog/import", session, &fields).await?;
            Ok::<_, reqwest::Error>((response.status().as_u16(), response.text().await?))
        }
    };
    let (status, page) = paste("old_code,new_code,effective_date\nM-F,NOPE,2026-01-01\n").await?;
    assert_eq!(status, 422);
    assert!(
        page.contains("dòng 2: không có mã NOPE (unknown agency code NOPE)"),
        "{page}"
    );
    assert_eq!(app.count("agency_successions")?, 5);
    let (status, _) = paste("old_code,new_code,effective_date\nM-F,M-E,2026-01-01\n").await?;
    assert_eq!(status, 200);
    assert_eq!(app.count("agency_successions")?, 6);
    assert_eq!(
        app.count("agencies WHERE code = 'M-F' AND valid_to IS NOT NULL")?,
        1
    );
    Ok(())
}

#[tokio::test]
async fn bad_succession_files_import_nothing() -> TestResult {
    let app = spawn_app().await?;
    let mut conn = app.conn()?;
    import_agencies(
        &mut conn,
        "code,name,level,province_code,parent_code,valid_from,valid_to
X-1,UBND xã Một,xa,XP,,,
X-2,UBND xã Hai,xa,XP,,,
X-3,UBND xã Ba,xa,XP,,,
X-4,UBND xã Bốn,xa,XP,,,2025-06-30
X-5,UBND xã Năm,xa,XP,,2025-07-01,
"
        .as_bytes(),
    )?;
    let count = |conn: &mut sipas::db::PooledConn| -> Result<i64, diesel::result::Error> {
        agency_successions::table.count().get_result(&mut **conn)
    };
    let header = "old_code,new_code,effective_date,share\n";
    // A cycle.
    let cycle = format!("{header}X-1,X-2,2025-07-01,\nX-2,X-1,2025-08-01,\n");
    let errors = lines_and_messages(import_successions(&mut conn, cycle.as_bytes()));
    assert!(
        errors
            .iter()
            .any(|(_, m)| m.contains("cycle): X-1 → X-2 → X-1")),
        "{errors:?}"
    );
    // Unknown codes, on their lines.
    let unknown =
        format!("{header}X-1,X-5,2025-07-01,\nX-2,NOPE,2025-07-01,\nGONE,X-5,2025-07-01,\n");
    let errors = lines_and_messages(import_successions(&mut conn, unknown.as_bytes()));
    assert_eq!(
        errors,
        [
            (3, "không có mã NOPE (unknown agency code NOPE)".to_owned()),
            (4, "không có mã GONE (unknown agency code GONE)".to_owned())
        ]
    );
    // Bad dates: not a date; out of order along a chain; not the day after the old agency's
    // last day; before the successor begins.
    let dates = format!(
        "{header}X-1,X-2,2025-02-30,\nX-1,X-2,2025-07-01,\nX-2,X-3,2025-03-01,\nX-4,X-5,2025-08-01,\nX-3,X-5,2025-01-01,\n"
    );
    let errors = lines_and_messages(import_successions(&mut conn, dates.as_bytes()));
    assert_eq!(errors.len(), 1, "the unreadable date first: {errors:?}");
    assert_eq!(errors[0].0, 2);
    let dates = format!(
        "{header}X-1,X-2,2025-07-01,\nX-2,X-3,2025-03-01,\nX-4,X-5,2025-08-01,\nX-3,X-5,2025-06-01,\n"
    );
    let errors = lines_and_messages(import_successions(&mut conn, dates.as_bytes()));
    let lines: Vec<u64> = errors.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [2, 4, 5], "{errors:?}");
    assert!(errors[0].1.contains("dates out of order"), "{errors:?}");
    assert!(errors[1].1.contains("X-4 ends on 2025-06-30"), "{errors:?}");
    assert!(
        errors[2].1.contains("only begins on 2025-07-01"),
        "{errors:?}"
    );
    // Shares of a split above 1, or given for one successor only.
    let shares = format!(
        "{header}X-1,X-2,2025-07-01,0.7\nX-1,X-3,2025-07-01,0.5\nX-4,X-5,2025-07-01,0.5\nX-4,X-2,2025-07-01,\n"
    );
    let errors = lines_and_messages(import_successions(&mut conn, shares.as_bytes()));
    let lines: Vec<u64> = errors.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [2, 4], "{errors:?}");
    // Nothing was written, no life span closed.
    assert_eq!(count(&mut conn)?, 0);
    let closed: i64 = agencies::table
        .filter(agencies::valid_to.is_not_null())
        .count()
        .get_result(&mut *conn)?;
    assert_eq!(closed, 1, "only X-4's own last day");
    // A good file, then the same file again: the same rows. Provinces have successions too.
    let good = "old_code,new_code,effective_date,share,kind\nX-4,X-5,2025-07-01,,\nX-1,X-2,2025-07-01,0.6,agency\nX-1,X-3,2025-07-01,0.4,agency\n";
    assert_eq!(import_successions(&mut conn, good.as_bytes())?, 3);
    assert_eq!(import_successions(&mut conn, good.as_bytes())?, 3);
    assert_eq!(count(&mut conn)?, 3);
    sipas::catalog::queries::ensure_province(&mut conn, "XQ")?;
    let merged = "old_code,new_code,effective_date,kind\nXQ,XP,2025-07-01,province\n";
    assert_eq!(import_successions(&mut conn, merged.as_bytes())?, 1);
    let ended: Option<NaiveDate> = provinces::table
        .filter(provinces::code.eq("XQ"))
        .select(provinces::valid_to)
        .first(&mut *conn)?;
    assert_eq!(ended, Some(d("2025-06-30")));
    Ok(())
}

#[tokio::test]
async fn the_demo_is_thai_nguyen_in_2026_with_its_history_on_todays_map() -> TestResult {
    let db = crate::helpers::TestDb::new()?;
    let keys = tempfile::tempdir()?;
    let settings = crate::helpers::test_settings(&db, keys.path())?;
    let database = sipas::db::Database::open(&settings.database)?;
    let secret = sipas::startup::load_secret(&settings)?;
    let questionnaire = sipas::questionnaire::Questionnaire::built_in()?;
    let installation = sipas::demo::Installation {
        db: &database,
        settings: &settings,
        secret: &secret,
        questionnaire: &questionnaire,
    };
    assert!(sipas::demo::seed_if_empty(&installation)?);
    let mut conn = database.conn()?;
    let all = sipas::catalog::queries::all_agencies(&mut conn)?;
    let today = sipas::clock::today();
    let current: Vec<_> = all
        .iter()
        .filter(|a| {
            a.valid_from.is_none_or(|f| f <= today) && a.valid_to.is_none_or(|t| t >= today)
        })
        .collect();
    // Today's map: no district level, 92 communes and wards, the departments and the centre.
    assert!(
        current.iter().all(|a| a.level != "huyen"),
        "no district today"
    );
    assert_eq!(current.iter().filter(|a| a.level == "xa").count(), 92);
    assert!(current.iter().any(|a| a.code == "TN-TTHCC"));
    assert!(current.iter().any(|a| a.code == "TN-SNNMT"));
    // The old map: 9 + 8 districts, 172 + 108 communes, all ended on 30 June 2025.
    let old = |level: &str| {
        all.iter()
            .filter(|a| a.level == level && a.valid_to == Some(d("2025-06-30")))
            .count()
    };
    assert_eq!(old("huyen"), 17);
    assert_eq!(old("xa"), 280);
    // The year before the reform on today's map: every row is a unit of today's map, and the
    // old year's answers are all there, rolled up.
    let mut year_before = |map: MapMode, group_by: GroupBy| {
        build(
            &mut conn,
            &Query {
                from: d("2024-07-01"),
                to: d("2025-06-30"),
                province: None,
                level: None,
                agencies: None,
                group_by,
                map,
            },
        )
    };
    let rolled = year_before(MapMode::Today, GroupBy::Agency)?;
    let rows = rolled.agencies.unwrap_or_default();
    assert!(rows.iter().all(|r| r.level != "huyen"));
    // Every new commune took over from old ones, so each has a row holding their year.
    assert_eq!(rows.iter().filter(|r| r.level == "xa").count(), 92);
    assert!(
        rows.iter()
            .filter(|r| r.level == "xa")
            .all(|r| r.responses > 0),
        "every commune of today has its predecessors' answers"
    );
    let was = year_before(MapMode::AsItWas, GroupBy::Agency)?;
    assert_eq!(rolled.totals.responses, was.totals.responses);
    assert!(was.totals.responses > 0);
    let was_rows = was.agencies.unwrap_or_default();
    // The year since the reform, in the new map, has answers of its own.
    let since = build(
        &mut conn,
        &Query {
            from: d("2025-07-01"),
            to: today,
            province: Some("TN".into()),
            level: None,
            agencies: None,
            group_by: GroupBy::Agency,
            map: MapMode::AsItWas,
        },
    )?;
    assert!(since.totals.responses > 0);
    assert!(
        since
            .agencies
            .iter()
            .flatten()
            .all(|r| r.level != "huyen" || r.responses == 0),
        "no answer to a district after the reform"
    );
    assert_eq!(was_rows.iter().filter(|r| r.level == "huyen").count(), 17);
    assert!(
        was_rows.iter().filter(|r| r.level == "huyen").all(|r| r
            .map_note
            .as_ref()
            .is_some_and(|n| n.vi.starts_with("Đã sáp nhập"))),
        "every district is marked as merged"
    );
    Ok(())
}

fn ends_on(app: &TestApp, code: &str) -> Result<Option<NaiveDate>, Box<dyn std::error::Error>> {
    Ok(agencies::table
        .filter(agencies::code.eq(code))
        .select(agencies::valid_to)
        .first(&mut *app.conn()?)?)
}

#[tokio::test]
async fn catalog_and_succession_imports_keep_the_map_consistent() -> TestResult {
    let app = reorganised().await?;
    let mut conn = app.conn()?;
    // The catalog imported again as the province keeps it (validity columns, last days left
    // empty): the merged communes stay closed.
    import_agencies(&mut conn, CATALOG.as_bytes())?;
    drop(conn);
    for code in ["M-A", "M-B", "M-D", "M-H"] {
        assert_eq!(ends_on(&app, code)?, Some(d("2025-06-30")), "{code}");
    }
    assert_eq!(ends_on(&app, "M-C")?, None);
    let mut conn = app.conn()?;
    // A last day that contradicts the succession, or a successor beginning after it took over:
    // errors on their lines, nothing changed.
    let header = "code,name,level,province_code,parent_code,valid_from,valid_to\n";
    let wrong = format!(
        "{header}M-F,UBND xã Phú Yên mới,xa,MP,,,\nM-A,UBND xã An Lạc,xa,MP,M-H,,2025-12-31\nM-C,UBND xã An Bình,xa,MP,,2025-08-01,\n"
    );
    let errors = lines_and_messages(import_agencies(&mut conn, wrong.as_bytes()));
    let lines: Vec<u64> = errors.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [3, 4], "{errors:?}");
    assert!(
        errors[0]
            .1
            .contains("M-A was succeeded on 2025-07-01, so it ends on 2025-06-30"),
        "{errors:?}"
    );
    assert!(
        errors[1].1.contains("after the day M-C took over"),
        "{errors:?}"
    );
    let name: String = agencies::table
        .filter(agencies::code.eq("M-F"))
        .select(agencies::name)
        .first(&mut *conn)?;
    assert_eq!(name, "UBND xã Phú Yên", "nothing of the file was kept");

    // Successions: an old unit ends once (one date for all its successors).
    let header = "old_code,new_code,effective_date,share,kind\n";
    let twice = format!("{header}M-F,M-C,2025-07-01,0.5,\nM-F,M-E,2025-08-01,0.5,\n");
    let errors = lines_and_messages(import_successions(&mut conn, twice.as_bytes()));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].1.contains("M-F ends once"), "{errors:?}");

    // A chain going back in time against a stored succession.
    import_agencies(
        &mut conn,
        "code,name,level,province_code,parent_code\nY-1,UBND xã Yên Một,xa,YP,\nY-2,UBND xã Yên Hai,xa,YP,\nY-3,UBND xã Yên Ba,xa,YP,\nQ-1,UBND xã Quế Một,xa,YQ,\n"
            .as_bytes(),
    )?;
    assert_eq!(
        import_successions(
            &mut conn,
            format!("{header}Y-1,Y-2,2025-07-01,,\n").as_bytes()
        )?,
        1
    );
    let back = format!("{header}Y-2,Y-3,2025-03-01,,\n");
    let errors = lines_and_messages(import_successions(&mut conn, back.as_bytes()));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].1.contains(
            "dates out of order: Y-2 → Y-3 on 2025-03-01, but Y-1 → Y-2 only on 2025-07-01"
        ),
        "{errors:?}"
    );
    // A wrong date corrected by importing the succession again: the last day moves with it.
    drop(conn);
    assert_eq!(ends_on(&app, "Y-1")?, Some(d("2025-06-30")));
    let mut conn = app.conn()?;
    let corrected = format!("{header}Y-1,Y-2,2025-07-02,,\n");
    assert_eq!(import_successions(&mut conn, corrected.as_bytes())?, 1);
    drop(conn);
    assert_eq!(ends_on(&app, "Y-1")?, Some(d("2025-07-01")));
    let mut conn = app.conn()?;

    // A merged province whose agency has no successor of its own is refused, naming it;
    // with the agency's succession in the same file it is taken.
    let alone = format!("{header}YQ,YP,2025-07-01,,province\n");
    let errors = lines_and_messages(import_successions(&mut conn, alone.as_bytes()));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].1.contains("these agencies have no successor yet") && errors[0].1.contains("Q-1"),
        "{errors:?}"
    );
    let together = format!("{header}YQ,YP,2025-07-01,,province\nQ-1,Y-3,2025-07-01,,agency\n");
    assert_eq!(import_successions(&mut conn, together.as_bytes())?, 2);
    drop(conn);
    assert_eq!(ends_on(&app, "Q-1")?, Some(d("2025-06-30")));
    Ok(())
}

#[tokio::test]
async fn answers_outside_a_life_span_still_add_up_and_publications_use_one_map() -> TestResult {
    let app = reorganised().await?;
    // An answer dated after M-A was merged (a late paper form): as it was, M-A is still a row,
    // so the rows add up to the total.
    assert_eq!(
        app.import_responses(
            "agency_code,submitted_at,channel,HL0,E6\nM-A,2025-08-05,paper,5,1\n"
        )?,
        1
    );
    let mut conn = app.conn()?;
    let august = build(
        &mut conn,
        &Query {
            from: d("2025-08-01"),
            to: d("2025-08-31"),
            province: Some("MP".into()),
            level: None,
            agencies: None,
            group_by: GroupBy::Agency,
            map: MapMode::AsItWas,
        },
    )?;
    let rows = rows(&august);
    assert!(rows.contains(&("M-A".to_owned(), 1, 1)), "{rows:?}");
    let sum: u64 = rows.iter().map(|(_, n, _)| n).sum();
    assert_eq!(sum, august.totals.responses);
    assert_eq!(sum, 2, "M-A's late form and M-G's answer");

    // What is published is on today's map whatever the link asks: the same month on two maps
    // could be subtracted from each other. June 2025 gets enough answers for M-A and M-B to
    // be shown as they were (6 and 5), and M-C (6 + 5 + M-D's 2) on today's map.
    let mut june = String::from("agency_code,submitted_at,channel,HL0,E6\n");
    for (agency, n) in [("M-A", 6), ("M-B", 5)] {
        for _ in 0..n {
            june.push_str(&format!("{agency},2025-06-10,paper,4,1\n"));
        }
    }
    assert_eq!(app.import_responses(&june)?, 11);
    sipas::accounts::users::create(
        &mut conn,
        "office@mp.vn",
        "reviewer",
        None,
        PASSWORD,
        crate::helpers::now(),
    )?;
    drop(conn);
    let signed_in = signed::sign_in(&app, "office@mp.vn", PASSWORD, "203.0.113.10").await?;
    let session = signed::session_of(&signed_in).ok_or("no session")?;
    let mut published = Vec::new();
    for map in ["today", "as-it-was"] {
        let response = signed::get(
            &app,
            &format!("/admin/export/report.csv?publish=1&month=2025-06&province=MP&map={map}"),
            &session,
        )
        .await?;
        assert_eq!(response.status(), 200);
        published.push(response.text().await?);
    }
    assert_eq!(published[0], published[1]);
    assert!(published[0].contains("M-C"), "{}", published[0]);
    assert!(!published[0].contains("M-A"), "{}", published[0]);
    // The office's own export follows the map it asks for.
    let internal = signed::get(
        &app,
        "/admin/export/report.csv?from=2025-06-01&to=2025-06-30&province=MP&map=as-it-was",
        &session,
    )
    .await?;
    assert!(internal.text().await?.contains("M-A"));
    Ok(())
}
