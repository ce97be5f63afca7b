//! Inserting many new invitations in one statement, skipping dossiers already stored: on
//! PostgreSQL from arrays (`unnest`: a statement of constant text, whatever the number of rows),
//! on SQLite as a multi-row INSERT.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};

use super::NewInvitation;
use crate::db::DbConn;
use crate::db::schema::invitations;

/// An invitation just inserted, by its key.
#[derive(Debug, QueryableByName)]
pub struct Inserted {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub agency_id: i64,
    #[diesel(sql_type = Text)]
    pub dossier_code: String,
}

/// Inserts `rows` (on SQLite at most 2,500: its parameter limit), skipping any whose agency and
/// dossier code are already stored; returns those inserted.
pub fn insert_new(conn: &mut DbConn, rows: &[NewInvitation]) -> QueryResult<Vec<Inserted>> {
    match conn {
        DbConn::Pg(c) => {
            let column = |f: fn(&NewInvitation) -> String| rows.iter().map(f).collect::<Vec<_>>();
            diesel::sql_query(
                "INSERT INTO invitations (token_hash, token_seed, agency_id, procedure_id, \
                 dossier_code, channel, received_at, due_at, returned_at, late, days_late, \
                 created_at, expires_at) \
                 SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT DO NOTHING \
                 RETURNING id, agency_id, dossier_code",
            )
            .bind::<Array<Text>, _>(column(|r| r.token_hash.clone()))
            .bind::<Array<Text>, _>(column(|r| r.token_seed.clone()))
            .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.agency_id).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.procedure_id).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(column(|r| r.dossier_code.clone()))
            .bind::<Array<Text>, _>(column(|r| r.channel.as_str().to_owned()))
            .bind::<Array<Timestamp>, _>(rows.iter().map(|r| r.received_at).collect::<Vec<_>>())
            .bind::<Array<Nullable<Timestamp>>, _>(
                rows.iter().map(|r| r.due_at).collect::<Vec<_>>(),
            )
            .bind::<Array<Timestamp>, _>(rows.iter().map(|r| r.returned_at).collect::<Vec<_>>())
            .bind::<Array<Nullable<Bool>>, _>(rows.iter().map(|r| r.late).collect::<Vec<_>>())
            .bind::<Array<Nullable<Integer>>, _>(
                rows.iter().map(|r| r.days_late).collect::<Vec<_>>(),
            )
            .bind::<Array<Timestamp>, _>(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
            .bind::<Array<Timestamp>, _>(rows.iter().map(|r| r.expires_at).collect::<Vec<_>>())
            .load(c)
        }
        DbConn::Sqlite(c) => diesel::insert_into(invitations::table)
            .values(rows)
            .on_conflict_do_nothing()
            .returning((
                invitations::id,
                invitations::agency_id,
                invitations::dossier_code,
            ))
            .get_results::<(i64, i64, String)>(c)
            .map(|rows| {
                rows.into_iter()
                    .map(|(id, agency_id, dossier_code)| Inserted {
                        id,
                        agency_id,
                        dossier_code,
                    })
                    .collect()
            }),
    }
}
