//! Typed configuration: defaults, then an optional TOML file, then `SIPAS_*` environment variables.
//!
//! Every key is documented here and in `sipas.example.toml`. An environment variable names a
//! section and a key: `SIPAS_DATABASE_URL` sets `[database] url`, `SIPAS_SURVEY_INVITATION_TTL_DAYS`
//! sets `[survey] invitation_ttl_days`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::outreach::Medium;

/// All settings of a sipas instance.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub survey: SurveySettings,
    pub walkin: WalkinSettings,
    pub security: SecuritySettings,
    pub dashboard: DashboardSettings,
    pub mail: MailSettings,
    pub monitoring: MonitoringSettings,
    pub outreach: OutreachSettings,
    pub sms: GatewaySettings,
    pub zalo: GatewaySettings,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address and port to listen on.
    pub bind: String,
    /// The public base URL citizens reach us at; survey links and QR codes are built from it.
    pub public_url: String,
    /// Worker threads (0 = one per CPU core).
    pub workers: usize,
    /// Largest accepted request body, in bytes (forms and API batches).
    pub max_body_bytes: usize,
    /// Seconds given to in-flight requests on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Seconds a client may take to send its request headers before it is dropped.
    pub client_request_timeout_secs: u64,
    /// Address and port of the metrics listener (`GET /metrics`, Prometheus format); empty = off.
    /// Keep it off the public network (loopback, or an address only the monitoring host reaches).
    pub metrics_bind: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".into(),
            public_url: "http://localhost:8080".into(),
            workers: 0,
            max_body_bytes: 2 * 1024 * 1024,
            shutdown_timeout_secs: 10,
            client_request_timeout_secs: 10,
            metrics_bind: String::new(),
        }
    }
}

/// `[database]`: where responses are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sipas.db` (a SQLite file, the default), `sqlite://PATH`, or `postgres://user@host/db`.
    pub url: String,
    /// Connections in the pool.
    pub pool_size: u32,
    /// Milliseconds to wait for a free pooled connection before answering 503.
    pub connect_timeout_ms: u64,
    /// Milliseconds a statement waits for a lock before failing with 503 (SQLite's busy timeout,
    /// PostgreSQL's `lock_timeout`).
    pub lock_timeout_ms: u64,
    /// SQLite only: `normal` (survives application crashes; the default) or `full` (also OS crashes).
    pub sqlite_synchronous: Synchronous,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sipas.db".into(),
            pool_size: 8,
            connect_timeout_ms: 5_000,
            lock_timeout_ms: 5_000,
            sqlite_synchronous: Synchronous::Normal,
        }
    }
}

/// SQLite's durability setting.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Normal,
    Full,
}

impl Synchronous {
    /// The PRAGMA value.
    pub fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// `[survey]`: invitations and the questionnaire.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurveySettings {
    /// Days an invitation stays valid after it is issued.
    pub invitation_ttl_days: u32,
    /// A questionnaire file to use instead of the built-in `sipas-2640-post`.
    pub questionnaire_file: Option<PathBuf>,
    /// The earliest `submitted_at` an imported response may have (`YYYY-MM-DD`); a later
    /// one than today (Vietnam) is refused too.
    pub import_earliest: NaiveDate,
    /// Where a citizen who was asked for money can report it, shown on the thank-you page after
    /// such an answer (e.g. the province's hotline and complaint page).
    pub complaint_route: String,
}

impl Default for SurveySettings {
    fn default() -> Self {
        SurveySettings {
            complaint_route: "Đường dây nóng của UBND tỉnh, hoặc Cổng Dịch vụ công quốc gia \
                              (dichvucong.gov.vn), mục Phản ánh kiến nghị"
                .to_owned(),
            invitation_ttl_days: 30,
            questionnaire_file: None,
            import_earliest: NaiveDate::from_ymd_opt(2015, 1, 1).unwrap_or_default(),
        }
    }
}

/// `[walkin]`: the per-agency QR poster channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalkinSettings {
    /// Responses accepted from one client address per agency within `window_minutes`.
    pub max_per_window: u32,
    /// The length of the rate-limit window, in minutes.
    pub window_minutes: u32,
}

impl Default for WalkinSettings {
    fn default() -> Self {
        WalkinSettings {
            max_per_window: 3,
            window_minutes: 60,
        }
    }
}

/// `[security]`: secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Secret (at least 32 characters) from which survey tokens are derived. When unset, a random
    /// secret is created once in `secret_key_file` and reused.
    pub secret_key: Option<String>,
    /// Where the generated secret is kept when `secret_key` is unset.
    pub secret_key_file: PathBuf,
    /// Requests for survey links that do not exist accepted from one client address within
    /// `link_miss_window_minutes`; beyond that its unknown links get 429 (token guessing).
    pub link_miss_limit: u32,
    pub link_miss_window_minutes: u32,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client for rate limits
    /// (e.g. `127.0.0.1` when nginx runs on the same host). Empty: the peer address is the client.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            secret_key: None,
            secret_key_file: "sipas.key".into(),
            link_miss_limit: 30,
            link_miss_window_minutes: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[dashboard]`: sign-in and sessions of the reform office's dashboard.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardSettings {
    /// Minutes without a request after which a session ends.
    pub session_idle_minutes: u32,
    /// Hours after sign-in after which a session ends whatever its use.
    pub session_absolute_hours: u32,
    /// Failed sign-ins for one account from one client address within `login_lockout_minutes`
    /// before that address may not try that account again until the window has passed. The
    /// account itself is never locked: its owner signs in from elsewhere.
    pub login_max_failures: u32,
    pub login_lockout_minutes: u32,
    /// Failed sign-ins from one client address (any accounts) within `login_lockout_minutes`
    /// before the address may not sign in until the window has passed (password spraying).
    pub login_address_max_failures: u32,
    /// Failed sign-ins of one account (from anywhere) within `login_lockout_minutes` after which
    /// the account is slowed down: one attempt per `login_slowdown_seconds`.
    pub login_account_slowdown_after: u32,
    pub login_slowdown_seconds: u32,
    /// Sign-in attempts per minute for the whole site, beyond which attempts are refused for
    /// the rest of the minute (bounds the password-hashing work an attacker can cause).
    pub login_global_per_minute: u32,
    /// Seconds a computed report (overview, agency list, agency pages) is shown again whatever
    /// responses arrive meanwhile; until five times as old it is still shown while a fresh one
    /// is computed in the background; while nothing changes it is reused for up to an hour. The
    /// scheduler computes the overview's default reports ahead every half of this. 0: recomputed
    /// after every new response (a reader of a large, busy province then waits for it).
    pub report_fresh_seconds: u32,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        DashboardSettings {
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            login_max_failures: 5,
            login_lockout_minutes: 15,
            login_address_max_failures: 30,
            login_account_slowdown_after: 10,
            login_slowdown_seconds: 15,
            login_global_per_minute: 600,
            report_fresh_seconds: 60,
        }
    }
}

/// `[monitoring]`: the scheduled sweep that turns flags into follow-up cases and alarm alerts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitoringSettings {
    /// Minutes between two sweeps (the first 30 s after start-up); 0 switches the sweep off (run
    /// `sipas monitor run` from cron instead).
    pub sweep_minutes: u32,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        MonitoringSettings { sweep_minutes: 60 }
    }
}

/// `[mail]`: digests and alerts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// `smtp` (a real server), `file` (writes `.eml` files to `file_dir`, for trying it out) or
    /// `none` (nothing is queued or sent).
    pub transport: MailTransport,
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `none`, `starttls` or `tls`.
    pub smtp_tls: SmtpTls,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    /// The sender, e.g. `SIPAS Thái Nguyên <khaosat@thainguyen.gov.vn>`; its domain also names
    /// every Message-ID (`mail::message_domain`).
    pub from: String,
    pub reply_to: Option<String>,
    /// Where the `file` transport writes messages.
    pub file_dir: PathBuf,
    /// The reform office's addresses (its weekly and monthly digests and every alert); an
    /// address that is a dashboard account reads its digest in the account's language.
    pub reform_office: Vec<String>,
    /// Also send immediate alerts to the heads of the agency concerned.
    pub alert_agency_heads: bool,
    /// Delivery attempts before a message is marked failed (retries back off exponentially).
    pub max_attempts: u32,
    /// Hour (0–23, Vietnam time) at which scheduled digests go out: weekly on Mondays, monthly on
    /// the 1st.
    pub send_hour: u32,
    /// Queue the weekly and monthly digests on schedule; off when cron runs `sipas digest send`
    /// instead (the outbox is still delivered).
    pub scheduled_digests: bool,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            transport: MailTransport::None,
            smtp_host: "localhost".into(),
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            from: "SIPAS <khaosat@localhost>".into(),
            reply_to: None,
            file_dir: "mail-out".into(),
            reform_office: Vec::new(),
            alert_agency_heads: false,
            max_attempts: 6,
            send_hour: 7,
            scheduled_digests: true,
        }
    }
}

/// `[outreach]`: the invitation and one reminder sent to a citizen whose dossier carried an email
/// address or a mobile number (`docs/outreach.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutreachSettings {
    /// The channels one message tries, in order (`zalo`, `sms`, `email`): a channel is used when
    /// it is configured (`[zalo] url`, `[sms] url`, `[mail] transport`) and the dossier carries
    /// the address it needs; the next one is tried when it refuses the message or gives up.
    pub channels: Vec<Medium>,
    /// Days after the invitation was delivered that the one reminder goes, if the link is still
    /// unused and valid then; 0: no reminder.
    pub reminder_days: u32,
    /// Days during which a citizen (by a keyed hash of their address) is invited at most once,
    /// whatever the agency; 0: no limit.
    pub fatigue_days: u32,
    /// A dossier returned more than this many days before it is reported gets its link but no
    /// message (a backfill of old dossiers must not message everyone); 0: no limit.
    pub max_age_days: u32,
    /// Delivery attempts on one channel before the next one is tried (retries back off
    /// exponentially: 1, 2, 4… minutes).
    pub max_attempts: u32,
    /// What one SMS part costs (in đồng), for the cost shown with the response rate.
    pub sms_cost: u64,
    /// Send SMS without Vietnamese diacritics (160 characters a part instead of 70; what most
    /// brand-name SMS contracts price and accept).
    pub sms_unaccented: bool,
}

impl Default for OutreachSettings {
    fn default() -> Self {
        OutreachSettings {
            channels: vec![Medium::Zalo, Medium::Sms, Medium::Email],
            reminder_days: 7,
            fatigue_days: 30,
            max_age_days: 14,
            max_attempts: 6,
            sms_cost: 0,
            sms_unaccented: true,
        }
    }
}

/// `[sms]` and `[zalo]`: an HTTP gateway that takes one message as a JSON POST.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySettings {
    /// The provider's endpoint; empty switches the channel off.
    pub url: String,
    /// The header carrying the credentials, as `Name: value` (`Authorization: Bearer …`, or
    /// Zalo's `access_token: …`); empty: none.
    pub auth_header: String,
    /// The JSON body. Placeholders in its strings are replaced: `{{id}}` (the message's own id,
    /// the same on every retry), `{{phone}}` (84…), `{{phone_local}}` (0…), `{{text}}`,
    /// `{{link}}`, `{{token}}`, `{{agency}}`, `{{procedure}}`, `{{expires}}` (dd/mm/yyyy), `{{kind}}`
    /// (`invitation` or `reminder`).
    pub template: String,
    /// A JSON pointer into the provider's answer (`/error`, `/CodeResult`) and the values that
    /// mean "accepted"; empty: any 2xx answer is.
    pub success_field: String,
    pub success_values: Vec<String>,
    /// Values of `success_field` meaning "this request id was accepted before" (eSMS's `124`,
    /// answered to a retry after a lost answer): counted as accepted.
    pub duplicate_values: Vec<String>,
    /// Values of `success_field` meaning "not now" (an expired access token, a rate limit, an
    /// empty balance): tried again later on the same channel, like an HTTP 5xx.
    pub transient_values: Vec<String>,
    /// Seconds to wait for the provider's answer, at most [`MAX_GATEWAY_TIMEOUT_SECS`] (150).
    pub timeout_secs: u64,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            url: String::new(),
            auth_header: String::new(),
            template: r#"{"to": "{{phone}}", "text": "{{text}}", "id": "{{id}}"}"#.to_owned(),
            success_field: String::new(),
            success_values: Vec::new(),
            duplicate_values: Vec::new(),
            transient_values: Vec::new(),
            timeout_secs: 15,
        }
    }
}

impl GatewaySettings {
    /// True when a URL is set.
    pub fn is_on(&self) -> bool {
        !self.url.trim().is_empty()
    }

    fn validate(&self, section: &str) -> Result<(), ConfigError> {
        let fail = |m: String| Err(ConfigError::Invalid(format!("[{section}] {m}")));
        if !self.is_on() {
            return Ok(());
        }
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            return fail("url phải bắt đầu bằng https:// hoặc http:// (url must start with https:// or http://)".into());
        }
        if !self.auth_header.trim().is_empty()
            && !self
                .auth_header
                .split_once(':')
                .is_some_and(|(name, _)| is_header_name(name.trim()))
        {
            return fail(
                "auth_header phải có dạng `Tên: giá trị`, ví dụ `Authorization: Bearer …` \
                 (auth_header must be `Name: value`)"
                    .into(),
            );
        }
        if let Err(e) = crate::outreach::gateway::Template::parse(&self.template) {
            return fail(format!("template (mẫu thông điệp): {e}"));
        }
        if !self.success_field.is_empty() && !self.success_field.starts_with('/') {
            return fail(
                "success_field phải là một con trỏ JSON như /error (success_field must be a JSON pointer such as /error)".into(),
            );
        }
        if !self.success_field.is_empty() && self.success_values.is_empty() {
            return fail(
                "success_values phải liệt kê các giá trị nghĩa là \"đã nhận\" (success_values must list the values that mean accepted)".into(),
            );
        }
        if self.success_field.is_empty()
            && !(self.duplicate_values.is_empty() && self.transient_values.is_empty())
        {
            return fail(
                "duplicate_values và transient_values cần success_field (duplicate_values and transient_values need success_field)".into(),
            );
        }
        let lists = [
            ("success_values", &self.success_values),
            ("duplicate_values", &self.duplicate_values),
            ("transient_values", &self.transient_values),
        ];
        for (i, (a, first)) in lists.iter().enumerate() {
            for (b, second) in &lists[i + 1..] {
                if let Some(v) = first.iter().find(|v| second.contains(v)) {
                    return fail(format!(
                        "giá trị {v:?} có trong cả {a} và {b} ({v:?} is in both {a} and {b})"
                    ));
                }
            }
        }
        if self.timeout_secs == 0 || self.timeout_secs > MAX_GATEWAY_TIMEOUT_SECS {
            return fail(format!(
                "timeout_secs phải từ 1 đến {MAX_GATEWAY_TIMEOUT_SECS} giây: mỗi tin được giữ {claim} phút khi gửi, \
                 chờ lâu hơn thì tin có thể bị gửi hai lần (timeout_secs must be 1 to {MAX_GATEWAY_TIMEOUT_SECS} seconds: \
                 a message is claimed for {claim} minutes while it is sent, and a longer wait could send it twice)",
                claim = crate::mail::outbox::CLAIM,
            ));
        }
        Ok(())
    }
}

/// The longest a gateway may wait for an answer: half the outbox claim, so that a message is
/// recorded well before another worker may take it for abandoned and send it again.
pub const MAX_GATEWAY_TIMEOUT_SECS: u64 = crate::mail::outbox::CLAIM as u64 * 60 / 2;

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// How mail leaves.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    None,
    Smtp,
    File,
}

/// The SMTP connection's encryption.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

/// A configuration problem, with the file or variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("không đọc được tệp cấu hình {path} (cannot read configuration file): {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cấu hình không hợp lệ (invalid configuration): {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads defaults, then `file` (if given), then the `SIPAS_*` variables of `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut tree = toml::Table::try_from(Settings::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let from_file: toml::Table = toml::from_str(&text)
                .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
            merge(&mut tree, from_file);
        }
        for (name, value) in env {
            apply_env(&mut tree, &name, value)?;
        }
        let settings: Settings = toml::Value::Table(tree)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.database.pool_size == 0 {
            return fail("[database] pool_size phải ít nhất là 1 (pool_size must be at least 1)");
        }
        if self.survey.invitation_ttl_days == 0 {
            return fail(
                "[survey] invitation_ttl_days phải ít nhất là 1 (invitation_ttl_days must be at least 1)",
            );
        }
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            return fail(
                "[server] public_url phải bắt đầu bằng http:// hoặc https:// (public_url must start with http:// or https://)",
            );
        }
        if self.walkin.max_per_window == 0 || self.walkin.window_minutes == 0 {
            return fail(
                "[walkin] max_per_window và window_minutes phải ít nhất là 1 (must be at least 1)",
            );
        }
        if self.security.link_miss_limit == 0 || self.security.link_miss_window_minutes == 0 {
            return fail(
                "[security] link_miss_limit và link_miss_window_minutes phải ít nhất là 1 (must be at least 1)",
            );
        }
        let d = &self.dashboard;
        if d.session_idle_minutes == 0
            || d.session_absolute_hours == 0
            || d.login_max_failures == 0
            || d.login_lockout_minutes == 0
            || d.login_address_max_failures == 0
            || d.login_account_slowdown_after == 0
            || d.login_slowdown_seconds == 0
            || d.login_global_per_minute == 0
        {
            return fail(
                "[dashboard] các giới hạn phiên và đăng nhập phải ít nhất là 1 (session and sign-in limits must be at least 1)",
            );
        }
        let m = &self.mail;
        if m.transport != MailTransport::None {
            if m.from.parse::<lettre::message::Mailbox>().is_err() {
                return fail(
                    "[mail] from phải là một địa chỉ như \"SIPAS <khaosat@tinh.gov.vn>\" (from must be an address)",
                );
            }
            if let Some(bad) = m
                .reform_office
                .iter()
                .chain(&m.reply_to)
                .find(|a| a.parse::<lettre::Address>().is_err())
            {
                return Err(ConfigError::Invalid(format!(
                    "[mail] {bad:?} không phải là địa chỉ email (is not an email address)"
                )));
            }
            if m.transport == MailTransport::Smtp
                && (m.smtp_host.trim().is_empty() || m.smtp_port == 0)
            {
                return fail(
                    "[mail] cần đặt smtp_host và smtp_port khi dùng smtp (smtp_host and smtp_port must be set for the smtp transport)",
                );
            }
            if m.max_attempts == 0 || m.send_hour > 23 {
                return fail(
                    "[mail] max_attempts phải ít nhất là 1 và send_hour từ 0 đến 23 (max_attempts must be at least 1 and send_hour 0–23)",
                );
            }
        }
        self.sms.validate("sms")?;
        self.zalo.validate("zalo")?;
        let o = &self.outreach;
        if o.max_attempts == 0 {
            return fail(
                "[outreach] max_attempts phải ít nhất là 1 (max_attempts must be at least 1)",
            );
        }
        if let Some((i, m)) = o
            .channels
            .iter()
            .enumerate()
            .find(|(i, m)| o.channels[..*i].contains(m))
        {
            return Err(ConfigError::Invalid(format!(
                "[outreach] channels ghi {c} hai lần, ở vị trí {p} (channels names {c} twice, position {p})",
                c = m.as_str(),
                p = i + 1
            )));
        }
        if let Some(key) = &self.security.secret_key
            && key.len() < 32
        {
            return fail(
                "[security] secret_key phải có ít nhất 32 ký tự (secret_key must be at least 32 characters)",
            );
        }
        Ok(())
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> &str {
        self.server.public_url.trim_end_matches('/')
    }
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            // A bare TOML date (`import_earliest = 2015-01-01`) is read like a quoted one.
            (_, toml::Value::Datetime(d)) => {
                into.insert(key, toml::Value::String(d.to_string()));
            }
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// Applies `SIPAS_SECTION_KEY=value`, typed like the default it replaces (a list is
/// comma-separated; a string otherwise).
fn apply_env(tree: &mut toml::Table, name: &str, value: String) -> Result<(), ConfigError> {
    let Some(rest) = name.strip_prefix("SIPAS_") else {
        return Ok(());
    };
    let rest = rest.to_ascii_lowercase();
    // The sections are the keys of the settings tree itself, so a new section needs no list.
    let Some((section, key)) = tree.keys().find_map(|s| {
        rest.strip_prefix(s.as_str())
            .and_then(|k| k.strip_prefix('_'))
            .map(|k| (s.clone(), k.to_owned()))
    }) else {
        // SIPAS_CONFIG and other process-level variables are not settings.
        return Ok(());
    };
    let table = match tree.get_mut(&section) {
        Some(toml::Value::Table(t)) => t,
        _ => return Err(ConfigError::Invalid(format!("{name}: unknown section"))),
    };
    let typed = match table.get(&key) {
        Some(toml::Value::Integer(_)) => value
            .trim()
            .parse()
            .map(toml::Value::Integer)
            .map_err(|_| ConfigError::Invalid(format!("{name} must be a whole number"))),
        Some(toml::Value::Boolean(_)) => value
            .trim()
            .parse()
            .map(toml::Value::Boolean)
            .map_err(|_| ConfigError::Invalid(format!("{name} must be true or false"))),
        Some(toml::Value::Array(_)) => Ok(toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| toml::Value::String(v.to_owned()))
                .collect(),
        )),
        _ => Ok(toml::Value::String(value)),
    }?;
    table.insert(key, typed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_valid() -> Result<(), ConfigError> {
        let s = Settings::load(None, env(&[]))?;
        assert_eq!(s.database.url, "sipas.db");
        assert_eq!(s.survey.invitation_ttl_days, 30);
        Ok(())
    }

    #[test]
    fn environment_overrides_typed_keys() -> Result<(), ConfigError> {
        let s = Settings::load(
            None,
            env(&[
                ("SIPAS_DATABASE_URL", "postgres://x@y/z"),
                ("SIPAS_SURVEY_INVITATION_TTL_DAYS", "7"),
                (
                    "SIPAS_SECURITY_SECRET_KEY",
                    "0123456789012345678901234567890123",
                ),
                ("SIPAS_CONFIG", "ignored.toml"),
                ("SIPAS_MAIL_TRANSPORT", "file"),
                ("SIPAS_MAIL_REFORM_OFFICE", "a@b.vn, c@d.vn"),
                ("PATH", "/bin"),
            ]),
        )?;
        assert_eq!(s.database.url, "postgres://x@y/z");
        assert_eq!(s.survey.invitation_ttl_days, 7);
        assert!(s.security.secret_key.is_some());
        assert_eq!(s.mail.transport, MailTransport::File);
        assert_eq!(s.mail.reform_office, ["a@b.vn", "c@d.vn"]);
        Ok(())
    }

    #[test]
    fn bad_values_are_reported_by_name() {
        let err = Settings::load(None, env(&[("SIPAS_SURVEY_INVITATION_TTL_DAYS", "soon")]));
        assert!(
            matches!(err, Err(ConfigError::Invalid(m)) if m.contains("SIPAS_SURVEY_INVITATION_TTL_DAYS"))
        );
        let err = Settings::load(None, env(&[("SIPAS_DATABASE_POOL_SIZE", "0")]));
        assert!(err.is_err());
    }

    #[test]
    fn the_sample_file_is_complete_and_valid() -> Result<(), ConfigError> {
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sipas.example.toml");
        let s = Settings::load(Some(&sample), env(&[]))?;
        assert_eq!(s.server.bind, ServerSettings::default().bind);
        assert_eq!(
            s.survey.import_earliest,
            SurveySettings::default().import_earliest
        );
        Ok(())
    }

    #[test]
    fn dates_are_read_bare_or_quoted() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.toml");
        for (text, expected) in [
            ("import_earliest = 2020-03-01", "2020-03-01"),
            ("import_earliest = \"2019-12-31\"", "2019-12-31"),
        ] {
            std::fs::write(&path, format!("[survey]\n{text}\n"))?;
            let s = Settings::load(Some(&path), env(&[]))?;
            assert_eq!(s.survey.import_earliest.to_string(), expected);
        }
        let s = Settings::load(None, env(&[("SIPAS_SURVEY_IMPORT_EARLIEST", "2018-07-01")]))?;
        assert_eq!(s.survey.import_earliest.to_string(), "2018-07-01");
        let bad = Settings::load(None, env(&[("SIPAS_SURVEY_IMPORT_EARLIEST", "soon")]));
        assert!(matches!(bad, Err(ConfigError::Invalid(m)) if m.contains("import_earliest")));
        Ok(())
    }

    #[test]
    fn outreach_settings_are_checked_with_the_key_named() {
        let invalid = |pairs: &[(&str, &str)], key: &str| {
            let err = Settings::load(None, env(pairs));
            assert!(
                matches!(&err, Err(ConfigError::Invalid(m)) if m.contains(key)),
                "{key}: {err:?}"
            );
        };
        let url = ("SIPAS_SMS_URL", "https://sms.example.vn/send");
        invalid(
            &[url, ("SIPAS_SMS_TEMPLATE", "{\"to\": ")],
            "[sms] template",
        );
        invalid(
            &[url, ("SIPAS_SMS_TEMPLATE", "{\"to\": \"{{password}}\"}")],
            "{{password}}",
        );
        invalid(
            &[url, ("SIPAS_SMS_AUTH_HEADER", "Bearer xyz")],
            "[sms] auth_header",
        );
        invalid(&[("SIPAS_ZALO_URL", "ftp://zalo")], "[zalo] url");
        invalid(
            &[url, ("SIPAS_SMS_TIMEOUT_SECS", "600")],
            "timeout_secs must be 1 to 150 seconds",
        );
        invalid(
            &[url, ("SIPAS_SMS_DUPLICATE_VALUES", "124")],
            "[sms] duplicate_values",
        );
        invalid(
            &[
                url,
                ("SIPAS_SMS_SUCCESS_FIELD", "/CodeResult"),
                ("SIPAS_SMS_SUCCESS_VALUES", "100"),
                ("SIPAS_SMS_TRANSIENT_VALUES", "103, 100"),
            ],
            "\"100\" is in both success_values and transient_values",
        );
        invalid(
            &[("SIPAS_OUTREACH_CHANNELS", "sms, zalo, sms")],
            "names sms twice",
        );
        assert!(Settings::load(None, env(&[("SIPAS_OUTREACH_CHANNELS", "fax")])).is_err());
        let ok = Settings::load(
            None,
            env(&[
                url,
                ("SIPAS_SMS_AUTH_HEADER", "Authorization: Bearer xyz"),
                ("SIPAS_OUTREACH_CHANNELS", "sms, email"),
                ("SIPAS_OUTREACH_REMINDER_DAYS", "5"),
            ]),
        );
        assert!(
            ok.is_ok_and(|s| s.outreach.channels == [Medium::Sms, Medium::Email]
                && s.outreach.reminder_days == 5)
        );
    }

    #[test]
    fn unknown_keys_in_a_file_are_rejected() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[server]\nbnd = \"0.0.0.0:1\"\n")?;
        assert!(Settings::load(Some(&path), env(&[])).is_err());
        Ok(())
    }
}
