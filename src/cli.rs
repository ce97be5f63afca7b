//! The command line: `serve`, `migrate`, `import`, `apikey`.

use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::apikeys::{self, Owner};
use crate::catalog::import as catalog_import;
use crate::config::Settings;
use crate::db::{Database, DbPool};
use crate::domain::Level;
use crate::invitations::import::{self as dossier_import, import_dossiers};
use crate::invitations::issue::Issuer;
use crate::mail::digest::Period;
use crate::questionnaire::Questionnaire;
use crate::report::format::Format;
use crate::report::map::MapMode;
use crate::report::{self, GroupBy, Query};
use crate::responses::import::{Progress, import_responses};
use crate::responses::staging;
use crate::startup::{Application, load_secret};
use chrono::NaiveDate;

/// sipas: continuous citizen-satisfaction (SIPAS) surveys for one-stop offices.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Configuration file (TOML); defaults to ./sipas.toml when present. SIPAS_* variables override it.
    #[arg(long, env = "SIPAS_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server.
    Serve {
        /// On an empty database, create a demo province with a year of responses first.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write a consistent copy of the SQLite database to a new file, while the server runs.
    Backup { file: PathBuf },
    /// Import a CSV file (all rows or none).
    Import {
        #[command(subcommand)]
        what: ImportKind,
    },
    /// Manage API keys of one-stop systems.
    Apikey {
        #[command(subcommand)]
        action: ApikeyAction,
    },
    /// Indicators and harassment/repeat-visit flags for a period.
    Report {
        /// First day (YYYY-MM-DD); defaults to 364 days before --to.
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day (YYYY-MM-DD); defaults to today (Vietnam time).
        #[arg(long)]
        to: Option<NaiveDate>,
        /// Only this province (code).
        #[arg(long)]
        province: Option<String>,
        /// Only agencies of this level: tinh, huyen or xa.
        #[arg(long, value_parser = parse_level)]
        level: Option<Level>,
        #[arg(long, value_parser = choice(&GroupBy::ALL, GroupBy::as_str), default_value = "agency")]
        group_by: GroupBy,
        #[arg(long, value_parser = choice(&Format::ALL, Format::as_str), default_value = "table")]
        format: Format,
        /// For a period across a reorganisation: `today` rolls predecessors' history up into
        /// today's agencies, `as-it-was` shows old and new agencies side by side.
        #[arg(long, value_parser = parse_map, default_value = "today")]
        map: MapMode,
    },
    /// Manage dashboard accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Email digests: queue and send them, or preview them.
    Digest {
        #[command(subcommand)]
        action: DigestAction,
    },
    /// The monitoring loop: flags, their history, cases and alarm alerts.
    Monitor {
        #[command(subcommand)]
        action: MonitorAction,
    },
    /// Maintain the daily counts reports are computed from.
    Aggregates {
        #[command(subcommand)]
        action: AggregatesAction,
    },
}

#[derive(Debug, Subcommand)]
enum UserAction {
    /// Create an account. The password is read from SIPAS_USER_PASSWORD (at least 12
    /// characters) or, when unset, generated and printed once.
    Add {
        #[arg(long)]
        email: String,
        /// admin, reviewer or agency_head.
        #[arg(long)]
        role: String,
        /// The agency of an agency head.
        #[arg(long)]
        agency: Option<String>,
        /// The language of the account's digests: vi (default) or en.
        #[arg(long, default_value = "vi", value_parser = ["vi", "en"])]
        lang: String,
    },
}

#[derive(Debug, Subcommand)]
enum DigestAction {
    /// Queue the digests of the last complete week or month (each recipient once) and deliver
    /// everything due in the outbox.
    Send {
        #[arg(long, value_parser = choice(&Period::ALL, Period::as_str))]
        period: Period,
        /// Only this agency's digest.
        #[arg(long)]
        agency: Option<String>,
        /// Print what would be queued; queue and send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the digests (plain-text part) without queueing them.
    Preview {
        #[arg(long, value_parser = choice(&Period::ALL, Period::as_str))]
        period: Period,
        #[arg(long)]
        agency: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum MonitorAction {
    /// Run one sweep now: record the flags of the last 365 days, open follow-up cases for new
    /// flags and alert the reform office of new alarms (the server does this every
    /// `monitoring.sweep_minutes`; safe to run from cron beside it).
    Run,
}

#[derive(Debug, Subcommand)]
enum AggregatesAction {
    /// Rebuild every daily count from the stored responses and dossiers.
    Recount,
}

/// A value parser for one of `all`, listed by name in `--help`.
fn choice<T: Copy + Send + Sync + 'static>(
    all: &'static [T],
    name: fn(T) -> &'static str,
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(all.iter().map(|v| name(*v))).try_map(move |s| {
        all.iter()
            .copied()
            .find(|v| name(*v) == s)
            .ok_or_else(|| format!("{s:?} is not a possible value"))
    })
}

fn parse_map(s: &str) -> Result<MapMode, String> {
    MapMode::parse(s).ok_or_else(|| format!("{s:?} is not a map: use today or as-it-was"))
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(s).ok_or_else(|| format!("{s:?} is not a level: use tinh, huyen or xa"))
}

#[derive(Debug, Subcommand)]
enum ImportKind {
    /// Agencies: code,name,level,province_code,parent_code[,peer_group][,valid_from,valid_to].
    Agencies { file: PathBuf },
    /// Successions of a reorganisation: old_code,new_code,effective_date[,share][,kind]
    /// (kind: agency, the default, or province).
    Successions { file: PathBuf },
    /// Procedures: code,name,field,level.
    Procedures { file: PathBuf },
    /// Which agency handles which procedure: agency_code,procedure_code.
    Links { file: PathBuf },
    /// Completed dossiers; prints one survey link per dossier as CSV.
    Dossiers { file: PathBuf },
    /// Responses collected on paper or by other tools.
    Responses { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum ApikeyAction {
    /// Create a key and print it once (only its hash is kept).
    Create {
        /// The agency whose dossiers the key may report (and those of agencies under it).
        #[arg(
            long,
            conflicts_with = "province",
            required_unless_present = "province"
        )]
        agency: Option<String>,
        /// The province whose dossiers the key may report.
        #[arg(long)]
        province: Option<String>,
    },
    /// Revoke a key by the prefix shown when it was created (its first 12 characters).
    Revoke { prefix: String },
}

/// Loads the settings named by `--config`, `SIPAS_CONFIG` or `./sipas.toml`.
fn settings(config: Option<&Path>) -> anyhow::Result<Settings> {
    let default = Path::new("sipas.toml");
    let file = config.or(default.exists().then_some(default));
    Ok(Settings::load(file, std::env::vars())?)
}

/// Runs the command line.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = settings(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { demo } => serve(settings, demo),
        Command::Backup { file } => {
            let pool = open_database(&settings)?;
            crate::db::backup::sqlite_backup(&mut *conn(&pool)?, &file)?;
            println!(
                "đã ghi bản sao lưu vào {f}; hãy giữ nó cùng tệp khóa bí mật \
                 (backup written to {f}; keep it with the secret key file)",
                f = file.display()
            );
            Ok(())
        }
        Command::Migrate => {
            let pool = crate::db::connect(&settings.database)?;
            let applied = crate::db::migrations::run(&pool)?;
            println!(
                "đã áp dụng {n} bản cập nhật cấu trúc; cơ sở dữ liệu đã mới nhất \
                 ({n} migration(s) applied; the database is up to date)",
                n = applied.len()
            );
            for name in applied {
                println!("  {name}");
            }
            Ok(())
        }
        Command::Import { what } => import(settings, what),
        Command::Apikey { action } => apikey(settings, action),
        Command::Report {
            from,
            to,
            province,
            level,
            group_by,
            format,
            map,
        } => {
            let to = to.unwrap_or_else(crate::clock::today);
            let from = from.unwrap_or(to - chrono::Duration::days(364));
            let query = Query {
                from,
                to,
                province,
                level,
                agencies: None,
                group_by,
                map,
            };
            let pool = open_database(&settings)?;
            // A second connection reads the early-warning months meanwhile.
            let report = report::build_with(
                &mut *conn(&pool)?,
                || pool.try_get().map(crate::db::PooledConn::from),
                &query,
            )?;
            // Buffered: standard output is line-buffered, and a province's JSON report has
            // hundreds of thousands of lines (a write each cost 0.4 s of a 1 s report).
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            report::format::write(&report, format, &mut out)?;
            Ok(out.flush()?)
        }
        Command::User {
            action:
                UserAction::Add {
                    email,
                    role,
                    agency,
                    lang,
                },
        } => add_user(&settings, &email, &role, agency.as_deref(), &lang),
        Command::Digest { action } => digest(&settings, action),
        Command::Monitor {
            action: MonitorAction::Run,
        } => {
            let db = Database::open(&settings.database)?;
            let swept = db.write(|conn| {
                crate::monitoring::sweep(
                    conn,
                    &settings,
                    crate::clock::today(),
                    crate::clock::now(),
                )
                .map_err(anyhow::Error::from)
            })?;
            println!(
                "{f} cơ quan bị gắn cờ; ghi {c} thay đổi cờ; mở {o} vụ việc, xếp {a} cảnh báo báo động chờ gửi \
                 ({f} agencies flagged; {c} flag change(s) recorded; {o} case(s) opened, {a} alarm alert(s) queued)",
                f = swept.flagged,
                c = swept.changes,
                o = swept.opened.len(),
                a = swept.alerts
            );
            for case in swept.opened {
                println!(
                    "  {} {} ({})",
                    case.agency_code,
                    case.problem,
                    case.severity.as_str()
                );
            }
            Ok(())
        }
        Command::Aggregates {
            action: AggregatesAction::Recount,
        } => {
            let pool = open_database(&settings)?;
            let started = std::time::Instant::now();
            crate::aggregates::recount(&mut *conn(&pool)?)?;
            println!(
                "đã tính lại số liệu trong {s:.1} giây (daily counts rebuilt in {s:.1} s)",
                s = started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    if demo {
        let db = Database::open(&settings.database)?;
        let questionnaire = active_questionnaire(&db, &settings)?;
        let secret = load_secret(&settings)?;
        let installation = crate::demo::Installation {
            db: &db,
            settings: &settings,
            secret: &secret,
            questionnaire: &questionnaire,
        };
        let created = crate::demo::seed_if_empty(&installation)?;
        for link in crate::demo::sample_links(&installation, 5)? {
            println!("  {link}");
        }
        if created {
            println!("Đã tạo tỉnh mẫu (demo province created).");
        }
    }
    let bind = settings.server.bind.clone();
    let public = settings.public_url().to_owned();
    let app = Application::build(settings)?;
    println!(
        "sipas đang chạy ở {bind} (địa chỉ công khai {public}); Ctrl-C để dừng \
         (sipas listening on {bind}, public URL {public}; Ctrl-C to stop)"
    );
    app.run_blocking()?;
    Ok(())
}

/// The questionnaire citizens answer now.
fn active_questionnaire(db: &Database, settings: &Settings) -> anyhow::Result<Questionnaire> {
    let mut conn = db.conn()?;
    Ok(crate::questionnaire::versions::active(
        &mut conn,
        settings.survey.questionnaire_file.as_deref(),
    )?)
}

/// The database with migrations applied, for commands that need nothing else.
fn open_database(settings: &Settings) -> anyhow::Result<DbPool> {
    Ok(Database::open(&settings.database)?.pool().clone())
}

fn open_file(path: &Path) -> anyhow::Result<File> {
    File::open(path).with_context(|| format!("cannot open {}", path.display()))
}

fn conn(pool: &DbPool) -> anyhow::Result<crate::db::PooledConn> {
    pool.get()
        .map(Into::into)
        .context("không kết nối được cơ sở dữ liệu (cannot connect to the database)")
}

fn import(settings: Settings, what: ImportKind) -> anyhow::Result<()> {
    let db = Database::open(&settings.database)?;
    let mut conn = db.conn()?;
    match what {
        ImportKind::Agencies { file } => {
            let n = catalog_import::import_agencies(&mut conn, open_file(&file)?)?;
            println!("đã nhập {n} cơ quan (imported {n} agencies)");
        }
        ImportKind::Successions { file } => {
            let n = crate::catalog::successions::import_successions(&mut conn, open_file(&file)?)?;
            println!("đã nhập {n} việc kế thừa (imported {n} successions)");
        }
        ImportKind::Procedures { file } => {
            let n = catalog_import::import_procedures(&mut conn, open_file(&file)?)?;
            println!("đã nhập {n} thủ tục (imported {n} procedures)");
        }
        ImportKind::Links { file } => {
            let n = catalog_import::import_links(&mut conn, open_file(&file)?)?;
            println!("đã nhập {n} liên kết cơ quan – thủ tục (imported {n} links)");
        }
        ImportKind::Dossiers { file } => {
            let secret = load_secret(&settings)?;
            let reach = crate::outreach::Reach::from_settings(&settings);
            let issuer = Issuer {
                secret: &secret,
                ttl_days: settings.survey.invitation_ttl_days,
                now: dossier_import::now(),
                reach: reach.as_ref(),
            };
            // The links go to stdout only once the import has committed: meanwhile they wait in
            // an anonymous temporary file (memory stays flat for a year's backfill).
            let base = settings.public_url();
            let mut out =
                crate::csvsafe::Writer::new(std::io::BufWriter::new(tempfile::tempfile()?));
            out.write_record([
                "dossier_code",
                "agency_code",
                "status",
                "survey_url",
                "qr_svg_url",
                "message",
            ])?;
            import_dossiers(&mut conn, &issuer, open_file(&file)?, |i| {
                let token = i.token.as_str();
                out.write_record([
                    i.dossier_code.as_str(),
                    i.agency_code.as_str(),
                    if i.created { "created" } else { "existing" },
                    &format!("{base}/s/{token}"),
                    &format!("{base}/q/{token}.svg"),
                    i.outreach.map_or("", |o| o.as_str()),
                ])
            })?;
            let mut links = out.into_inner()?.into_inner().map_err(|e| e.into_error())?;
            links.seek(std::io::SeekFrom::Start(0))?;
            std::io::copy(&mut links, &mut std::io::stdout().lock())?;
        }
        ImportKind::Responses { file } => {
            let input = open_file(&file)?;
            let size = input.metadata().map(|m| m.len()).unwrap_or(0);
            let bar = indicatif::ProgressBar::new(size);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {msg} ({eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let reader = bar.wrap_read(input);
            let recovered = staging::recover(&db).context(
                "không hoàn tất được lần nhập bị gián đoạn (cannot finish an interrupted import)",
            )?;
            if !recovered.is_empty() {
                println!(
                    "các lần nhập bị gián đoạn: hoàn tất {c}, xóa {r} (interrupted imports: {c} completed, {r} removed)",
                    c = recovered.rolled_forward.len(),
                    r = recovered.discarded.len()
                );
            }
            let started = std::time::Instant::now();
            let counter = bar.clone();
            let questionnaire = active_questionnaire(&db, &settings)?;
            let earliest = settings.survey.import_earliest;
            let n = import_responses(&db, &questionnaire, earliest, reader, |p| match p {
                Progress::Staged(rows) => counter.set_message(format!("đã kiểm tra {rows} dòng")),
                Progress::Publishing { of: 0, .. } => {
                    counter.set_message("đã kiểm tra mọi dòng; đang tổng hợp số liệu");
                }
                Progress::Publishing { added, of } => {
                    counter.set_message(format!("đang cộng vào số liệu: {added}/{of}"));
                }
            });
            bar.finish_and_clear();
            let n = n?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "đã nhập {n} phiếu trong {secs:.1} giây; {rate:.0} dòng/giây \
                 (imported {n} responses in {secs:.1} s, {rate:.0} rows/s)",
                rate = n as f64 / secs.max(1e-9)
            );
        }
    }
    Ok(())
}

fn add_user(
    settings: &Settings,
    email: &str,
    role: &str,
    agency: Option<&str>,
    lang: &str,
) -> anyhow::Result<()> {
    let pool = open_database(settings)?;
    let given = std::env::var("SIPAS_USER_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let password = match &given {
        Some(p) => p.clone(),
        None => crate::accounts::password::generate()
            .map_err(|e| anyhow::anyhow!("không có nguồn ngẫu nhiên (no randomness): {e}"))?,
    };
    let now = crate::clock::now();
    let mut conn = conn(&pool)?;
    let hash = crate::accounts::password::hash(&password)?;
    let new = crate::accounts::users::NewUser {
        email,
        role,
        agency,
    };
    // A generated password is a one-time password: it must be changed at the first sign-in.
    let user = crate::accounts::users::insert(&mut conn, new, &hash, given.is_none(), now)?;
    crate::accounts::users::set_lang(
        &mut conn,
        user.id,
        crate::domain::Lang::negotiate(Some(lang), None),
    )?;
    let detail = format!("{} ({}) from the command line", user.email, user.role);
    crate::accounts::audit::record(&mut conn, now, None, "user.create", &detail)?;
    println!(
        "đã tạo tài khoản {e} ({r}) (created {e}, {r})",
        e = user.email,
        r = user.role
    );
    if given.is_none() {
        println!("mật khẩu, chỉ hiện một lần (password, shown once): {password}");
    }
    Ok(())
}

fn digest(settings: &Settings, action: DigestAction) -> anyhow::Result<()> {
    use crate::mail::{Mailer, digest, outbox};
    let db = Database::open(&settings.database)?;
    let today = crate::clock::today();
    match action {
        DigestAction::Preview { period, agency }
        | DigestAction::Send {
            period,
            agency,
            dry_run: true,
        } => {
            for (email, _, key) in
                digest::compose(&mut *db.conn()?, settings, period, agency.as_deref(), today)?
            {
                println!(
                    "To: {}
Subject: {}
Period: {key}

{}
----",
                    email.to, email.subject, email.text
                );
            }
        }
        DigestAction::Send {
            period,
            agency,
            dry_run: false,
        } => {
            let mailer = Mailer::new(&settings.mail)?;
            if !mailer.is_on() {
                anyhow::bail!(
                    "thư điện tử đang tắt: đặt [mail] transport là smtp hoặc file \
                     (mail is switched off: set [mail] transport to smtp or file)"
                );
            }
            let now = crate::clock::now();
            let queued = digest::queue(&db, settings, period, agency.as_deref(), today, now)?;
            let round = outbox::deliver_due(&db, &mailer, settings.mail.max_attempts, || {
                crate::clock::now()
            })?;
            println!(
                "xếp {queued} bản tin chờ gửi; đã gửi {s}, sẽ thử lại {r}, thất bại {f} \
                 ({queued} digest(s) queued; sent {s}, retrying later {r}, failed {f})",
                s = round.sent,
                r = round.retrying,
                f = round.failed
            );
        }
    }
    Ok(())
}

fn apikey(settings: Settings, action: ApikeyAction) -> anyhow::Result<()> {
    let mut conn = Database::open(&settings.database)?.conn()?;
    let now = dossier_import::now();
    match action {
        ApikeyAction::Create { agency, province } => {
            let owner = match (agency, province) {
                (Some(a), _) => Owner::Agency(a),
                (None, Some(p)) => Owner::Province(p),
                (None, None) => anyhow::bail!(
                    "cần --agency MÃ hoặc --province MÃ (give --agency CODE or --province CODE)"
                ),
            };
            let key = apikeys::create(&mut conn, &owner, now)?;
            println!("{}", key.as_str());
            eprintln!(
                "Hãy giữ khóa này cẩn thận: nó chỉ hiện một lần. Thu hồi bằng: sipas apikey revoke {p} \
                 (keep this key safe: it is shown only once; revoke it with sipas apikey revoke {p})",
                p = key.prefix()
            );
        }
        ApikeyAction::Revoke { prefix } => {
            let n = apikeys::revoke(&mut conn, &prefix, now)?;
            if n == 0 {
                anyhow::bail!(
                    "không có khóa đang dùng nào bắt đầu bằng {prefix} (no active key starts with {prefix})"
                );
            }
            println!("đã thu hồi {n} khóa (revoked {n} key(s))");
        }
    }
    Ok(())
}
