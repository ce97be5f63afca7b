//! Typed columns: a role, language or channel the code does not know, found in the database, is
//! an error naming it, never a silent default (an unknown role used to become "agency head").

use diesel::connection::SimpleConnection;
use sipas::db::DbConn;
use sipas::domain::SurveyToken;

use crate::helpers::{SHORT_FORM, TestResult, spawn_app};

/// Runs `sql` past the CHECK constraint `check` of `table` (as a newer version of sipas, or a
/// hand edit, could leave the data): SQLite ignores checks for the statement, PostgreSQL drops
/// the constraint.
fn force(app: &crate::helpers::TestApp, table: &str, check: &str, sql: &str) -> TestResult {
    let mut conn = app.conn()?;
    let script = match &mut *conn {
        DbConn::Sqlite(_) => format!(
            "PRAGMA ignore_check_constraints = ON; {sql}; PRAGMA ignore_check_constraints = OFF;"
        ),
        DbConn::Pg(_) => format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check}; {sql};"),
    };
    conn.batch_execute(&script)?;
    Ok(())
}

#[tokio::test]
async fn unknown_stored_values_are_errors_not_defaults() -> TestResult {
    let app = spawn_app().await?;
    {
        let mut conn = app.conn()?;
        sipas::accounts::users::create(
            &mut conn,
            "odd@test.vn",
            "reviewer",
            None,
            "a-long-test-password",
            crate::helpers::now(),
        )?;
        let found = sipas::accounts::users::find_by_email(&mut conn, "odd@test.vn")?;
        assert!(found.is_some_and(|u| u.role == sipas::accounts::Role::Reviewer));
    }
    force(
        &app,
        "users",
        "users_role_check",
        "UPDATE users SET role = 'superuser' WHERE email = 'odd@test.vn'",
    )?;
    let err = sipas::accounts::users::find_by_email(&mut *app.conn()?, "odd@test.vn")
        .err()
        .ok_or("an unknown role was read without error")?;
    assert!(
        format!("{err:?}").contains("unknown role") && format!("{err:?}").contains("superuser"),
        "{err:?}"
    );

    force(
        &app,
        "users",
        "users_role_check",
        "UPDATE users SET role = 'reviewer', lang = 'fr' WHERE email = 'odd@test.vn'",
    )?;
    let err = sipas::accounts::users::find_by_email(&mut *app.conn()?, "odd@test.vn")
        .err()
        .ok_or("an unknown language was read without error")?;
    assert!(
        format!("{err:?}").contains("unknown language") && format!("{err:?}").contains("fr"),
        "{err}"
    );

    // A dossier channel: the survey page of that link fails (500) instead of guessing.
    let token = app.invite("ODD-CHANNEL", false).await?;
    force(
        &app,
        "invitations",
        "invitations_channel_check",
        "UPDATE invitations SET channel = 'fax' WHERE dossier_code = 'ODD-CHANNEL'",
    )?;
    let parsed = SurveyToken::parse(&token).ok_or("bad token")?;
    let err = sipas::invitations::queries::find_by_token(&mut *app.conn()?, &parsed)
        .err()
        .ok_or("an unknown channel was read without error")?;
    assert!(
        format!("{err:?}").contains("unknown channel") && format!("{err:?}").contains("fax"),
        "{err}"
    );
    let page = app
        .client
        .get(app.url(&format!("/s/{token}")))
        .send()
        .await?;
    assert_eq!(page.status().as_u16(), 500);
    let answered = app.post_form(&format!("/s/{token}"), &SHORT_FORM).await?;
    assert_eq!(answered.status().as_u16(), 500);
    assert_eq!(
        app.count("responses")?,
        0,
        "nothing stored under a guessed channel"
    );
    Ok(())
}
