//! Signing in through the form (as a client address behind the trusted proxy) and browsing as
//! a signed-in user.

use crate::helpers::{TestApp, select};

/// Signs in as `email` from the client address `from`.
pub async fn sign_in(
    app: &TestApp,
    email: &str,
    password: &str,
    from: &str,
) -> Result<reqwest::Response, Box<dyn std::error::Error>> {
    let page = app.client.get(app.url("/admin/login")).send().await?;
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix("sipas_login_csrf=")?
                .split(';')
                .next()
                .map(str::to_owned)
        })
        .ok_or("no csrf cookie")?;
    let body = serde_urlencoded::to_string([
        ("csrf", cookie.as_str()),
        ("email", email),
        ("password", password),
    ])?;
    Ok(app
        .client
        .post(app.url("/admin/login"))
        .header("Cookie", format!("sipas_login_csrf={cookie}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Forwarded-For", from)
        .body(body)
        .send()
        .await?)
}

pub fn session_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix("sipas_session=")?
                .split(';')
                .next()
                .map(str::to_owned)
        })
        .filter(|v| !v.is_empty())
}

pub async fn get(
    app: &TestApp,
    path: &str,
    session: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    app.client
        .get(app.url(path))
        .header("Cookie", format!("sipas_session={session}"))
        .send()
        .await
}

pub async fn csrf_of(
    app: &TestApp,
    path: &str,
    session: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let html = scraper::Html::parse_document(&get(app, path, session).await?.text().await?);
    Ok(select(&html, "input[name=csrf]")
        .first()
        .and_then(|e| e.value().attr("value"))
        .ok_or("no csrf")?
        .to_owned())
}

pub async fn post(
    app: &TestApp,
    path: &str,
    session: &str,
    fields: &[(&str, &str)],
) -> Result<reqwest::Response, reqwest::Error> {
    app.client
        .post(app.url(path))
        .header("Cookie", format!("sipas_session={session}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).unwrap_or_default())
        .send()
        .await
}

pub fn location(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
}
