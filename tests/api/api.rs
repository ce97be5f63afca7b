//! The dossier API: authentication, batches, idempotency, validation, OpenAPI, QR codes.

use serde_json::json;

use crate::helpers::{TestResult, dossier, spawn_app};

#[tokio::test]
async fn a_reported_dossier_gets_a_survey_link_and_qr_codes() -> TestResult {
    let app = spawn_app().await?;
    let response = app.post_dossiers(&dossier("HS-1", "T-SO", false)).await?;
    assert_eq!(response.status().as_u16(), 201);
    let json: serde_json::Value = response.json().await?;
    assert_eq!(json["status"], "created");
    assert_eq!(json["dossier_code"], "HS-1");
    let url = json["survey_url"].as_str().ok_or("no url")?;
    assert!(url.starts_with("https://khaosat.test/s/"), "{url}");
    let token = url.rsplit('/').next().ok_or("no token")?;
    assert!(token.len() >= 22, "a token carries at least 128 bits");
    assert_eq!(
        json["qr_svg_url"],
        format!("https://khaosat.test/q/{token}.svg")
    );
    assert!(
        json["expires_at"]
            .as_str()
            .is_some_and(|e| e.ends_with('Z'))
    );

    let svg = app
        .client
        .get(app.url(&format!("/q/{token}.svg")))
        .send()
        .await?;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await?.contains("<svg"));
    let png = app
        .client
        .get(app.url(&format!("/q/{token}.png")))
        .send()
        .await?;
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(&png.bytes().await?[..4], b"\x89PNG");
    let unknown = app
        .client
        .get(app.url("/q/AAAAAAAAAAAAAAAAAAAAAA.svg"))
        .send()
        .await?;
    assert_eq!(unknown.status().as_u16(), 404);

    // Only the hash of the token is stored.
    assert_eq!(
        app.count(&format!(
            "invitations WHERE token_hash = '{token}' OR token_seed = '{token}'"
        ))?,
        0
    );
    Ok(())
}

#[tokio::test]
async fn reporting_the_same_dossier_twice_returns_the_same_invitation() -> TestResult {
    let app = spawn_app().await?;
    let first: serde_json::Value = app
        .post_dossiers(&dossier("HS-2", "T-SO", false))
        .await?
        .json()
        .await?;
    let again = app.post_dossiers(&dossier("HS-2", "T-SO", false)).await?;
    assert_eq!(again.status().as_u16(), 200);
    let again: serde_json::Value = again.json().await?;
    assert_eq!(again["status"], "existing");
    assert_eq!(first["survey_url"], again["survey_url"]);
    assert_eq!(app.count("invitations")?, 1);
    // The same code at another agency is another dossier.
    let other = app.post_dossiers(&dossier("HS-2", "T-XA", false)).await?;
    assert_eq!(other.status().as_u16(), 201);
    Ok(())
}

#[tokio::test]
async fn a_batch_is_stored_whole_or_not_at_all() -> TestResult {
    let app = spawn_app().await?;
    let batch = json!([
        dossier("B-1", "T-SO", false),
        dossier("B-2", "T-HUYEN", true),
        dossier("B-1", "T-SO", false)
    ]);
    let response = app.post_dossiers(&batch).await?;
    assert_eq!(response.status().as_u16(), 201);
    let json: serde_json::Value = response.json().await?;
    let list = json["invitations"].as_array().ok_or("no list")?;
    assert_eq!(list.len(), 3);
    assert_eq!(
        list[0]["survey_url"], list[2]["survey_url"],
        "a repeat inside one batch is the same invitation"
    );
    assert_eq!(app.count("invitations")?, 2);

    let mut bad_date = dossier("B-4", "T-SO", false);
    bad_date["returned_at"] = json!("2026-01-01T00:00:00+07:00");
    let mixed = json!([
        dossier("B-3", "T-SO", false),
        dossier("B-5", "NOPE", false),
        bad_date
    ]);
    let response = app.post_dossiers(&mixed).await?;
    assert_eq!(response.status().as_u16(), 422);
    let json: serde_json::Value = response.json().await?;
    let details = json["error"]["details"].as_array().ok_or("no details")?;
    assert!(
        details
            .iter()
            .any(|d| d["index"] == 2 && d["field"] == "returned_at"),
        "{json}"
    );
    assert!(
        json["error"]["message_vi"]
            .as_str()
            .is_some_and(|m| m.contains("hồ sơ"))
    );
    let unknown = app
        .post_dossiers(&json!([
            dossier("B-3", "T-SO", false),
            dossier("B-5", "NOPE", false)
        ]))
        .await?;
    assert_eq!(unknown.status().as_u16(), 422);
    let json: serde_json::Value = unknown.json().await?;
    assert_eq!(json["error"]["details"][0]["index"], 1);
    assert_eq!(json["error"]["details"][0]["field"], "agency_code");
    assert_eq!(
        app.count("invitations")?,
        2,
        "nothing from a refused batch is stored"
    );

    let too_many: Vec<_> = (0..1001)
        .map(|i| dossier(&format!("X-{i}"), "T-SO", false))
        .collect();
    let response = app.post_dossiers(&json!(too_many)).await?;
    assert_eq!(response.status().as_u16(), 422);
    let thousand: Vec<_> = (0..1000)
        .map(|i| dossier(&format!("Y-{i}"), "T-SO", false))
        .collect();
    let response = app.post_dossiers(&json!(thousand)).await?;
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(app.count("invitations")?, 1002);
    Ok(())
}

#[tokio::test]
async fn keys_are_checked_and_scoped() -> TestResult {
    let app = spawn_app().await?;
    let url = app.url("/api/v1/dossiers");
    let body = dossier("A-1", "T-SO", false);
    let none = app.client.post(&url).json(&body).send().await?;
    assert_eq!(none.status().as_u16(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    let forged = format!("sipas_{}", "A".repeat(43));
    let wrong = app
        .client
        .post(&url)
        .bearer_auth(forged)
        .json(&body)
        .send()
        .await?;
    assert_eq!(wrong.status().as_u16(), 401);

    // The province key (TT) may not report for another province's agency.
    let other = app.post_dossiers(&dossier("A-2", "O-SO", false)).await?;
    assert_eq!(other.status().as_u16(), 422);

    // An agency key covers its agency and the agencies under it, nothing else.
    let district_key = {
        let mut conn = app.conn()?;
        sipas::apikeys::create(
            &mut conn,
            &sipas::apikeys::Owner::Agency("T-HUYEN".into()),
            crate::helpers::now(),
        )?
    };
    let send = |agency: &str| {
        app.client
            .post(&url)
            .bearer_auth(district_key.as_str())
            .json(&dossier(&format!("D-{agency}"), agency, false))
            .send()
    };
    assert_eq!(send("T-XA").await?.status().as_u16(), 201);
    assert_eq!(send("T-HUYEN").await?.status().as_u16(), 201);
    assert_eq!(send("T-SO").await?.status().as_u16(), 422);

    // A revoked key stops working at once.
    {
        let mut conn = app.conn()?;
        assert_eq!(
            sipas::apikeys::revoke(&mut conn, district_key.prefix(), crate::helpers::now())?,
            1
        );
    }
    assert_eq!(send("T-XA").await?.status().as_u16(), 401);
    Ok(())
}

#[tokio::test]
async fn malformed_requests_get_clear_errors() -> TestResult {
    let app = spawn_app().await?;
    let url = app.url("/api/v1/dossiers");
    let post = |body: &'static str, content_type: &'static str| {
        app.client
            .post(&url)
            .bearer_auth(&app.api_key)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let bad_json = post("{\"dossier_code\": ", "application/json").await?;
    assert_eq!(bad_json.status().as_u16(), 400);
    let json: serde_json::Value = bad_json.json().await?;
    assert_eq!(json["error"]["code"], "bad_json");
    assert_eq!(
        post("dossier_code=1", "application/x-www-form-urlencoded")
            .await?
            .status()
            .as_u16(),
        415
    );
    assert_eq!(post("42", "application/json").await?.status().as_u16(), 400);
    assert_eq!(post("[]", "application/json").await?.status().as_u16(), 422);
    let wrong_shape = post("{\"dossier_code\": 5}", "application/json").await?;
    assert_eq!(wrong_shape.status().as_u16(), 422);
    let mut bad = dossier("M-1", "T-SO", false);
    bad["channel"] = serde_json::json!("fax");
    bad["received_at"] = serde_json::json!("15/01/2026");
    let response = app.post_dossiers(&bad).await?;
    assert_eq!(response.status().as_u16(), 422);
    let json: serde_json::Value = response.json().await?;
    let fields: Vec<&str> = json["error"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert_eq!(fields, ["channel", "received_at"]);
    assert_eq!(app.count("invitations")?, 0);
    Ok(())
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() -> TestResult {
    let app = spawn_app().await?;
    let doc: serde_json::Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let post = &doc["paths"]["/api/v1/dossiers"]["post"];
    assert!(post.is_object());
    for status in ["200", "201", "400", "401", "415", "422"] {
        assert!(
            post["responses"][status].is_object(),
            "response {status} documented"
        );
    }
    let schema = &doc["components"]["schemas"]["DossierReport"];
    for field in [
        "dossier_code",
        "agency_code",
        "procedure_code",
        "channel",
        "received_at",
        "returned_at",
    ] {
        assert!(
            schema["properties"][field].is_object(),
            "{field} documented"
        );
    }
    Ok(())
}
