//! `/metrics`: Prometheus text on the metrics listener only, counting requests by route pattern
//! (never by path: no survey token in it), submissions by outcome and group-commit batches.

use crate::helpers::{SHORT_FORM, TestResult, spawn_app_with};

#[tokio::test]
async fn metrics_count_requests_and_submissions_on_their_own_listener() -> TestResult {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let app = spawn_app_with(move |s| s.server.metrics_bind = format!("127.0.0.1:{port}")).await?;
    let token = app.invite("MET-1", false).await?;
    let path = format!("/s/{token}");
    assert_eq!(
        app.post_form(&path, &SHORT_FORM).await?.status().as_u16(),
        303
    );
    assert_eq!(
        app.post_form(&path, &SHORT_FORM).await?.status().as_u16(),
        200,
        "sent twice: the thank-you page"
    );
    assert_eq!(
        app.client
            .get(app.url("/metrics"))
            .send()
            .await?
            .status()
            .as_u16(),
        404,
        "not on the public listener"
    );
    let scraped = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await?;
    assert_eq!(scraped.status().as_u16(), 200);
    assert!(
        scraped
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4"))
    );
    let text = scraped.text().await?;
    for line in [
        "sipas_http_requests_total{route=\"/s/{token}\",status=\"303\"} 1",
        "sipas_http_requests_total{route=\"/s/{token}\",status=\"200\"} 1",
        "sipas_http_requests_total{route=\"/metrics\",status=\"404\"} 1",
        "sipas_http_request_duration_seconds_count{route=\"/s/{token}\"} 2",
        "sipas_submissions_total{outcome=\"stored\"} 1",
        "sipas_submissions_total{outcome=\"already_used\"} 1",
        "sipas_submissions_total{outcome=\"failed\"} 0",
        "sipas_commit_batch_size_count 1",
        "sipas_outbox_pending 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("sipas_pool_wait_seconds_count ")
                && l.split(' ').nth(1).and_then(|n| n.parse::<u64>().ok()) > Some(0)),
        "pool checkouts are observed"
    );
    assert!(!text.contains(&token), "no survey token in the metrics");
    Ok(())
}
