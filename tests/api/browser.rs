//! A real phone-sized Chromium answers a survey by clicking, through chromedriver (WebDriver), and
//! the dashboard is checked at desktop and phone sizes, with axe-core run inside each page.
//! Needs Debian's `chromium` and `chromium-driver`, and npm once to fetch axe-core
//! (`scripts/fetch-axe.sh`; `.ci/run` installs all three).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use serde_json::{Value, json};
use sipas::db::schema::responses;

use crate::helpers::{TestResult, spawn_app};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// WebDriver key codes.
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// Runs axe-core (every rule of its default set: WCAG 2.x A and AA and best practices) on the
/// whole page; calls back with the violations as JSON.
const AXE_RUN: &str = "const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
  .then(r => done(JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(' ') + ' ' + n.failureSummary)})))))
  .catch(e => done(JSON.stringify([{id: 'axe-error', impact: 'error', help: String(e), nodes: []}])));";

/// axe-core's source, fetched from npm once by `scripts/fetch-axe.sh` (or the file named by
/// `AXE_CORE_JS`).
fn axe_source() -> Result<String, Box<dyn std::error::Error>> {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(s) = SOURCE.get() {
        return Ok(s.clone());
    }
    let path = match std::env::var("AXE_CORE_JS") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/fetch-axe.sh");
            let out = Command::new(script).stderr(Stdio::inherit()).output()?;
            if !out.status.success() {
                return Err(
                    "scripts/fetch-axe.sh failed: axe-core is needed (npm install once)".into(),
                );
            }
            String::from_utf8(out.stdout)?.trim().to_owned()
        }
    };
    let source = std::fs::read_to_string(&path)?;
    Ok(SOURCE.get_or_init(|| source).clone())
}

struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

fn find_program(env: &str, candidates: &[&str]) -> Option<String> {
    if let Ok(p) = std::env::var(env) {
        return Some(p);
    }
    candidates
        .iter()
        .find(|c| std::path::Path::new(c).exists())
        .map(|c| c.to_string())
}

impl Driver {
    async fn start() -> Result<Driver, Box<dyn std::error::Error>> {
        let program = find_program("CHROMEDRIVER", &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
            .ok_or("chromedriver not found: apt-get install chromium chromium-driver (or set CHROMEDRIVER)")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        for _ in 0..100 {
            if let Ok(r) = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(driver);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("chromedriver did not start".into())
    }

    /// A browser whose viewport is `width` × `height` CSS pixels: a phone (touch, twice as many
    /// device pixels) or a desktop screen.
    async fn session(
        &self,
        width: u32,
        height: u32,
        phone: bool,
    ) -> Result<Session<'_>, Box<dyn std::error::Error>> {
        let chromium = find_program(
            "CHROMIUM",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        )
        .ok_or("chromium not found: apt-get install chromium")?;
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--disable-quic", "--lang=vi"],
            "prefs": {"intl.accept_languages": "vi-VN,vi"},
            "mobileEmulation": {"deviceMetrics": {"width": width, "height": height,
                "pixelRatio": if phone { 2.0 } else { 1.0 }, "touch": phone, "mobile": phone}}
        }}}});
        let v: Value = self
            .http
            .post(format!("{}/session", self.base))
            .json(&caps)
            .send()
            .await?
            .json()
            .await?;
        let id = v["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session: {v}"))?
            .to_owned();
        Ok(Session { driver: self, id })
    }
}

impl Session<'_> {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, Box<dyn std::error::Error>> {
        let url = format!("{}/session/{}{path}", self.driver.base, self.id);
        let mut request = self.driver.http.request(method, url);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let v: Value = response.json().await?;
        if !status.is_success() {
            return Err(format!("webdriver {path}: {v}").into());
        }
        Ok(v["value"].clone())
    }

    async fn go(&self, url: &str) -> Result<(), Box<dyn std::error::Error>> {
        self.call(reqwest::Method::POST, "/url", json!({"url": url}))
            .await
            .map(|_| ())
    }

    async fn find(&self, css: &str) -> Result<String, Box<dyn std::error::Error>> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await?;
        Ok(v[ELEMENT].as_str().ok_or("no element id")?.to_owned())
    }

    async fn click(&self, css: &str) -> Result<(), Box<dyn std::error::Error>> {
        let id = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await
        .map(|_| ())
    }

    async fn type_into(&self, css: &str, text: &str) -> Result<(), Box<dyn std::error::Error>> {
        let id = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await
        .map(|_| ())
    }

    async fn script(&self, js: &str) -> Result<Value, Box<dyn std::error::Error>> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": js, "args": []}),
        )
        .await
    }

    /// Runs axe-core in the current page (injected through `execute/sync`) and returns its
    /// violations, one line each: rule, impact, help and the elements concerned.
    async fn axe(&self) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let loaded = self
            .script(&format!("{}\n;return typeof axe;", axe_source()?))
            .await?;
        assert_eq!(loaded.as_str(), Some("object"), "axe-core loaded");
        let found = self
            .call(
                reqwest::Method::POST,
                "/execute/async",
                json!({"script": AXE_RUN, "args": []}),
            )
            .await?;
        let found: Vec<Value> = serde_json::from_str(found.as_str().ok_or("axe: no result")?)?;
        Ok(found
            .iter()
            .map(|v| {
                format!(
                    "{} ({}): {} — {}",
                    v["id"].as_str().unwrap_or("?"),
                    v["impact"].as_str().unwrap_or("?"),
                    v["help"].as_str().unwrap_or("?"),
                    v["nodes"]
                )
            })
            .collect())
    }

    /// Presses `key` (a WebDriver key code such as [`TAB`]) once.
    async fn press(&self, key: &str) -> TestResult {
        let event = |kind: &str| json!({"type": kind, "value": key});
        self.call(
            reqwest::Method::POST,
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": [event("keyDown"), event("keyUp")]}]}),
        )
        .await
        .map(|_| ())
    }

    async fn screenshot(&self, name: &str) -> Result<(), Box<dyn std::error::Error>> {
        use base64::Engine;
        let v = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await?;
        let png =
            base64::engine::general_purpose::STANDARD.decode(v.as_str().ok_or("no screenshot")?)?;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), png)?;
        Ok(())
    }

    async fn close(self) -> Result<(), Box<dyn std::error::Error>> {
        self.call(reqwest::Method::DELETE, "", json!({}))
            .await
            .map(|_| ())
    }
}

#[tokio::test]
async fn a_citizen_answers_on_a_phone_by_clicking() -> TestResult {
    let app = spawn_app().await?;
    let token = app.invite("HS-PHONE", true).await?;
    let driver = Driver::start().await?;
    let session = driver.session(360, 740, true).await?;
    session.go(&app.url(&format!("/s/{token}"))).await?;
    let width = session
        .script("return document.documentElement.scrollWidth")
        .await?;
    assert!(
        width.as_u64().is_some_and(|w| w <= 360),
        "no sideways scrolling at 360 px: {width}"
    );
    session.screenshot("survey-phone-top.png").await?;
    for (item, option) in [
        ("TC0", "5"),
        ("TT0", "4"),
        ("CC0", "4"),
        ("KQ0", "4"),
        ("PA0", "na"),
        ("HL0", "4"),
        ("E1", "2"),
        ("E2", "1"),
        ("E4", "2"),
        ("E5", "1"),
        ("E6", "1"),
        ("E7", "1"),
    ] {
        // Tap the option's label, as a thumb would.
        session
            .click(&format!(
                "label.opt:has(input[name='{item}'][value='{option}'])"
            ))
            .await?;
    }
    session
        .type_into("#f-C1", "Cán bộ hướng dẫn tận tình.")
        .await?;
    session.screenshot("survey-phone-answered.png").await?;
    session.click("button[type=submit]").await?;
    let mut heading = Value::Null;
    for _ in 0..50 {
        heading = session
            .script("return document.querySelector('h1').textContent")
            .await?;
        if heading.as_str().is_some_and(|h| h.contains("Cảm ơn")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        heading.as_str().is_some_and(|h| h.contains("Cảm ơn")),
        "{heading}"
    );
    session.screenshot("survey-phone-thanks.png").await?;
    session.close().await?;

    let mut conn = app.conn()?;
    let stored: (Option<i32>, Option<i32>, Option<i32>, Option<String>) = responses::table
        .select((
            responses::hl0,
            responses::pa0,
            responses::e5,
            responses::comment,
        ))
        .first(&mut *conn)?;
    assert_eq!(
        stored,
        (
            Some(4),
            Some(0),
            Some(1),
            Some("Cán bộ hướng dẫn tận tình.".to_owned())
        )
    );
    Ok(())
}

/// A server process that is stopped when dropped, even when the test fails half-way.
struct DemoServer(Child);

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sipas serve --demo` (the demo province) with an admin and an agency head.
async fn demo_server(
    dir: &std::path::Path,
) -> Result<(DemoServer, String), Box<dyn std::error::Error>> {
    let db = dir.join("demo.db").display().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let command = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sipas"));
        c.args(args)
            .env("SIPAS_DATABASE_URL", &db)
            .env(
                "SIPAS_SECURITY_SECRET_KEY",
                "browser-test-secret-browser-test-secret",
            )
            .env("SIPAS_SERVER_BIND", format!("127.0.0.1:{port}"))
            .env("SIPAS_SERVER_PUBLIC_URL", &base)
            .env("SIPAS_USER_PASSWORD", "demo-password-123")
            .env("RUST_LOG", "warn")
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let server = DemoServer(command(&["serve", "--demo"]).spawn()?);
    let http = reqwest::Client::new();
    for _ in 0..1200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        command(&[
            "user",
            "add",
            "--email",
            "admin@tn.gov.vn",
            "--role",
            "admin"
        ])
        .status()?
        .success()
    );
    assert!(
        command(&[
            "user",
            "add",
            "--email",
            "head@tn.gov.vn",
            "--role",
            "agency_head",
            "--agency",
            "TN-SNNMT"
        ])
        .status()?
        .success()
    );
    // One monitoring sweep, so that the cases page has cases (the server's own first sweep
    // comes 30 s after start-up).
    assert!(command(&["monitor", "run"]).status()?.success());
    Ok((server, base))
}

async fn sign_in(session: &Session<'_>, base: &str, email: &str) -> TestResult {
    session.go(&format!("{base}/admin/login")).await?;
    session.type_into("#email", email).await?;
    session.type_into("#password", "demo-password-123").await?;
    session.click("button[type=submit]").await?;
    // Wait for the sign-in's redirect to land.
    for _ in 0..100 {
        let path = session.script("return location.pathname").await?;
        if path.as_str().is_some_and(|p| p != "/admin/login") {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("sign-in did not leave the sign-in page".into())
}

/// Runs axe-core on the page at `path` and fails on any violation.
async fn no_axe_violations(session: &Session<'_>, what: &str) -> TestResult {
    let violations = session.axe().await?;
    assert!(
        violations.is_empty(),
        "{what}: axe-core found {} violation(s):\n{}",
        violations.len(),
        violations.join("\n")
    );
    Ok(())
}

#[tokio::test]
async fn the_dashboard_on_a_desktop_and_a_phone() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (server, base) = demo_server(dir.path()).await?;
    let driver = Driver::start().await?;
    for (width, height, name) in [(1366, 768, "desktop"), (360, 740, "phone")] {
        let session = driver.session(width, height, name == "phone").await?;
        sign_in(&session, &base, "admin@tn.gov.vn").await?;
        let heading = session
            .script("return document.querySelector('h1').textContent")
            .await?;
        assert_eq!(heading.as_str(), Some("Tổng quan chỉ số hài lòng"));
        // The planted agencies head the list of agencies that need attention.
        let first = session
            .script(
                "const li = document.querySelector('ol.watch > li');
                 return {tier: li.querySelector('.tier').className,
                         href: li.querySelector('a').getAttribute('href'),
                         top: li.getBoundingClientRect().top,
                         bottom: li.getBoundingClientRect().bottom}",
            )
            .await?;
        assert!(
            first["tier"]
                .as_str()
                .is_some_and(|c| c.contains("flag-alarm")),
            "{first}"
        );
        let planted = ["TN-SNNMT", "TN-X-025", "TN-SXD", "TN-CN-PB"];
        assert!(
            first["href"].as_str().is_some_and(|h| planted
                .iter()
                .any(|p| h.starts_with(&format!("/admin/agencies/{p}?")))),
            "{first}"
        );
        if name == "desktop" {
            // Above the fold of a 1366 × 768 screen.
            assert!(
                first["top"].as_f64().is_some_and(|top| top < 768.0),
                "the first agency to watch starts within the first 768 px: {first}"
            );
            assert!(
                first["bottom"].as_f64().is_some_and(|b| b <= 768.0),
                "and is seen whole: {first}"
            );
        }
        let alarms = session
            .script("return [...document.querySelectorAll('ol.watch .flag-alarm')].length")
            .await?;
        assert!(alarms.as_u64().is_some_and(|n| n >= 4), "{alarms}");
        let overflow = session
            .script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
            .await?;
        assert_eq!(
            overflow,
            Value::Bool(true),
            "no sideways scrolling of the page at {width}px"
        );
        no_axe_violations(&session, &format!("overview at {width}px")).await?;
        session
            .screenshot(&format!("dashboard-overview-{name}.png"))
            .await?;
        // The first Tab reaches the skip link; Enter on it moves the focus to the content.
        session.press(TAB).await?;
        let focused = session
            .script("const e = document.activeElement; return e.className + ' ' + e.getAttribute('href') + ' ' + e.textContent")
            .await?;
        assert_eq!(
            focused.as_str(),
            Some("skip #main Bỏ qua đến nội dung chính")
        );
        session.press(ENTER).await?;
        let focused = session.script("return document.activeElement.id").await?;
        assert_eq!(focused.as_str(), Some("main"));
        // The funnel plots' tables, opened.
        session
            .script(
                "document.querySelectorAll('figure.chart details').forEach(d => d.open = true);
                 document.querySelector('figure.chart').scrollIntoView(); return 0",
            )
            .await?;
        no_axe_violations(&session, &format!("overview, tables open, at {width}px")).await?;
        session
            .screenshot(&format!("dashboard-funnel-{name}.png"))
            .await?;
        for (path, shot) in [
            ("/admin/agencies/TN-SNNMT", "agency"),
            ("/admin/agencies?sort=harassment", "agencies"),
            ("/admin/cases", "cases"),
            ("/admin/users", "users"),
        ] {
            session.go(&format!("{base}{path}")).await?;
            let overflow = session
                .script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
                .await?;
            assert_eq!(overflow, Value::Bool(true), "{path} at {width}px");
            no_axe_violations(&session, &format!("{path} at {width}px")).await?;
            session
                .screenshot(&format!("dashboard-{shot}-{name}.png"))
                .await?;
        }
        session.close().await?;
    }
    let head = driver.session(360, 740, true).await?;
    sign_in(&head, &base, "head@tn.gov.vn").await?;
    let title = head
        .script("return document.querySelector('h1').textContent")
        .await?;
    assert_eq!(title.as_str(), Some("Sở Nông nghiệp và Môi trường"));
    no_axe_violations(&head, "an agency head's page").await?;
    head.screenshot("dashboard-agency-head-phone.png").await?;
    head.close().await?;
    drop(server);
    Ok(())
}
