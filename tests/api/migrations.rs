//! The two backends' migrations produce the same schema (tables, columns, types, nullability),
//! and migrations that move data keep it.

use std::collections::BTreeMap;

use diesel::prelude::*;

use crate::helpers::{TestDb, TestResult};

type Schema = BTreeMap<String, Vec<(String, String, bool)>>;

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    data_type: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    nullable: bool,
}

fn normalise(data_type: &str, column: &str) -> String {
    match (data_type.to_ascii_lowercase().as_str(), column) {
        ("integer", "id") | ("bigint", _) => "bigint".into(),
        ("timestamp without time zone", _) => "timestamp".into(),
        (t, _) => t.to_owned(),
    }
}

fn schema(url: &str) -> Result<Schema, Box<dyn std::error::Error>> {
    let settings = sipas::config::DatabaseSettings {
        url: url.to_owned(),
        ..Default::default()
    };
    let pool = sipas::db::connect(&settings)?;
    sipas::db::migrations::run(&pool)?;
    let mut conn: sipas::db::PooledConn = pool.get()?.into();
    let postgres = url.starts_with("postgres");
    let sql = if postgres {
        "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, \
         is_nullable = 'YES' AS nullable FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'"
    } else {
        "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
         (p.\"notnull\" = 0 AND p.pk = 0) AS nullable \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'"
    };
    let columns: Vec<Column> = diesel::sql_query(sql).load(&mut *conn)?;
    let mut out = Schema::new();
    for c in columns {
        let t = normalise(&c.data_type, &c.column_name);
        out.entry(c.table_name)
            .or_default()
            .push((c.column_name, t, c.nullable));
    }
    for cols in out.values_mut() {
        cols.sort();
    }
    Ok(out)
}

#[test]
fn migrations_produce_the_same_schema_on_both_backends() -> TestResult {
    let sqlite_db = TestDb::new_sqlite()?;
    let sqlite = schema(&sqlite_db.url)?;
    assert!(sqlite.contains_key("responses") && sqlite.contains_key("invitations"));
    let pg_db = TestDb::new()?;
    if !pg_db.is_postgres() {
        eprintln!(
            "TEST_DATABASE_URL is unset: the SQLite schema was built; the PostgreSQL pass of .ci/run compares both"
        );
        return Ok(());
    }
    let postgres = schema(&pg_db.url)?;
    assert_eq!(sqlite, postgres);
    Ok(())
}

/// Migration 000011 on a database already in use: rows queued before it keep the Message-ID they
/// were (or would have been) sent with, and the answered invitations already there are counted
/// as a recount would.
#[tokio::test]
async fn the_message_id_migration_keeps_queued_mail_and_counts_answered_links() -> TestResult {
    let app = crate::helpers::spawn_app().await?;
    for i in 0..3 {
        let token = app.invite(&format!("MIG-{i}"), false).await?;
        if i > 0 {
            app.post_form(&format!("/s/{token}"), &crate::helpers::SHORT_FORM)
                .await?;
        }
    }
    let mut conn = app.conn()?;
    let email = sipas::mail::Email {
        to: "office@test.vn".into(),
        subject: "s".into(),
        text: "t".into(),
        html: "h".into(),
    };
    sipas::mail::outbox::enqueue(
        &mut conn,
        &email,
        "alert",
        "k",
        crate::helpers::now(),
        "test.vn",
    )?;
    let counted = crate::report::dump_counts(&mut conn)?;
    assert!(
        counted.iter().any(|r| r.line.ends_with("|3|2")),
        "3 dossiers, 2 answered: {counted:?}"
    );
    // Back to the schema before the migration, then forward again through the production path.
    let down = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        format!(
            "migrations/{}/2026-11-30-000011_message_ids/down.sql",
            if app.db.is_postgres() {
                "postgres"
            } else {
                "sqlite"
            }
        ),
    ))?;
    for statement in down.split(';').filter(|s| !s.trim().is_empty()) {
        diesel::sql_query(statement).execute(&mut *conn)?;
    }
    diesel::sql_query("DELETE FROM __diesel_schema_migrations WHERE version LIKE '%000011%'")
        .execute(&mut *conn)?;
    drop(conn);
    let applied = sipas::db::migrations::run(&app.pool)?;
    assert_eq!(applied.len(), 1, "{applied:?}");
    let mut conn = app.conn()?;
    assert_eq!(crate::report::dump_counts(&mut conn)?, counted);
    use sipas::db::schema::outbox;
    let (id, message_id): (i64, String) = outbox::table
        .select((outbox::id, outbox::message_id))
        .first(&mut *conn)?;
    assert_eq!(message_id, format!("<outbox-{id}@sipas>"));
    Ok(())
}

/// Migration 000018 with imports interrupted while adding their counts: going back asks for a
/// recount at the next start (one number cannot say which chunks a publisher added out of
/// order); going forward records the chunks `published_through` counted as added.
#[tokio::test]
async fn the_import_chunks_migration_keeps_what_an_interrupted_import_added() -> TestResult {
    let app = crate::helpers::spawn_app().await?;
    let mut conn = app.conn()?;
    let folder = if app.db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    for (id, status) in [(901, "publishing"), (902, "publishing"), (903, "done")] {
        diesel::sql_query(format!(
            "INSERT INTO imports (id, started_at, heartbeat_at, status, rows) \
             VALUES ({id}, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '{status}', 10)"
        ))
        .execute(&mut *conn)?;
    }
    // 901 added chunks 0, 1 and 3 (two publishers, one of them ahead).
    diesel::sql_query(
        "INSERT INTO import_chunks (import_id, chunk) VALUES (901, 0), (901, 1), (901, 3)",
    )
    .execute(&mut *conn)?;
    let down = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        format!("migrations/{folder}/2026-12-02-000018_import_chunks/down.sql"),
    ))?;
    for statement in down.split(';').filter(|s| !s.trim().is_empty()) {
        diesel::sql_query(statement).execute(&mut *conn)?;
    }
    #[derive(QueryableByName)]
    struct Reason {
        #[diesel(sql_type = diesel::sql_types::Text)]
        reason: String,
    }
    let pending: Vec<String> = diesel::sql_query("SELECT reason FROM pending_recounts")
        .load::<Reason>(&mut *conn)?
        .into_iter()
        .map(|r| r.reason)
        .collect();
    assert_eq!(pending, ["import chunks forgotten"]);

    // Forward again through the production path, from the numbers an earlier build kept; a
    // number that is not a whole number of chunks counts its whole chunks.
    diesel::sql_query("DELETE FROM pending_recounts").execute(&mut *conn)?;
    for (id, through) in [(901, 10_000), (902, 12_000), (903, 20_000)] {
        diesel::sql_query(format!(
            "UPDATE imports SET published_through = {through} WHERE id = {id}"
        ))
        .execute(&mut *conn)?;
    }
    diesel::sql_query("DELETE FROM __diesel_schema_migrations WHERE version LIKE '%000018%'")
        .execute(&mut *conn)?;
    drop(conn);
    let applied = sipas::db::migrations::run(&app.pool)?;
    assert_eq!(applied.len(), 1, "{applied:?}");
    use sipas::db::schema::import_chunks;
    let chunks: Vec<(i64, i64)> = import_chunks::table
        .order((import_chunks::import_id, import_chunks::chunk))
        .load(&mut *app.conn()?)?;
    assert_eq!(chunks, [(901, 0), (901, 1), (902, 0), (902, 1)]);
    Ok(())
}
