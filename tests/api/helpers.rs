//! `spawn_app()`: a fresh database, the real application on port 0, and typed helpers.

use std::sync::{Once, Weak};

use sipas::web::server::ServerHandle;
use sipas::web::state::AppState;

use diesel::prelude::*;
use sipas::config::Settings;
use sipas::db::{DbConn, DbPool};
use sipas::startup::Application;

static TRACING: Once = Once::new();

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A small catalog: one province, a department, a district with one commune.
pub const AGENCIES: &str = "code,name,level,province_code,parent_code
T-SO,Sở Tư pháp,tinh,TT,
T-HUYEN,UBND huyện Đại Từ,huyen,TT,
T-XA,UBND xã Hùng Sơn,xa,TT,T-HUYEN
O-SO,Sở Tư pháp tỉnh khác,tinh,OT,
";

pub const PROCEDURES: &str = "code,name,field,level
P-LLTP,Cấp Phiếu lý lịch tư pháp,Lý lịch tư pháp,tinh
P-KS,Đăng ký khai sinh,Hộ tịch,xa
P-DD,Đăng ký đất đai,Đất đai,huyen
";

/// A fresh database, dropped with the test (PostgreSQL) or deleted with its folder (SQLite).
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl TestDb {
    pub fn new() -> Result<TestDb, Box<dyn std::error::Error>> {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin) if !admin.trim().is_empty() => {
                let mut bytes = [0u8; 8];
                getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
                let name = format!(
                    "sipas_test_{}",
                    bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
                );
                let mut conn = PgConnection::establish(&admin)?;
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn)?;
                let url = match admin.rfind('/') {
                    Some(i) => format!("{}/{name}", &admin[..i]),
                    None => return Err("TEST_DATABASE_URL must end with /database".into()),
                };
                Ok(TestDb {
                    url,
                    _dir: None,
                    pg_admin: Some((admin, name)),
                })
            }
            _ => TestDb::new_sqlite(),
        }
    }

    /// A fresh SQLite database, whatever TEST_DATABASE_URL says.
    pub fn new_sqlite() -> Result<TestDb, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = dir.path().join("test.db").display().to_string();
        Ok(TestDb {
            url,
            _dir: Some(dir),
            pg_admin: None,
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_admin.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg_admin
            && let Ok(mut conn) = PgConnection::establish(admin)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn);
        }
    }
}

/// Settings for a test instance on `db`.
pub fn test_settings(
    db: &TestDb,
    key_dir: &std::path::Path,
) -> Result<Settings, Box<dyn std::error::Error>> {
    let mut settings = Settings::load(None, Vec::new())?;
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.public_url = "https://khaosat.test".into();
    settings.server.workers = 2;
    settings.database.url = db.url.clone();
    settings.database.pool_size = 4;
    settings.security.secret_key_file = key_dir.join("sipas.key");
    // Tests run the monitoring sweep themselves (`tests/api/monitor.rs`, `dashboard.rs`): a
    // scheduled one would write beside the test's own direct writes.
    settings.monitoring.sweep_minutes = 0;
    // Nor may a Monday or the 1st add scheduled digests to the mail a test counts; tests queue
    // digests themselves (`sipas digest send`, `digest::queue`).
    settings.mail.scheduled_digests = false;
    // Tests look at a page right after a change: reuse a report only while nothing changed.
    settings.dashboard.report_fresh_seconds = 0;
    // Test dossiers are returned on fixed days of January 2026 while the clock runs on: no age
    // limit on outreach, except where a test sets one (`outreach.rs`).
    settings.outreach.max_age_days = 0;
    Ok(settings)
}

pub struct TestApp {
    pub address: String,
    pub pool: DbPool,
    /// The application's database (its pool and, on SQLite, the writer's turn).
    pub database: sipas::db::Database,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub api_key: String,
    pub settings: Settings,
    server: Option<RunningServer>,
    /// More servers over the same database (several processes behind one load balancer).
    others: Vec<RunningServer>,
    _keys: tempfile::TempDir,
}

/// The server's own thread (with its own actix system), so that dropping a test stops it and
/// waits: no thread of a finished test may still use the database when the process exits
/// (libpq and OpenSSL tear down at exit under any thread still inside them).
struct RunningServer {
    handle: ServerHandle,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
    state: Weak<AppState>,
}

impl RunningServer {
    /// Builds the application on `settings` and runs it on its own thread.
    fn start(
        settings: Settings,
    ) -> Result<(String, sipas::db::Database, RunningServer), Box<dyn std::error::Error>> {
        let app = Application::build(settings)?;
        let database = app.db().clone();
        let address = format!("http://127.0.0.1:{}", app.port());
        let server = RunningServer {
            handle: app.handle(),
            state: app.state(),
            thread: std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(app.run_until_stopped())
            }),
        };
        Ok((address, database, server))
    }

    fn stop(self) {
        // The stop command is sent when `stop` is called; the thread ends once it is done.
        drop(self.handle.stop(true));
        let _ = self.thread.join();
        // Workers drop their copy of the state just after they report stopping.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.state.strong_count() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for server in self.others.drain(..) {
            server.stop();
        }
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

/// Starts the application on a fresh database with the small catalog and an API key for T-SO's
/// province (TT).
pub async fn spawn_app() -> Result<TestApp, Box<dyn std::error::Error>> {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with settings adjusted by `tweak`.
pub async fn spawn_app_with(
    tweak: impl FnOnce(&mut Settings),
) -> Result<TestApp, Box<dyn std::error::Error>> {
    TRACING.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            tracing_subscriber::fmt().with_env_filter("info").init();
        }
    });
    let db = TestDb::new()?;
    let keys = tempfile::tempdir()?;
    let mut settings = test_settings(&db, keys.path())?;
    tweak(&mut settings);
    let (address, database, server) = RunningServer::start(settings.clone())?;
    let pool = database.pool().clone();
    let api_key = {
        let mut conn: sipas::db::PooledConn = pool.get()?.into();
        sipas::catalog::import::import_agencies(&mut conn, AGENCIES.as_bytes())?;
        sipas::catalog::import::import_procedures(&mut conn, PROCEDURES.as_bytes())?;
        let key = sipas::apikeys::create(
            &mut conn,
            &sipas::apikeys::Owner::Province("TT".into()),
            now(),
        )?;
        key.as_str().to_owned()
    };
    // No idle keep-alive connections: a graceful stop would wait for them.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()?;
    Ok(TestApp {
        address,
        pool,
        database,
        client,
        db,
        api_key,
        settings,
        server: Some(server),
        others: Vec::new(),
        _keys: keys,
    })
}

/// The earliest day an imported response may have (the default setting).
pub fn import_earliest() -> chrono::NaiveDate {
    sipas::config::SurveySettings::default().import_earliest
}

/// Tomorrow in Vietnam.
pub fn tomorrow() -> chrono::NaiveDate {
    sipas::clock::today() + chrono::Duration::days(1)
}

pub fn now() -> chrono::NaiveDateTime {
    sipas::invitations::import::now()
}

/// A valid dossier report as JSON.
pub fn dossier(code: &str, agency: &str, late: bool) -> serde_json::Value {
    serde_json::json!({
        "dossier_code": code,
        "agency_code": agency,
        "procedure_code": "P-LLTP",
        "channel": "counter",
        "received_at": "2026-01-05T08:00:00+07:00",
        "due_at": if late { "2026-01-10" } else { "2026-01-20" },
        "returned_at": "2026-01-15T10:00:00+07:00",
    })
}

impl TestApp {
    /// Imports a responses CSV with the built-in questionnaire and the default earliest day.
    pub fn import_responses(&self, csv: &str) -> Result<u64, sipas::csvfile::ImportError> {
        let q = sipas::questionnaire::Questionnaire::built_in()
            .map_err(|e| sipas::csvfile::ImportError::Read(e.to_string()))?;
        sipas::responses::import::import_responses(
            &self.database,
            &q,
            import_earliest(),
            csv.as_bytes(),
            |_| {},
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Starts another server over the same database and secret; returns its base URL.
    pub fn another_server(&mut self) -> Result<String, Box<dyn std::error::Error>> {
        let (address, _, server) = RunningServer::start(self.settings.clone())?;
        self.others.push(server);
        Ok(address)
    }

    /// Stops the server and starts it again over the same database and settings (a restart:
    /// whatever it was doing in memory is gone).
    pub fn restart(&mut self) -> TestResult {
        if let Some(server) = self.server.take() {
            server.stop();
        }
        let (address, database, server) = RunningServer::start(self.settings.clone())?;
        self.address = address;
        self.pool = database.pool().clone();
        self.database = database;
        self.server = Some(server);
        Ok(())
    }

    /// Runs one monitoring sweep on the app's database, as the scheduler does (it is off in
    /// tests).
    pub fn sweep(&self) -> TestResult {
        let settings = Settings::load(None, Vec::new())?;
        let mut conn = self.conn()?;
        sipas::monitoring::sweep(
            &mut conn,
            &settings,
            sipas::clock::today(),
            sipas::clock::now(),
        )?;
        Ok(())
    }

    pub fn conn(&self) -> Result<sipas::db::PooledConn, Box<dyn std::error::Error>> {
        Ok(self.pool.get()?.into())
    }

    /// The first server's web state, while it runs.
    pub fn state(&self) -> Option<std::sync::Arc<AppState>> {
        self.server.as_ref().and_then(|s| s.state.upgrade())
    }

    pub async fn post_dossiers(
        &self,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.client
            .post(self.url("/api/v1/dossiers"))
            .bearer_auth(&self.api_key)
            .json(body)
            .send()
            .await
    }

    /// Reports one dossier and returns its survey token.
    pub async fn invite(
        &self,
        code: &str,
        late: bool,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let response = self.post_dossiers(&dossier(code, "T-SO", late)).await?;
        if !response.status().is_success() {
            return Err(format!(
                "invite failed: {} {}",
                response.status(),
                response.text().await?
            )
            .into());
        }
        let json: serde_json::Value = response.json().await?;
        let url = json["survey_url"].as_str().ok_or("no survey_url")?;
        Ok(url.rsplit('/').next().ok_or("bad url")?.to_owned())
    }

    pub async fn get_html(
        &self,
        path: &str,
    ) -> Result<(u16, scraper::Html), Box<dyn std::error::Error>> {
        let response = self.client.get(self.url(path)).send().await?;
        let status = response.status().as_u16();
        Ok((
            status,
            scraper::Html::parse_document(&response.text().await?),
        ))
    }

    pub async fn post_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<reqwest::Response, reqwest::Error> {
        let body = serde_urlencoded::to_string(fields).unwrap_or_default();
        self.client
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
    }

    pub fn count(&self, table: &str) -> Result<i64, Box<dyn std::error::Error>> {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.conn()?;
        let c: Count = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .get_result(&mut *conn as &mut DbConn)?;
        Ok(c.n)
    }

    /// Every table of the schema with its row count, by name.
    pub fn row_counts(&self) -> Result<Vec<(String, i64)>, Box<dyn std::error::Error>> {
        #[derive(QueryableByName)]
        struct Table {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let mut conn = self.conn()?;
        let list = match &mut *conn {
            DbConn::Sqlite(_) => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            }
            DbConn::Pg(_) => "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'",
        };
        let mut tables: Vec<Table> = diesel::sql_query(list).load(&mut *conn as &mut DbConn)?;
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        drop(conn);
        tables
            .into_iter()
            .map(|t| Ok((t.name.clone(), self.count(&format!("\"{}\"", t.name))?)))
            .collect()
    }
}

/// The answers of a complete short form, all satisfied.
pub const SHORT_FORM: [(&str, &str); 11] = [
    ("form", "short"),
    ("TC0", "5"),
    ("TT0", "4"),
    ("CC0", "4"),
    ("KQ0", "5"),
    ("PA0", "na"),
    ("HL0", "4"),
    ("E1", "2"),
    ("E2", "1"),
    ("E6", "1"),
    ("E7", "1"),
];

/// Selects elements of a parsed page.
pub fn select<'a>(html: &'a scraper::Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    match scraper::Selector::parse(css) {
        Ok(s) => html.select(&s).collect(),
        Err(_) => Vec::new(),
    }
}

/// The visible text of a parsed page.
pub fn text(html: &scraper::Html) -> String {
    html.root_element().text().collect::<Vec<_>>().join(" ")
}
