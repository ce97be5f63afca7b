//! The two backends' migrations produce the same schema (tables, columns, types, nullability).

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
    let mut conn = pool.get()?;
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
