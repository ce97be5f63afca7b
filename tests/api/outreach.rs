//! Reaching the citizen through real transports: an SMTP sink and an HTTP gateway on loopback.
//! The invitation and the one reminder arrive once each across a server restart, a gateway
//! outage, a refusing channel and a lost answer; no reminder after the link is answered or
//! expired; one invitation per fatigue window across agencies; the opt-out link; the funnel; and
//! the addresses gone from every table after the last message.

use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sipas::config::{GatewaySettings, Settings};
use sipas::db::DbConn;
use sipas::invitations::dossier::DossierReport;
use sipas::invitations::issue::{Issued, Issuer, Scope};
use sipas::mail::Mailer;
use sipas::outreach::deliver::{self, Sender};
use sipas::outreach::enroll::Enrolled;
use sipas::outreach::{Medium, Reach};

use crate::gateway::{Gateway, ids_to};
use crate::helpers::{SHORT_FORM, TestApp, TestResult, dossier, spawn_app, spawn_app_with, text};
use crate::mail::{Sink, behind_the_turn, decoded, mail_settings, message_id};

type Error = Box<dyn std::error::Error>;

/// The app's settings with mail to the sink on `port`.
fn with_mail(app: &TestApp, port: u16) -> Settings {
    let mut s = app.settings.clone();
    s.mail = mail_settings(port);
    s
}

fn sender(app: &TestApp, settings: &Settings) -> Result<Sender, Error> {
    let secret = sipas::startup::load_secret(&app.settings)?;
    Ok(Sender::new(settings, Mailer::new(&settings.mail)?, secret)?.ok_or("outreach is off")?)
}

/// Reports dossiers (code, agency, email, phone) at `now` with links valid `ttl` days, as the
/// API and the CSV import do.
fn report(
    app: &TestApp,
    settings: &Settings,
    dossiers: &[(&str, &str, Option<&str>, Option<&str>)],
    now: NaiveDateTime,
    ttl: u32,
) -> Result<Vec<Issued>, Error> {
    report_returned(
        app,
        settings,
        dossiers,
        "2026-01-15T10:00:00+07:00",
        now,
        ttl,
    )
}

/// [`report`] with dossiers returned at `returned_at` (RFC 3339).
fn report_returned(
    app: &TestApp,
    settings: &Settings,
    dossiers: &[(&str, &str, Option<&str>, Option<&str>)],
    returned_at: &str,
    now: NaiveDateTime,
    ttl: u32,
) -> Result<Vec<Issued>, Error> {
    let secret = sipas::startup::load_secret(&app.settings)?;
    let reach = Reach::from_settings(settings);
    let parsed = dossiers
        .iter()
        .map(|(code, agency, email, phone)| {
            DossierReport {
                dossier_code: (*code).into(),
                agency_code: (*agency).into(),
                procedure_code: "P-LLTP".into(),
                channel: "counter".into(),
                received_at: "2026-01-05T08:00:00+07:00".into(),
                due_at: Some("2026-01-20".into()),
                returned_at: returned_at.into(),
                citizen_email: email.map(str::to_owned),
                citizen_phone: phone.map(str::to_owned),
            }
            .parse(now)
            .map_err(|e| format!("{e:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let issuer = Issuer {
        secret: &secret,
        ttl_days: ttl,
        now,
        reach: reach.as_ref(),
    };
    let mut conn = app.conn()?;
    Ok(issuer.issue(&mut conn, &parsed, Scope::All)?)
}

fn outcome(issued: &[Issued]) -> Vec<Option<Enrolled>> {
    issued.iter().map(|i| i.outreach).collect()
}

/// Every (table, column) of the database holding `needle` anywhere in its text.
fn occurrences(app: &TestApp, needle: &str) -> Result<Vec<String>, Error> {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        c: String,
    }
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.conn()?;
    let list = match &mut *conn {
        DbConn::Sqlite(_) => {
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
        }
        DbConn::Pg(_) => {
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
             WHERE table_schema = 'public'"
        }
    };
    let columns: Vec<Column> = diesel::sql_query(list).load(&mut *conn as &mut DbConn)?;
    assert!(columns.iter().any(|c| c.t == "responses"));
    let mut found = Vec::new();
    for col in columns {
        let n: Count = diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM \"{}\" WHERE LOWER(CAST(\"{}\" AS TEXT)) LIKE '%{}%'",
            col.t,
            col.c,
            needle.to_lowercase()
        ))
        .get_result(&mut *conn as &mut DbConn)?;
        if n.n > 0 {
            found.push(format!("{}.{}", col.t, col.c));
        }
    }
    Ok(found)
}

/// The funnel counts of T-SO for a channel: (contacts, recent, opted_out, invited, reminded,
/// failed, answered, sms_parts).
fn funnel(app: &TestApp, medium: Medium) -> Result<[i64; 8], Error> {
    use sipas::report::{GroupBy, Query};
    let mut conn = app.conn()?;
    let rows = sipas::outreach::counts::by_agency(
        &mut conn,
        &Query {
            from: "2026-01-01".parse()?,
            to: "2026-01-31".parse()?,
            province: None,
            level: None,
            agencies: None,
            group_by: GroupBy::Agency,
            map: sipas::report::map::MapMode::AsItWas,
        },
        None,
    )?;
    let so = sipas::catalog::queries::agency_by_code(&mut conn, "T-SO")?.ok_or("T-SO")?;
    let f = rows
        .iter()
        .find(|(a, m, _)| *a == so.id && *m == medium)
        .map(|r| r.2)
        .unwrap_or_default();
    Ok([
        f.contacts,
        f.recent,
        f.opted_out,
        f.invited,
        f.reminded,
        f.failed,
        f.answered,
        f.sms_parts,
    ])
}

async fn wait_for(sink: &Sink, n: usize) {
    for _ in 0..300 {
        if sink.messages().len() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_emailed_invitation_and_its_one_reminder_arrive_once_across_a_restart() -> TestResult {
    let sink = Sink::start(0, Arc::new(Mutex::new(Vec::new())))?;
    let port = sink.port;
    let mut app = spawn_app_with(move |s| s.mail = mail_settings(port)).await?;
    let mut body = dossier("MAIL-1", "T-SO", false);
    body["citizen_email"] = "Dan.Nguyen@Example.vn".into();
    let response = app.post_dossiers(&body).await?;
    assert_eq!(response.status().as_u16(), 201);
    let json: serde_json::Value = response.json().await?;
    assert_eq!(json["message"], "queued");
    let link = json["survey_url"].as_str().ok_or("survey_url")?.to_owned();
    // The same citizen reported by another agency the same day: a link, no message.
    let mut again = dossier("MAIL-2", "T-XA", false);
    again["citizen_email"] = "dan.nguyen@example.vn".into();
    let json: serde_json::Value = app.post_dossiers(&again).await?.json().await?;
    assert_eq!(json["message"], "recently_invited");
    assert!(
        json["survey_url"]
            .as_str()
            .is_some_and(|u| u.contains("/s/"))
    );

    // The server's own scheduler sends the invitation.
    wait_for(&sink, 1).await;
    let first = sink.messages().first().cloned().ok_or("no invitation")?;
    assert_eq!(first.rcpt, ["dan.nguyen@example.vn"]);
    let text = decoded(&first.data);
    for expected in [
        "Kính gửi ông/bà",
        "Sở Tư pháp",
        "Cấp Phiếu lý lịch tư pháp",
        link.as_str(),
        "Dear citizen",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    assert!(
        first
            .data
            .contains("List-Unsubscribe: <https://khaosat.test/u/")
    );
    assert!(
        first
            .data
            .contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    );
    assert!(!text.contains("<img") && !text.contains("src="));
    let path = link.strip_prefix("https://khaosat.test").ok_or("link")?;
    assert_eq!(app.client.get(app.url(path)).send().await?.status(), 200);

    // A restart, then a week passes: one reminder, whoever runs the rounds and how often.
    app.restart()?;
    let settings = app.settings.clone();
    let sender = sender(&app, &settings)?;
    let now = sipas::clock::now();
    assert_eq!(
        deliver::round(&app.database, &sender, || now + Duration::days(6))?,
        deliver::Round::default()
    );
    let week = deliver::round(&app.database, &sender, || now + Duration::days(8))?;
    assert_eq!((week.reminders_queued, week.sent), (1, 1));
    for later in [8, 9, 20, 40] {
        deliver::round(&app.database, &sender, || now + Duration::days(later))?;
    }
    let messages = sink.messages();
    assert_eq!(messages.len(), 2, "one invitation, one reminder");
    let reminder = decoded(&messages[1].data);
    assert!(reminder.contains("Nhắc lại") && reminder.contains(&link));
    assert_ne!(message_id(&messages[0].data), message_id(&messages[1].data));
    // Settled: no outbox row keeps a sent time to match with an answer.
    assert_eq!(app.count("outbox")?, 0);
    // The address is gone from every table, the answers' included.
    assert_eq!(
        occurrences(&app, "dan.nguyen@example.vn")?,
        Vec::<String>::new()
    );
    assert_eq!(funnel(&app, Medium::Email)?, [1, 0, 0, 1, 1, 0, 0, 0]);
    sink.stop();
    Ok(())
}

const ZALO_TEMPLATE: &str = r#"{"phone": "{{phone}}", "template_id": "231677", "template_data": {"co_quan": "{{agency}}", "thu_tuc": "{{procedure}}", "han": "{{expires}}", "ma": "{{token}}"}, "tracking_id": "{{id}}"}"#;

fn with_gateways(app: &TestApp, gateway: &Gateway) -> Settings {
    let mut s = app.settings.clone();
    s.zalo = GatewaySettings {
        url: gateway.url("/zalo"),
        auth_header: "access_token: zalo-secret".into(),
        template: ZALO_TEMPLATE.into(),
        success_field: "/error".into(),
        success_values: vec!["0".into()],
        ..GatewaySettings::default()
    };
    s.sms = GatewaySettings {
        url: gateway.url("/sms"),
        auth_header: "Authorization: Bearer sms-secret".into(),
        ..GatewaySettings::default()
    };
    s.outreach.sms_cost = 800;
    s
}

#[tokio::test]
async fn a_gateway_outage_a_refusing_channel_and_a_lost_answer_send_each_message_once() -> TestResult
{
    let app = spawn_app().await?;
    let gateway = Gateway::start()?;
    let settings = with_gateways(&app, &gateway);
    let sender = sender(&app, &settings)?;
    gateway
        .behaviour
        .no_zalo
        .lock()
        .map_err(|e| e.to_string())?
        .push("84987654321".into());
    let t0 = sipas::invitations::import::now();
    let issued = report(
        &app,
        &settings,
        &[
            ("SMS-A", "T-SO", None, Some("0912 345 678")),
            ("SMS-B", "T-SO", None, Some("+84 987.654.321")),
        ],
        t0,
        30,
    )?;
    assert_eq!(
        outcome(&issued),
        [
            Some(Enrolled::Queued(Medium::Zalo)),
            Some(Enrolled::Queued(Medium::Zalo))
        ]
    );
    // The provider is down: both wait, nothing is lost.
    gateway
        .behaviour
        .unavailable
        .store(2, std::sync::atomic::Ordering::SeqCst);
    let down = deliver::round(&app.database, &sender, || t0)?;
    assert_eq!((down.sent, down.retrying), (0, 2));
    assert_eq!(
        deliver::round(&app.database, &sender, || t0)?.sent,
        0,
        "backoff"
    );
    // Back up: A by Zalo; B has no Zalo account, so SMS.
    let later = t0 + Duration::minutes(10);
    let up = deliver::round(&app.database, &sender, || later)?;
    assert_eq!((up.sent, up.fell_back), (1, 1));
    assert_eq!(deliver::round(&app.database, &sender, || later)?.sent, 1);
    // A week later the reminders; the answer to A's is lost after the provider accepted it.
    gateway
        .behaviour
        .hang_up
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let week = t0 + Duration::days(8);
    let r = deliver::round(&app.database, &sender, || week)?;
    assert_eq!((r.reminders_queued, r.sent, r.retrying), (2, 1, 1));
    deliver::round(&app.database, &sender, || week + Duration::minutes(10))?;
    for days in [9, 20, 40] {
        deliver::round(&app.database, &sender, || t0 + Duration::days(days))?;
    }

    let requests = gateway.requests();
    let ids = |path: &str, phone: &str| ids_to(&requests, path, phone);
    // A: invitation (503, then accepted) and reminder (accepted, answer lost, retried), by Zalo.
    let a = ids("/zalo", "84912345678");
    assert_eq!(a.len(), 4, "{a:?}");
    assert!(a[0] == a[1] && a[2] == a[3] && a[0] != a[2], "{a:?}");
    // B: Zalo (503, refused), then SMS for the invitation; the reminder by SMS.
    assert_eq!(ids("/zalo", "84987654321").len(), 2);
    let b = ids("/sms", "84987654321");
    assert_eq!(b.len(), 2);
    assert_ne!(b[0], b[1]);
    // What reached citizens: four messages, each once.
    assert_eq!(gateway.delivered().len(), 4);
    let zalo = requests
        .iter()
        .find(|r| r.path == "/zalo")
        .ok_or("zalo request")?;
    assert_eq!(zalo.header("access_token"), Some("zalo-secret"));
    assert_eq!(zalo.body["template_data"]["co_quan"], "Sở Tư pháp");
    let sms = requests
        .iter()
        .find(|r| r.path == "/sms")
        .ok_or("sms request")?;
    assert_eq!(sms.header("Authorization"), Some("Bearer sms-secret"));
    let sms_text = sms.body["text"].as_str().ok_or("text")?;
    assert!(
        sms_text.starts_with("So Tu phap moi Ong/Ba danh gia ho so Cap Phieu ly lich tu phap: https://khaosat.test/s/"),
        "{sms_text}"
    );
    assert!(sms_text.chars().count() <= 160 && sms_text.is_ascii());

    assert_eq!(funnel(&app, Medium::Zalo)?, [2, 0, 0, 1, 1, 1, 0, 0]);
    assert_eq!(funnel(&app, Medium::Sms)?, [0, 0, 0, 1, 1, 0, 0, 2]);
    for number in ["912345678", "987654321"] {
        assert_eq!(occurrences(&app, number)?, Vec::<String>::new());
    }
    Ok(())
}

#[tokio::test]
async fn a_refusing_mail_server_leaves_no_address_and_settled_messages_leave_no_outbox_row()
-> TestResult {
    let app = spawn_app().await?;
    let sink = Sink::start_refusing(&["gone@example.vn"])?;
    let settings = with_mail(&app, sink.port);
    let sender = sender(&app, &settings)?;
    let t0 = sipas::invitations::import::now();
    report(
        &app,
        &settings,
        &[
            ("R-1", "T-SO", Some("gone@example.vn"), None),
            ("R-2", "T-SO", Some("here@example.vn"), None),
        ],
        t0,
        30,
    )?;
    let r = deliver::round(&app.database, &sender, || t0)?;
    assert_eq!((r.sent, r.failed), (1, 1));
    // "550 5.1.1 <gone@example.vn>: …" is kept nowhere: not in the outbox, not anywhere.
    assert_eq!(occurrences(&app, "gone@example.vn")?, Vec::<String>::new());
    assert_eq!(occurrences(&app, "rejected")?, Vec::<String>::new());
    // The refused message is settled; the delivered one waits for its reminder.
    assert_eq!(app.count("outbox")?, 1);
    let week = deliver::round(&app.database, &sender, || t0 + Duration::days(8))?;
    assert_eq!(week.sent, 1);
    assert_eq!(app.count("outbox")?, 0);
    assert_eq!(occurrences(&app, "here@example.vn")?, Vec::<String>::new());
    assert_eq!(funnel(&app, Medium::Email)?, [2, 0, 0, 1, 1, 1, 0, 0]);
    sink.stop();
    Ok(())
}

#[tokio::test]
async fn a_backfill_of_old_dossiers_gets_links_and_no_message() -> TestResult {
    let app = spawn_app().await?;
    let sink = Sink::start(0, Arc::new(Mutex::new(Vec::new())))?;
    let mut settings = with_mail(&app, sink.port);
    settings.outreach.max_age_days = 14;
    let sender = sender(&app, &settings)?;
    let t0 = sipas::invitations::import::now();
    let returned = |days: i64| {
        (t0 - Duration::days(days))
            .and_utc()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let mut outcomes = Vec::new();
    for (code, email, days) in [
        ("OLD-1", "old@example.vn", 200),
        ("OLD-2", "older@example.vn", 16),
        ("NEW-1", "recent@example.vn", 3),
    ] {
        let issued = report_returned(
            &app,
            &settings,
            &[(code, "T-SO", Some(email), None)],
            &returned(days),
            t0,
            30,
        )?;
        assert!(issued.iter().all(|i| i.token.as_str().len() > 10), "a link");
        outcomes.extend(outcome(&issued));
    }
    assert_eq!(
        outcomes,
        [
            Some(Enrolled::TooOld),
            Some(Enrolled::TooOld),
            Some(Enrolled::Queued(Medium::Email))
        ]
    );
    assert_eq!(deliver::round(&app.database, &sender, || t0)?.sent, 1);
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt, ["recent@example.vn"]);
    for old in ["old@example.vn", "older@example.vn"] {
        assert_eq!(occurrences(&app, old)?, Vec::<String>::new());
    }
    sink.stop();
    Ok(())
}

#[tokio::test]
async fn a_dead_gateway_costs_a_round_three_attempts_and_holds_no_other_channel() -> TestResult {
    let app = spawn_app().await?;
    let sink = Sink::start(0, Arc::new(Mutex::new(Vec::new())))?;
    let gateway = Gateway::start()?;
    let mut settings = with_mail(&app, sink.port);
    settings.sms = with_gateways(&app, &gateway).sms;
    let sender = sender(&app, &settings)?;
    gateway
        .behaviour
        .unavailable
        .store(100, std::sync::atomic::Ordering::SeqCst);
    let t0 = sipas::invitations::import::now();
    let mut dossiers: Vec<(String, String)> = (0..5)
        .map(|i| (format!("DEAD-{i}"), format!("091234560{i}")))
        .collect();
    dossiers.push(("DEAD-MAIL".into(), String::new()));
    let rows: Vec<(&str, &str, Option<&str>, Option<&str>)> = dossiers
        .iter()
        .map(|(code, phone)| {
            if phone.is_empty() {
                (code.as_str(), "T-SO", Some("mail@example.vn"), None)
            } else {
                (code.as_str(), "T-SO", None, Some(phone.as_str()))
            }
        })
        .collect();
    report(&app, &settings, &rows, t0, 30)?;
    let r = deliver::round(&app.database, &sender, || t0)?;
    // Three SMS attempts, then the channel waits for the next round; email goes on.
    assert_eq!(
        (r.retrying, r.deferred, r.sent),
        (deliver::PAUSE_AFTER as usize, 2, 1),
        "{r:?}"
    );
    assert_eq!(gateway.requests().len(), deliver::PAUSE_AFTER as usize);
    // The deferred messages were not claimed: the next round tries them at once.
    let next = deliver::round(&app.database, &sender, || t0)?;
    assert_eq!((next.retrying, next.deferred), (2, 0), "{next:?}");
    assert_eq!(sink.messages().len(), 1);
    sink.stop();
    Ok(())
}

#[tokio::test]
async fn two_reports_of_one_citizen_at_once_bring_one_invitation() -> TestResult {
    let app = spawn_app().await?;
    if !app.db.is_postgres() {
        // SQLite has one writer at a time (the server's writer's turn): no two reports overlap.
        return Ok(());
    }
    let sink = Sink::start(0, Arc::new(Mutex::new(Vec::new())))?;
    let settings = with_mail(&app, sink.port);
    let secret = sipas::startup::load_secret(&app.settings)?;
    let reach = Reach::from_settings(&settings);
    let t0 = sipas::invitations::import::now();
    let issuer = Issuer {
        secret: &secret,
        ttl_days: 30,
        now: t0,
        reach: reach.as_ref(),
    };
    let parse = |code: &str, agency: &str| {
        DossierReport {
            dossier_code: code.into(),
            agency_code: agency.into(),
            procedure_code: "P-LLTP".into(),
            channel: "counter".into(),
            received_at: "2026-01-05T08:00:00+07:00".into(),
            due_at: None,
            returned_at: "2026-01-15T10:00:00+07:00".into(),
            citizen_email: Some("race@example.vn".into()),
            citizen_phone: None,
        }
        .parse(t0)
        .map_err(|e| format!("{e:?}"))
    };
    // Invited before the window: the citizen's hash is known, its day too old to hold.
    let before = report(
        &app,
        &settings,
        &[("RACE-0", "T-HUYEN", Some("race@example.vn"), None)],
        t0 - Duration::days(40),
        30,
    )?;
    assert_eq!(outcome(&before), [Some(Enrolled::Queued(Medium::Email))]);
    let (first, second) = (
        vec![parse("RACE-1", "T-SO")?],
        vec![parse("RACE-2", "T-XA")?],
    );
    let (mut a, mut b) = (app.conn()?, app.conn()?);
    let (started, wait) = std::sync::mpsc::channel();
    // The first report's transaction stays open a while after enrolling the citizen; the second
    // report (another server, another API call) comes in meanwhile.
    let (one, two) = std::thread::scope(|scope| {
        let holder = scope.spawn(|| {
            let a: &mut DbConn = &mut a;
            a.transaction::<_, sipas::invitations::issue::IssueError, _>(|c| {
                let issued = issuer.issue(c, &first, Scope::All)?;
                let _ = started.send(());
                std::thread::sleep(std::time::Duration::from_millis(800));
                Ok(issued)
            })
        });
        let _ = wait.recv();
        let two = issuer.issue(&mut b, &second, Scope::All);
        (holder.join(), two)
    });
    let one = one.map_err(|_| "the first report panicked")??;
    assert_eq!(outcome(&one), [Some(Enrolled::Queued(Medium::Email))]);
    assert_eq!(outcome(&two?), [Some(Enrolled::RecentlyInvited)]);
    drop((a, b));
    // RACE-1's invitation only (RACE-0's link expired unsent).
    assert_eq!(
        deliver::round(&app.database, &sender(&app, &settings)?, || t0)?.sent,
        1
    );
    assert_eq!(sink.messages().len(), 1);
    sink.stop();
    Ok(())
}

/// One eSMS-style provider serving both Zalo and SMS: "100" accepted, "124" a request id it
/// processed before, "103" (no balance) try again later.
fn with_one_provider(app: &TestApp, gateway: &Gateway) -> Settings {
    let mut s = app.settings.clone();
    let codes = GatewaySettings {
        success_field: "/CodeResult".into(),
        success_values: vec!["100".into()],
        duplicate_values: vec!["124".into()],
        transient_values: vec!["103".into()],
        ..GatewaySettings::default()
    };
    s.zalo = GatewaySettings {
        url: gateway.url("/esms/zalo"),
        template: ZALO_TEMPLATE.into(),
        ..codes.clone()
    };
    s.sms = GatewaySettings {
        url: gateway.url("/esms/sms"),
        ..codes
    };
    s
}

#[tokio::test]
async fn a_duplicate_answer_is_a_delivery_a_try_later_code_waits_and_each_channel_has_its_own_id()
-> TestResult {
    let app = spawn_app().await?;
    let gateway = Gateway::start()?;
    gateway
        .behaviour
        .esms
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let settings = with_one_provider(&app, &gateway);
    let sender = sender(&app, &settings)?;
    gateway
        .behaviour
        .no_zalo
        .lock()
        .map_err(|e| e.to_string())?
        .push("84987654321".into());
    let t0 = sipas::invitations::import::now();
    report(
        &app,
        &settings,
        &[
            ("DUP-A", "T-SO", None, Some("0912345678")),
            ("DUP-B", "T-SO", None, Some("0987654321")),
        ],
        t0,
        30,
    )?;
    // A's invitation is accepted but the answer is lost; B has no Zalo account.
    gateway
        .behaviour
        .hang_up
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let first = deliver::round(&app.database, &sender, || t0)?;
    assert_eq!((first.sent, first.retrying, first.fell_back), (0, 1, 1));
    // The retry is answered "124": already accepted, so sent. B's SMS carries its own id, so the
    // provider that refused its Zalo message does not take it for a repetition.
    let later = t0 + Duration::minutes(10);
    let second = deliver::round(&app.database, &sender, || later)?;
    assert_eq!((second.sent, second.failed, second.fell_back), (2, 0, 0));
    // A week later the provider's balance is empty: the reminder waits on Zalo, no fallback.
    gateway
        .behaviour
        .try_later
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let week = t0 + Duration::days(8);
    let r = deliver::round(&app.database, &sender, || week)?;
    assert_eq!(
        (r.reminders_queued, r.sent, r.retrying, r.fell_back),
        (2, 1, 1, 0)
    );
    let r = deliver::round(&app.database, &sender, || week + Duration::minutes(10))?;
    assert_eq!((r.sent, r.fell_back), (1, 0));

    let requests = gateway.requests();
    let ids = |path: &str, phone: &str| ids_to(&requests, path, phone);
    let a = ids("/esms/zalo", "84912345678");
    // The invitation (answer lost, then "124") and the reminder ("103", then accepted).
    assert_eq!(a.len(), 4, "{a:?}");
    assert!(a[0] == a[1] && a[2] == a[3] && a[0] != a[2], "{a:?}");
    assert!(a.iter().all(|id| id.ends_with("-zalo")), "{a:?}");
    let b_zalo = ids("/esms/zalo", "84987654321");
    let b_sms = ids("/esms/sms", "84987654321");
    assert_eq!((b_zalo.len(), b_sms.len()), (1, 2));
    assert_eq!(
        b_zalo[0].trim_end_matches("-zalo"),
        b_sms[0].trim_end_matches("-sms")
    );
    assert!(b_sms.iter().all(|id| id.ends_with("-sms")));
    // Four messages reached the citizens, each once.
    assert_eq!(gateway.delivered().len(), 4, "{:?}", gateway.delivered());
    assert_eq!(funnel(&app, Medium::Zalo)?, [2, 0, 0, 1, 1, 1, 0, 0]);
    assert_eq!(funnel(&app, Medium::Sms)?[3..6], [1, 1, 0]);
    Ok(())
}

#[tokio::test]
async fn no_reminder_after_the_link_is_answered_or_expired_and_the_funnel_shows_it() -> TestResult {
    let app = spawn_app().await?;
    let sink = Sink::start(0, Arc::new(Mutex::new(Vec::new())))?;
    let settings = with_mail(&app, sink.port);
    let sender = sender(&app, &settings)?;
    let t0 = sipas::invitations::import::now();
    let mut issued = report(
        &app,
        &settings,
        &[
            ("E-1", "T-SO", Some("d1@example.vn"), None),
            ("E-2", "T-SO", Some("d2@example.vn"), None),
        ],
        t0,
        30,
    )?;
    // Valid 8 days: a reminder after 7 is planned, but the link expires before it goes.
    issued.extend(report(
        &app,
        &settings,
        &[("E-3", "T-SO", Some("d3@example.vn"), None)],
        t0,
        8,
    )?);
    // Valid 5 days: no reminder at all; the invitation is the last message.
    issued.extend(report(
        &app,
        &settings,
        &[("E-4", "T-SO", Some("d4@example.vn"), None)],
        t0,
        5,
    )?);
    assert_eq!(deliver::round(&app.database, &sender, || t0)?.sent, 4);
    assert_eq!(occurrences(&app, "d4@example.vn")?, Vec::<String>::new());
    assert_eq!(occurrences(&app, "d3@example.vn")?, ["outreach.email"]);
    // D1 answers.
    let token = issued[0].token.as_str().to_owned();
    let answered = app.post_form(&format!("/s/{token}"), &SHORT_FORM).await?;
    assert_eq!(answered.status().as_u16(), 303);
    assert_eq!(occurrences(&app, "d1@example.vn")?, Vec::<String>::new());
    let late = deliver::round(&app.database, &sender, || {
        t0 + Duration::days(8) + Duration::hours(1)
    })?;
    assert_eq!((late.reminders_queued, late.sent), (1, 1));
    deliver::round(&app.database, &sender, || t0 + Duration::days(31))?;
    let messages = sink.messages();
    assert_eq!(messages.len(), 5, "four invitations, one reminder");
    assert_eq!(messages[4].rcpt, ["d2@example.vn"]);
    for n in 1..=4 {
        assert_eq!(
            occurrences(&app, &format!("d{n}@example.vn"))?,
            Vec::<String>::new()
        );
    }
    assert_eq!(app.count("outreach")?, 0, "answered, then expired");
    assert_eq!(app.count("outbox")?, 0, "no sent time kept");
    assert_eq!(funnel(&app, Medium::Email)?, [4, 0, 0, 4, 1, 0, 1, 0]);

    // The funnel on the agency page and in the export.
    {
        let mut conn = app.conn()?;
        sipas::accounts::users::create(
            &mut conn,
            "admin@test.vn",
            "admin",
            None,
            "a-long-test-password",
            t0,
        )?;
    }
    let signed =
        crate::signed::sign_in(&app, "admin@test.vn", "a-long-test-password", "10.0.0.1").await?;
    let session = crate::signed::session_of(&signed).ok_or("session")?;
    let page = crate::signed::get(
        &app,
        "/admin/agencies/T-SO?from=2026-01-01&to=2026-01-31",
        &session,
    )
    .await?
    .text()
    .await?;
    let html = scraper::Html::parse_document(&page);
    let cells = scraper::Selector::parse("td").map_err(|e| e.to_string())?;
    let row = |label: &str| -> Vec<String> {
        crate::helpers::select(&html, "tr")
            .into_iter()
            .find(|tr| tr.text().collect::<String>().trim().starts_with(label))
            .map(|tr| {
                tr.select(&cells)
                    .map(|td| td.text().collect::<String>().trim().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    // Columns: Zalo, SMS, Email, no message, total.
    assert_eq!(
        row("Tin mời đã gửi được"),
        ["0", "0", "4", "0", "4"],
        "{}",
        text(&html)
    );
    assert_eq!(row("Tin nhắc đã gửi được"), ["0", "0", "1", "", "1"]);
    assert_eq!(
        row("Phiếu trả lời qua đường dẫn"),
        ["0", "0", "1", "0", "1"]
    );
    assert_eq!(row("Tỷ lệ phản hồi"), ["–", "–", "25%", "–", "25%"]);
    let csv = crate::signed::get(
        &app,
        "/admin/export/reach.csv?from=2026-01-01&to=2026-01-31&lang=en",
        &session,
    )
    .await?
    .text()
    .await?;
    assert!(
        csv.lines()
            .any(|l| l == "T-SO,Sở Tư pháp,Email,4,0,0,4,0,1,1,25.0,0,0"),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l == "T-SO,Sở Tư pháp,no message,0,0,0,0,0,0,0,,0,0"),
        "{csv}"
    );

    // The head of the agency sees its released month with one answer: withheld, with its rate,
    // on the page and in the export.
    {
        let mut conn = app.conn()?;
        sipas::accounts::users::create(
            &mut conn,
            "head@test.vn",
            "agency_head",
            Some("T-SO"),
            "a-long-test-password",
            t0,
        )?;
    }
    let signed =
        crate::signed::sign_in(&app, "head@test.vn", "a-long-test-password", "10.0.0.2").await?;
    let head = crate::signed::session_of(&signed).ok_or("session")?;
    let page = crate::signed::get(&app, "/admin/agencies/T-SO?month=2026-01", &head)
        .await?
        .text()
        .await?;
    let html = scraper::Html::parse_document(&page);
    let row = |label: &str| -> Vec<String> {
        crate::helpers::select(&html, "tr")
            .into_iter()
            .find(|tr| tr.text().collect::<String>().trim().starts_with(label))
            .map(|tr| {
                tr.select(&cells)
                    .map(|td| td.text().collect::<String>().trim().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(row("Tin mời đã gửi được"), ["0", "0", "4", "0", "4"]);
    assert_eq!(
        row("Phiếu trả lời qua đường dẫn"),
        ["ẩn"; 5],
        "{}",
        text(&html)
    );
    assert_eq!(row("Tỷ lệ phản hồi"), ["ẩn"; 5]);
    assert!(text(&html).contains("nhóm dưới 5 phiếu"));
    let csv = crate::signed::get(&app, "/admin/export/reach.csv?month=2026-01&lang=en", &head)
        .await?
        .text()
        .await?;
    assert!(
        csv.lines()
            .any(|l| l == "T-SO,Sở Tư pháp,Email,4,0,0,4,0,1,hidden,hidden,0,0"),
        "{csv}"
    );
    assert!(!csv.contains("25.0"), "{csv}");
    sink.stop();
    Ok(())
}

#[tokio::test]
async fn one_invitation_per_fatigue_window_across_agencies_and_an_opt_out_that_holds() -> TestResult
{
    let app = spawn_app().await?;
    let sink = Sink::start(0, Arc::new(Mutex::new(Vec::new())))?;
    let gateway = Gateway::start()?;
    let mut settings = with_mail(&app, sink.port);
    settings.sms = with_gateways(&app, &gateway).sms;
    let sender = sender(&app, &settings)?;
    let t0 = sipas::invitations::import::now();
    let at = |days: i64| t0 + Duration::days(days);
    let one = |code: &str, agency: &str, email: Option<&str>, phone: Option<&str>, when| {
        report(&app, &settings, &[(code, agency, email, phone)], when, 30).map(|i| outcome(&i))
    };
    assert_eq!(
        one("F-1", "T-SO", Some("citizen@example.vn"), None, at(0))?,
        [Some(Enrolled::Queued(Medium::Email))]
    );
    assert_eq!(
        one("F-2", "T-XA", Some("Citizen@Example.vn"), None, at(0))?,
        [Some(Enrolled::RecentlyInvited)]
    );
    assert_eq!(
        one("F-3", "T-SO", None, Some("0912345678"), at(0))?,
        [Some(Enrolled::Queued(Medium::Sms))]
    );
    assert_eq!(
        one("F-4", "T-HUYEN", None, Some("+84 912 345 678"), at(29))?,
        [Some(Enrolled::RecentlyInvited)]
    );
    // The phone was invited at day 0: from day 30 it may be invited again.
    assert_eq!(
        one("F-5", "T-HUYEN", None, Some("0912.345.678"), at(30))?,
        [Some(Enrolled::Queued(Medium::Sms))]
    );
    // An email and a phone together: recent if either was invited.
    assert_eq!(
        one(
            "F-6",
            "T-XA",
            Some("new@example.vn"),
            Some("0912345678"),
            at(31)
        )?,
        [Some(Enrolled::RecentlyInvited)]
    );

    deliver::round(&app.database, &sender, || t0)?;
    let invitation = sink.messages().first().cloned().ok_or("invitation")?;
    let text = decoded(&invitation.data);
    let start = text
        .find("https://khaosat.test/u/")
        .ok_or("unsubscribe link")?;
    let link: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_:/.".contains(*c))
        .collect();
    let path = link
        .trim_end_matches('.')
        .strip_prefix("https://khaosat.test")
        .ok_or("path")?
        .to_owned();
    // Without signing in; the page names no one.
    let (status, page) = app.get_html(&path).await?;
    assert_eq!(status, 200);
    let shown = crate::helpers::text(&page);
    assert!(
        !shown.contains("citizen@example.vn") && !shown.contains("Sở Tư pháp"),
        "{shown}"
    );
    // A guessed or altered token is refused.
    let mut forged = path.clone();
    let last = forged.pop().ok_or("token")?;
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(app.get_html(&forged).await?.0, 404);
    assert_eq!(app.post_form(&forged, &[]).await?.status().as_u16(), 404);
    // One-click unsubscribe (RFC 8058).
    let done = app
        .post_form(&path, &[("List-Unsubscribe", "One-Click")])
        .await?;
    assert_eq!(done.status().as_u16(), 200);
    // The address is erased at once, with the reminder planned.
    assert_eq!(
        occurrences(&app, "citizen@example.vn")?,
        Vec::<String>::new()
    );
    // No reminder (the phone's is sent), and no invitation for a later dossier either.
    let week = deliver::round(&app.database, &sender, || at(8))?;
    assert_eq!(
        (week.reminders_queued, week.sent, week.dropped),
        (1, 1, 0),
        "{week:?}"
    );
    assert!(
        sink.messages()
            .iter()
            .all(|m| m.rcpt != ["citizen@example.vn"] || m.data == invitation.data),
        "only the invitation reached the address"
    );
    assert_eq!(
        one("F-7", "T-SO", Some("citizen@example.vn"), None, at(60))?,
        [Some(Enrolled::OptedOut)]
    );
    assert_eq!(funnel(&app, Medium::Email)?, [2, 0, 1, 1, 0, 0, 0, 0]);
    sink.stop();
    Ok(())
}

#[tokio::test]
async fn the_csv_import_takes_phones_and_refuses_a_bad_one_by_line_storing_nothing() -> TestResult {
    let app = spawn_app().await?;
    let gateway = Gateway::start()?;
    let settings = with_gateways(&app, &gateway);
    let secret = sipas::startup::load_secret(&app.settings)?;
    let reach = Reach::from_settings(&settings);
    let issuer = Issuer {
        secret: &secret,
        ttl_days: 30,
        now: sipas::invitations::import::now(),
        reach: reach.as_ref(),
    };
    let header = "dossier_code,agency_code,procedure_code,channel,received_at,due_at,returned_at,citizen_email,citizen_phone\n";
    let bad = format!(
        "{header}CSV-1,T-SO,P-LLTP,counter,2026-01-05,,2026-01-15,,0912345678\n\
         CSV-2,T-SO,P-LLTP,counter,2026-01-05,,2026-01-15,,0208 3856 789\n"
    );
    let mut conn = app.conn()?;
    let refused =
        sipas::invitations::import::import_dossiers(&mut conn, &issuer, bad.as_bytes(), |_| Ok(()));
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("line 3") && message.contains("citizen_phone"),
        "{message}"
    );
    drop(conn);
    assert_eq!(
        (
            app.count("invitations")?,
            app.count("outreach")?,
            app.count("outbox")?
        ),
        (0, 0, 0)
    );
    let good = format!(
        "{header}CSV-1,T-SO,P-LLTP,counter,2026-01-05,,2026-01-15,,0912345678\n\
         CSV-2,T-SO,P-LLTP,counter,2026-01-05,,2026-01-15,,\n"
    );
    let mut conn = app.conn()?;
    let mut issued = Vec::new();
    sipas::invitations::import::import_dossiers(&mut conn, &issuer, good.as_bytes(), |i| {
        issued.push(i.clone());
        Ok(())
    })?;
    assert_eq!(
        outcome(&issued),
        [Some(Enrolled::Queued(Medium::Zalo)), None]
    );
    drop(conn);
    assert_eq!((app.count("outreach")?, app.count("outbox")?), (1, 1));
    Ok(())
}

/// On SQLite each write waits for the writers' turn, the scheduler's rounds' too: a round that
/// committed outside it, between the read and the write of a web request's transaction, failed
/// that request with "database is locked" (seen as a dossier report without its message).
/// PostgreSQL has no turn: its writers wait on row locks only.
#[tokio::test]
async fn a_citizen_message_round_writes_only_in_the_writers_turn() -> TestResult {
    let sink = Sink::start(0, Arc::new(Mutex::new(Vec::new())))?;
    let app = spawn_app().await?;
    let settings = with_mail(&app, sink.port);
    let sender = sender(&app, &settings)?;
    let t0 = sipas::invitations::import::now();
    report(
        &app,
        &settings,
        &[("TURN-1", "T-SO", Some("turn@example.vn"), None)],
        t0,
        30,
    )?;
    let done = behind_the_turn(&app.database, &sink, move |database| {
        deliver::round(&database, &sender, || t0)
    })??;
    assert_eq!(done.sent, 1);
    assert_eq!(sink.messages().len(), 1);
    sink.stop();
    Ok(())
}
