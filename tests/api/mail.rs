//! Digests through a real SMTP server on loopback (a small SMTP sink run by the test): the right
//! recipients, subject, both parts and numbers; no free text and nothing from small groups; an
//! SMTP outage loses and duplicates nothing; two workers deliver each message once.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::{Duration, Utc};
use sipas::config::{MailSettings, MailTransport, Settings, SmtpTls};
use sipas::mail::digest::{self, Period};
use sipas::mail::{Mailer, outbox};

use crate::helpers::{TestApp, TestResult, spawn_app};

/// One received message: its envelope recipients and raw data.
#[derive(Debug, Clone)]
pub struct Received {
    pub rcpt: Vec<String>,
    pub data: String,
}

/// A minimal SMTP server: enough of RFC 5321 for a client to deliver messages.
pub struct Sink {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    inbox: Arc<Mutex<Vec<Received>>>,
    /// Messages whose data has started to arrive (accepted or not yet).
    pub started: Arc<AtomicUsize>,
}

/// How the sink answers.
#[derive(Clone)]
struct Behaviour {
    /// Waits this long after a message's data before accepting it (a slow server).
    accept_delay: std::time::Duration,
    started: Arc<AtomicUsize>,
    /// Recipients refused for good, with a reply that names them as real servers do.
    refused: Vec<String>,
}

fn serve(
    mut stream: TcpStream,
    inbox: &Mutex<Vec<Received>>,
    behaviour: &Behaviour,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    stream.write_all(b"220 sink ESMTP\r\n")?;
    let mut rcpt = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            stream.write_all(b"250-sink\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("MAIL FROM") {
            rcpt.clear();
            stream.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO") {
            let to = line
                .trim()
                .trim_start_matches("RCPT TO:")
                .trim_matches(|c| c == '<' || c == '>')
                .to_owned();
            if behaviour.refused.contains(&to) {
                write!(
                    stream,
                    "550 5.1.1 <{to}>: Recipient address rejected: User unknown\r\n"
                )?;
                continue;
            }
            rcpt.push(to);
            stream.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("DATA") {
            stream.write_all(b"354 go on\r\n")?;
            behaviour.started.fetch_add(1, Ordering::SeqCst);
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            inbox
                .lock()
                .map_err(|e| std::io::Error::other(e.to_string()))?
                .push(Received {
                    rcpt: rcpt.clone(),
                    data,
                });
            std::thread::sleep(behaviour.accept_delay);
            stream.write_all(b"250 queued\r\n")?;
        } else if upper.starts_with("QUIT") {
            stream.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            stream.write_all(b"250 OK\r\n")?;
        }
    }
}

impl Sink {
    pub fn start(port: u16, inbox: Arc<Mutex<Vec<Received>>>) -> std::io::Result<Sink> {
        Sink::start_slow(port, inbox, std::time::Duration::ZERO)
    }

    /// A sink that refuses `refused` with a permanent error naming the address.
    pub fn start_refusing(refused: &[&str]) -> std::io::Result<Sink> {
        Sink::start_with(
            0,
            Arc::new(Mutex::new(Vec::new())),
            std::time::Duration::ZERO,
            refused.iter().map(|r| (*r).to_owned()).collect(),
        )
    }

    /// A sink that takes `accept_delay` to accept each message.
    pub fn start_slow(
        port: u16,
        inbox: Arc<Mutex<Vec<Received>>>,
        accept_delay: std::time::Duration,
    ) -> std::io::Result<Sink> {
        Sink::start_with(port, inbox, accept_delay, Vec::new())
    }

    fn start_with(
        port: u16,
        inbox: Arc<Mutex<Vec<Received>>>,
        accept_delay: std::time::Duration,
        refused: Vec<String>,
    ) -> std::io::Result<Sink> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicUsize::new(0));
        let behaviour = Behaviour {
            accept_delay,
            started: started.clone(),
            refused,
        };
        let (flag, messages) = (stop.clone(), inbox.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = stream {
                    let _ = serve(s, &messages, &behaviour);
                }
            }
        });
        Ok(Sink {
            port,
            stop,
            thread: Some(thread),
            inbox,
            started,
        })
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.inbox.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

pub fn mail_settings(port: u16) -> MailSettings {
    MailSettings {
        transport: MailTransport::Smtp,
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        smtp_tls: SmtpTls::None,
        from: "SIPAS <khaosat@test.vn>".into(),
        reform_office: vec!["office@test.vn".into()],
        ..MailSettings::default()
    }
}

/// Twelve responses for T-SO last month (one with a personal comment), two for T-XA, an agency
/// head for each.
async fn last_month(app: &TestApp) -> Result<(), Box<dyn std::error::Error>> {
    let window = Period::Monthly.window(today());
    let mut csv = String::from("agency_code,submitted_at,procedure_code,HL0,TC0,E6,E7,C1\n");
    for i in 0..12 {
        let comment = if i == 0 {
            "BÍ MẬT gọi 0912345678"
        } else {
            ""
        };
        csv.push_str(&format!(
            "T-SO,{},P-LLTP,{},4,1,1,{comment}\n",
            window.from + Duration::days(i % 7),
            if i < 10 { 5 } else { 2 }
        ));
    }
    csv.push_str(&format!(
        "T-XA,{},,5,5,1,1,\nT-XA,{},,4,4,1,1,\n",
        window.from, window.to
    ));
    app.import_responses(&csv)?;
    let mut conn = app.conn()?;
    let now = Utc::now().naive_utc();
    sipas::accounts::users::create(
        &mut conn,
        "head.so@test.vn",
        "agency_head",
        Some("T-SO"),
        "a-long-test-password",
        now,
    )?;
    sipas::accounts::users::create(
        &mut conn,
        "head.xa@test.vn",
        "agency_head",
        Some("T-XA"),
        "a-long-test-password",
        now,
    )?;
    Ok(())
}

fn today() -> chrono::NaiveDate {
    sipas::clock::today()
}

fn settings_for(app: &TestApp, port: u16) -> Result<Settings, Box<dyn std::error::Error>> {
    let mut s = Settings::load(None, Vec::new())?;
    s.database.url = app.db.url.clone();
    s.server.public_url = "https://khaosat.test".into();
    s.mail = mail_settings(port);
    Ok(s)
}

/// Runs `round` on a thread of its own while this one holds the writers' turn (SQLite; unmarked,
/// so that `turn_wanted` sees only the round): nothing may reach `sink` before the round waits
/// for the turn. Then lets the turn go and returns what the round returned.
pub fn behind_the_turn<T: Send + 'static>(
    database: &sipas::db::Database,
    sink: &Sink,
    round: impl FnOnce(sipas::db::Database) -> T + Send + 'static,
) -> Result<T, Box<dyn std::error::Error>> {
    let shared = database.turn();
    let turn = shared.as_ref().map(|t| t.take_unmarked());
    let worker = {
        let database = database.clone();
        std::thread::spawn(move || round(database))
    };
    if turn.is_some() {
        until_a_writer_waits(database, &worker);
        assert_eq!(
            sink.messages().len(),
            0,
            "sent while another writer had the turn"
        );
    }
    drop(turn);
    worker.join().map_err(|_| "the round panicked".into())
}

/// Waits until a writer waits for `database`'s turn (which the caller holds, unmarked): the
/// thread `worker`, nothing else writing. Fails if the worker ends first or after 30 s.
fn until_a_writer_waits<T>(database: &sipas::db::Database, worker: &std::thread::JoinHandle<T>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while database.turn_wanted() != Some(true) {
        assert!(
            !worker.is_finished(),
            "the worker ended without waiting for the turn"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no writer waited for the turn"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The delivery round writes in the writers' turn on SQLite (see
/// `outreach::a_citizen_message_round_writes_only_in_the_writers_turn`).
#[tokio::test]
async fn a_mail_round_writes_only_in_the_writers_turn() -> TestResult {
    let app = spawn_app().await?;
    last_month(&app).await?;
    let sink = Sink::start(0, Arc::new(Mutex::new(Vec::new())))?;
    let settings = settings_for(&app, sink.port)?;
    let mailer = Mailer::new(&settings.mail)?;
    let now = Utc::now().naive_utc();
    let queued = digest::queue(
        &app.database,
        &settings,
        Period::Monthly,
        None,
        today(),
        now,
    )?;
    assert!(queued > 0);
    let done = behind_the_turn(&app.database, &sink, move |database| {
        outbox::deliver_due(&database, &mailer, 6, || now)
    })??;
    assert_eq!(done.sent, queued);
    assert_eq!(sink.messages().len(), queued);
    sink.stop();
    Ok(())
}

#[tokio::test]
async fn monthly_digests_arrive_once_with_both_parts_and_no_free_text() -> TestResult {
    let app = spawn_app().await?;
    last_month(&app).await?;
    let sink = Sink::start(0, Arc::new(Mutex::new(Vec::new())))?;
    let settings = settings_for(&app, sink.port)?;
    let mailer = Mailer::new(&settings.mail)?;
    let now = Utc::now().naive_utc();
    assert_eq!(
        digest::queue(
            &app.database,
            &settings,
            Period::Monthly,
            None,
            today(),
            now
        )?,
        3
    );
    assert_eq!(
        digest::queue(
            &app.database,
            &settings,
            Period::Monthly,
            None,
            today(),
            now
        )?,
        0,
        "queued once per period"
    );
    let round = outbox::deliver_due(&app.database, &mailer, 6, || Utc::now().naive_utc())?;
    assert_eq!(round.sent, 3);
    let messages = sink.messages();
    let to = |who: &str| {
        messages
            .iter()
            .find(|m| m.rcpt.iter().any(|r| r == who))
            .cloned()
    };
    let head = to("head.so@test.vn").ok_or("the head of T-SO got a digest")?;
    assert!(
        head.data.contains("multipart/alternative")
            && head.data.contains("text/plain")
            && head.data.contains("text/html")
    );
    let text = decoded(&head.data);
    assert!(text.contains("Số phiếu trả lời: 12"), "{text}");
    assert!(
        text.contains("Chỉ số SIPAS: 83,3%"),
        "10 of 12 satisfied: {text}"
    );
    assert!(text.contains("https://khaosat.test/admin/agencies/T-SO"));
    assert!(
        !text.contains("BÍ MẬT") && !text.contains("0912345678"),
        "no free text in a digest"
    );
    // T-XA had 2 responses: no numbers at all.
    let small = decoded(&to("head.xa@test.vn").ok_or("T-XA digest")?.data);
    assert!(
        small.contains("có dưới 5 phiếu trả lời") && !small.contains("Chỉ số SIPAS:"),
        "{small}"
    );
    let office = decoded(&to("office@test.vn").ok_or("the reform office digest")?.data);
    assert!(office.contains("Tổng hợp khảo sát") && office.contains("Số phiếu trả lời: 14"));
    // Nothing more to send.
    assert_eq!(
        outbox::deliver_due(&app.database, &mailer, 6, || Utc::now().naive_utc())?.sent,
        0
    );
    assert_eq!(sink.messages().len(), 3);
    sink.stop();
    Ok(())
}

/// The message text with quoted-printable and base64 parts decoded enough to search.
pub fn decoded(data: &str) -> String {
    use base64::Engine;
    let mut out = String::new();
    let mut in_base64 = false;
    for part in data.split("\r\n\r\n") {
        if in_base64 {
            let joined: String = part.lines().take_while(|l| !l.starts_with("--")).collect();
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(joined.trim()) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        in_base64 = part
            .to_ascii_lowercase()
            .contains("content-transfer-encoding: base64");
        if !in_base64 {
            out.push_str(&quoted_printable(part));
        }
    }
    out
}

fn quoted_printable(s: &str) -> String {
    let soft = s.replace("=\r\n", "");
    let bytes = soft.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&soft[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn an_smtp_outage_loses_and_duplicates_nothing() -> TestResult {
    let app = spawn_app().await?;
    last_month(&app).await?;
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink::start(0, inbox.clone())?;
    let port = sink.port;
    sink.stop();
    let settings = settings_for(&app, port)?;
    let mailer = Mailer::new(&settings.mail)?;
    let now = Utc::now().naive_utc();
    digest::queue(
        &app.database,
        &settings,
        Period::Monthly,
        None,
        today(),
        now,
    )?;
    let down = outbox::deliver_due(&app.database, &mailer, 6, || now)?;
    assert_eq!((down.sent, down.retrying), (0, 3), "all kept for a retry");
    assert_eq!(
        outbox::deliver_due(&app.database, &mailer, 6, || now)?.sent,
        0,
        "not before the backoff"
    );
    // The server comes back; after the backoff everything goes, once.
    let sink = Sink::start(port, inbox)?;
    let later = now + Duration::minutes(10);
    assert_eq!(
        outbox::deliver_due(&app.database, &mailer, 6, || later)?.sent,
        3
    );
    assert_eq!(
        outbox::deliver_due(&app.database, &mailer, 6, || later + Duration::hours(1))?.sent,
        0
    );
    assert_eq!(sink.messages().len(), 3);
    sink.stop();
    Ok(())
}

/// The Message-ID header of a received message.
pub fn message_id(data: &str) -> Option<String> {
    data.lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .map(|v| v.trim().to_owned())
}

/// The Message-IDs stored in the outbox, by row id.
fn stored_ids(app: &TestApp) -> Result<Vec<(i64, String)>, Box<dyn std::error::Error>> {
    use diesel::prelude::*;
    use sipas::db::schema::outbox;
    let mut conn = app.conn()?;
    Ok(outbox::table
        .select((outbox::id, outbox::message_id))
        .order(outbox::id)
        .load(&mut *conn)?)
}

#[tokio::test]
async fn message_ids_are_unique_everywhere_and_kept_through_retries_and_resends() -> TestResult {
    // Two installations (or one and its restored backup) number their outbox rows alike.
    let (first, second) = (spawn_app().await?, spawn_app().await?);
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink::start(0, inbox.clone())?;
    let port = sink.port;
    sink.stop();
    let mut ids = Vec::new();
    for app in [&first, &second] {
        last_month(app).await?;
        let settings = settings_for(app, port)?;
        digest::queue(
            &app.database,
            &settings,
            Period::Monthly,
            None,
            today(),
            Utc::now().naive_utc(),
        )?;
        ids.push(stored_ids(app)?);
    }
    assert_eq!(
        ids[0].iter().map(|r| r.0).collect::<Vec<_>>(),
        ids[1].iter().map(|r| r.0).collect::<Vec<_>>(),
        "the same row numbers"
    );
    let all: std::collections::BTreeSet<&String> = ids.iter().flatten().map(|r| &r.1).collect();
    assert_eq!(all.len(), ids[0].len() * 2, "but never the same Message-ID");
    for id in &all {
        let random = id
            .strip_prefix('<')
            .and_then(|r| r.strip_suffix("@test.vn>"))
            .ok_or(format!("{id} names the sender's domain"))?;
        assert!(random.len() == 32 && random.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    // SMTP is down: every message waits for a retry, its Message-ID unchanged.
    let settings = settings_for(&first, port)?;
    let mailer = Mailer::new(&settings.mail)?;
    let mut conn = first.conn()?;
    let now = Utc::now().naive_utc();
    assert_eq!(
        outbox::deliver_due(&first.database, &mailer, 6, || now)?.retrying,
        3
    );
    assert_eq!(stored_ids(&first)?, ids[0], "a failed attempt keeps the id");
    let sink = Sink::start(port, inbox)?;
    let later = now + Duration::minutes(10);
    assert_eq!(
        outbox::deliver_due(&first.database, &mailer, 6, || later)?.sent,
        3
    );
    let received: Vec<String> = sink
        .messages()
        .iter()
        .filter_map(|m| message_id(&m.data))
        .collect();
    let mut expected: Vec<String> = ids[0].iter().map(|r| r.1.clone()).collect();
    let mut got = received.clone();
    expected.sort();
    got.sort();
    assert_eq!(
        got, expected,
        "each message carries the id it was queued with"
    );
    // A worker that died after the server accepted a message but before recording it: the row
    // is still claimed ("sending") and is sent again once the claim expires — with the same id.
    {
        use diesel::prelude::*;
        use sipas::db::schema::outbox as table;
        diesel::update(table::table.find(ids[0][0].0))
            .set((
                table::status.eq("sending"),
                table::next_attempt_at.eq(later + Duration::minutes(outbox::CLAIM)),
            ))
            .execute(&mut *conn)?;
    }
    let after_claim = later + Duration::minutes(outbox::CLAIM + 1);
    assert_eq!(
        outbox::deliver_due(&first.database, &mailer, 6, || after_claim)?.sent,
        1
    );
    let resent = sink
        .messages()
        .last()
        .and_then(|m| message_id(&m.data))
        .ok_or("the resent message")?;
    assert_eq!(
        resent, ids[0][0].1,
        "a resend is recognisable as the same message"
    );
    sink.stop();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_deliver_each_message_once() -> TestResult {
    let app = spawn_app().await?;
    last_month(&app).await?;
    let sink = Sink::start(0, Arc::new(Mutex::new(Vec::new())))?;
    let settings = settings_for(&app, sink.port)?;
    let mailer = Mailer::new(&settings.mail)?;
    for _ in 0..2 {
        digest::queue(
            &app.database,
            &settings,
            Period::Monthly,
            None,
            today(),
            Utc::now().naive_utc(),
        )?;
    }
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (database, mailer) = (app.database.clone(), mailer.clone());
            std::thread::spawn(move || -> Result<usize, String> {
                outbox::deliver_due(&database, &mailer, 6, || Utc::now().naive_utc())
                    .map(|r| r.sent)
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut sent = 0;
    for w in workers {
        sent += w.join().map_err(|_| "worker panicked")??;
    }
    let queued = app.count("outbox")? as usize;
    assert_eq!(sent, queued);
    assert_eq!(
        sink.messages().len(),
        queued,
        "each message delivered exactly once"
    );
    sink.stop();
    Ok(())
}

#[tokio::test]
async fn a_report_of_money_asked_alerts_the_reform_office_once_per_hour() -> TestResult {
    let out = tempfile::tempdir()?;
    let dir = out.path().to_owned();
    let app = crate::helpers::spawn_app_with(move |s| {
        s.mail = MailSettings {
            transport: MailTransport::File,
            file_dir: dir,
            alert_agency_heads: true,
            ..mail_settings(25)
        };
    })
    .await?;
    {
        let mut conn = app.conn()?;
        let now = Utc::now().naive_utc();
        sipas::accounts::users::create(
            &mut conn,
            "head.so@test.vn",
            "agency_head",
            Some("T-SO"),
            "a-long-test-password",
            now,
        )?;
    }
    let mut answers: Vec<(&str, &str)> = crate::helpers::SHORT_FORM
        .iter()
        .copied()
        .filter(|(k, _)| *k != "E7")
        .collect();
    answers.push(("E7", "3"));
    for i in 0..3 {
        let token = app.invite(&format!("MONEY-{i}"), false).await?;
        assert_eq!(
            app.post_form(&format!("/s/{token}"), &answers)
                .await?
                .status()
                .as_u16(),
            303
        );
    }
    assert_eq!(
        app.count("outbox WHERE kind = 'alert' AND recipient = 'office@test.vn'")?,
        1,
        "a burst sends one alert"
    );
    assert_eq!(
        app.count("outbox WHERE kind = 'alert' AND recipient = 'head.so@test.vn'")?,
        1,
        "and to the agency's head"
    );
    // The server's mail thread delivers them to the file transport.
    for _ in 0..200 {
        if std::fs::read_dir(out.path())?.count() > 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let files: Vec<_> = std::fs::read_dir(out.path())?.collect::<Result<_, _>>()?;
    assert_eq!(files.len(), 2, "one .eml per recipient");
    let all: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
        .collect();
    assert!(all.contains("office@test.vn") && all.contains("head.so@test.vn"));
    Ok(())
}

#[tokio::test]
async fn unsubscribed_addresses_and_extra_recipients_are_honoured() -> TestResult {
    let app = spawn_app().await?;
    last_month(&app).await?;
    let settings = settings_for(&app, 25)?;
    let mut conn = app.conn()?;
    let now = Utc::now().naive_utc();
    let so: i64 = {
        use diesel::prelude::*;
        use sipas::db::schema::agencies;
        agencies::table
            .filter(agencies::code.eq("T-SO"))
            .select(agencies::id)
            .first(&mut *conn)?
    };
    sipas::mail::recipients::add(&mut conn, "head.xa@test.vn", None, false, now)?;
    sipas::mail::recipients::add(&mut conn, "deputy.so@test.vn", Some(so), true, now)?;
    let emails = digest::compose(&mut conn, &settings, Period::Monthly, None, today())?;
    let to: Vec<&str> = emails.iter().map(|(e, _, _)| e.to.as_str()).collect();
    assert!(!to.contains(&"head.xa@test.vn"), "unsubscribed");
    assert!(
        to.contains(&"deputy.so@test.vn")
            && to.contains(&"head.so@test.vn")
            && to.contains(&"office@test.vn")
    );
    let one = digest::compose(&mut conn, &settings, Period::Monthly, Some("T-SO"), today())?;
    assert_eq!(
        one.len(),
        2,
        "--agency T-SO: its head and its extra recipient only"
    );
    Ok(())
}

#[tokio::test]
async fn sipas_digest_send_delivers_through_smtp_from_the_command_line() -> TestResult {
    let app = spawn_app().await?;
    last_month(&app).await?;
    let sink = Sink::start(0, Arc::new(Mutex::new(Vec::new())))?;
    let dir = tempfile::tempdir()?;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
            .args(args)
            .env("SIPAS_DATABASE_URL", &app.db.url)
            .env(
                "SIPAS_SECURITY_SECRET_KEY",
                "digest-test-secret-digest-test-secret",
            )
            .env("SIPAS_SERVER_PUBLIC_URL", "https://khaosat.test")
            .env("SIPAS_MAIL_TRANSPORT", "smtp")
            .env("SIPAS_MAIL_SMTP_HOST", "127.0.0.1")
            .env("SIPAS_MAIL_SMTP_PORT", sink.port.to_string())
            .env("SIPAS_MAIL_SMTP_TLS", "none")
            .env("SIPAS_MAIL_FROM", "SIPAS <khaosat@test.vn>")
            .env("SIPAS_MAIL_REFORM_OFFICE", "office@test.vn, cchc@test.vn")
            .current_dir(dir.path())
            .output()
    };
    let dry = run(&["digest", "send", "--period", "monthly", "--dry-run"])?;
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(String::from_utf8(dry.stdout)?.contains("To: head.so@test.vn"));
    assert!(sink.messages().is_empty(), "a dry run sends nothing");
    let sent = run(&["digest", "send", "--period", "monthly"])?;
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(String::from_utf8(sent.stdout)?.contains("4 digest(s) queued; sent 4"));
    let again = run(&["digest", "send", "--period", "monthly"])?;
    assert!(
        String::from_utf8(again.stdout)?.contains("0 digest(s) queued; sent 0"),
        "never twice"
    );
    assert_eq!(sink.messages().len(), 4);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(["digest", "send", "--period", "monthly"])
        .env("SIPAS_DATABASE_URL", &app.db.url)
        .env("SIPAS_MAIL_TRANSPORT", "smtp")
        .env("SIPAS_MAIL_FROM", "not an address")
        .current_dir(dir.path())
        .output()?;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("[mail] from"));
    sink.stop();
    Ok(())
}

#[tokio::test]
async fn a_head_who_prefers_english_gets_the_digest_in_english() -> TestResult {
    let app = spawn_app().await?;
    last_month(&app).await?;
    let settings = settings_for(&app, 25)?;
    let mut conn = app.conn()?;
    let head =
        sipas::accounts::users::find_by_email(&mut conn, "head.so@test.vn")?.ok_or("head")?;
    sipas::accounts::users::set_lang(&mut conn, head.id, sipas::domain::Lang::En)?;
    let emails = digest::compose(&mut conn, &settings, Period::Monthly, Some("T-SO"), today())?;
    let english = emails
        .iter()
        .find(|(e, _, _)| e.to == "head.so@test.vn")
        .map(|(e, _, _)| e.clone())
        .ok_or("digest")?;
    assert!(
        english.subject.contains("satisfaction index 83.3%"),
        "{}",
        english.subject
    );
    assert!(
        english.text.contains("Dear head of Sở Tư pháp")
            && english.text.contains("Responses: 12")
            && english.text.contains("95% CI")
    );
    assert!(english.html.contains("<html lang=\"en\">"));
    Ok(())
}

#[tokio::test]
async fn agency_heads_get_no_weekly_figures() -> TestResult {
    let app = spawn_app().await?;
    last_month(&app).await?;
    let settings = settings_for(&app, 25)?;
    let mut conn = app.conn()?;
    // Weeks overlap months: a week's figures subtracted from the month's would isolate a few
    // respondents, so heads get the monthly digest only; the reform office gets both.
    let today = Period::Monthly.window(today()).to + Duration::days(8);
    let weekly = digest::compose(&mut conn, &settings, Period::Weekly, None, today)?;
    assert!(
        weekly
            .iter()
            .all(|(e, kind, _)| *kind == "digest_office" && !e.to.starts_with("head."))
    );
    let monthly = digest::compose(&mut conn, &settings, Period::Monthly, None, today)?;
    assert!(monthly.iter().any(|(e, _, _)| e.to == "head.so@test.vn"));
    Ok(())
}
