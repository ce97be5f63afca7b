//! The HTTP gateway that sends one SMS or Zalo notification: a JSON POST built from the
//! configured template, with the credentials header and the message's own id on this channel
//! (the same on every retry, so a provider that keeps request ids sends a retried message once).
//! The answer decides: accepted (2xx, and the configured success field if any, or a code saying
//! the id was already accepted: a retry after a lost answer), a transient failure (no answer, a
//! timeout, 408, 429, 5xx, or a code configured as transient: tried again later on the same
//! channel), or refused for good (anything else: the next channel is tried).
//!
//! What is kept of an answer (in the outbox and the logs) is its status and code only, never
//! the provider's text, which may repeat the citizen's number.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::GatewaySettings;

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 11] = [
    "id",
    "phone",
    "phone_local",
    "text",
    "link",
    "token",
    "agency",
    "procedure",
    "expires",
    "kind",
    "unsubscribe",
];

/// A parsed body template.
#[derive(Debug, Clone)]
pub struct Template(serde_json::Value);

impl Template {
    /// Parses `text` as JSON and checks that every `{{name}}` is a known placeholder.
    pub fn parse(text: &str) -> Result<Template, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let mut problem = None;
        walk(&value, &mut |s| {
            for name in placeholders(s) {
                if !PLACEHOLDERS.contains(&name) && problem.is_none() {
                    problem = Some(format!(
                        "unknown placeholder {{{{{name}}}}} (known: {})",
                        PLACEHOLDERS.join(", ")
                    ));
                }
            }
        });
        match problem {
            Some(p) => Err(p),
            None => Ok(Template(value)),
        }
    }

    /// The body with every placeholder replaced by its value (JSON-escaped by serialisation:
    /// a value can never change the body's structure).
    pub fn render(&self, values: &BTreeMap<&str, String>) -> String {
        let mut body = self.0.clone();
        fill(&mut body, values);
        body.to_string()
    }
}

fn walk(value: &serde_json::Value, f: &mut impl FnMut(&str)) {
    match value {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, f)),
        serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, f)),
        _ => {}
    }
}

fn fill(value: &mut serde_json::Value, values: &BTreeMap<&str, String>) {
    match value {
        serde_json::Value::String(s) => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                match after.find("}}") {
                    Some(end) => {
                        let name = &after[..end];
                        out.push_str(values.get(name).map_or("", String::as_str));
                        rest = &after[end + 2..];
                    }
                    None => {
                        out.push_str(&rest[start..]);
                        rest = "";
                    }
                }
            }
            out.push_str(rest);
            *s = out;
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| fill(v, values)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| fill(v, values)),
        _ => {}
    }
}

fn placeholders(s: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        names.push(&after[..end]);
        rest = &after[end + 2..];
    }
    names
}

/// What a send attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    /// Refused for good on this channel: the next one is tried.
    Refused(String),
    /// Try again later on this channel.
    Transient(String),
}

/// What the values of the success field mean.
#[derive(Debug, Clone, Default)]
pub struct Codes {
    /// The JSON pointer to the provider's code; empty: any 2xx answer is accepted.
    pub field: String,
    /// Accepted.
    pub success: Vec<String>,
    /// The request id was accepted before (a retry after a lost answer): accepted.
    pub duplicate: Vec<String>,
    /// Not now (an expired token, a rate limit, an empty balance): tried again later.
    pub transient: Vec<String>,
}

/// A configured gateway.
#[derive(Debug, Clone)]
pub struct Gateway {
    url: String,
    auth: Option<(String, String)>,
    template: Template,
    codes: Codes,
    agent: ureq::Agent,
}

impl Gateway {
    /// The gateway of `settings` (validated at load); `None` when its URL is empty.
    pub fn new(settings: &GatewaySettings) -> Result<Option<Gateway>, String> {
        if !settings.is_on() {
            return Ok(None);
        }
        let auth = settings
            .auth_header
            .split_once(':')
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .filter(|(n, _)| !n.is_empty());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(settings.timeout_secs)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Some(Gateway {
            url: settings.url.trim().to_owned(),
            auth,
            template: Template::parse(&settings.template)?,
            codes: Codes {
                field: settings.success_field.clone(),
                success: settings.success_values.clone(),
                duplicate: settings.duplicate_values.clone(),
                transient: settings.transient_values.clone(),
            },
            agent,
        }))
    }

    /// Posts one message.
    pub fn send(&self, values: &BTreeMap<&str, String>) -> Outcome {
        let body = self.template.render(values);
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json; charset=utf-8");
        if let Some((name, value)) = &self.auth {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = match request.send(body.as_str()) {
            Ok(r) => r,
            // The kind only: an error's text may name the request.
            Err(ureq::Error::Timeout(_)) => {
                return Outcome::Transient("no answer from the gateway (timeout)".into());
            }
            Err(ureq::Error::Io(e)) => {
                return Outcome::Transient(format!("gateway unreachable ({:?})", e.kind()));
            }
            Err(_) => return Outcome::Transient("gateway unreachable".into()),
        };
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        classify(status, &text, &self.codes)
    }
}

/// Decides what the provider's answer means. The outcome's text is the status and the code,
/// never the body.
pub fn classify(status: u16, body: &str, codes: &Codes) -> Outcome {
    match status {
        200..=299 if codes.field.is_empty() => Outcome::Accepted,
        200..=299 => {
            let value = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.pointer(&codes.field).cloned());
            let Some(value) = value else {
                return Outcome::Refused(format!("HTTP {status}, no {}", codes.field));
            };
            let code = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            if codes.success.contains(&code) || codes.duplicate.contains(&code) {
                return Outcome::Accepted;
            }
            // A code is short and plain; anything else is not kept.
            let shown = if code.len() <= 24
                && code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                code.as_str()
            } else {
                "?"
            };
            let what = format!("HTTP {status}, {} = {shown}", codes.field);
            if codes.transient.contains(&code) {
                Outcome::Transient(what)
            } else {
                Outcome::Refused(what)
            }
        }
        408 | 425 | 429 | 500..=599 => Outcome::Transient(format!("HTTP {status}")),
        _ => Outcome::Refused(format!("HTTP {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_checked_and_values_cannot_break_the_json() -> Result<(), String> {
        assert!(Template::parse("{\"to\": \"{{phone}}\"").is_err());
        let unknown = Template::parse(r#"{"to": "{{phone}}", "x": "{{password}}"}"#);
        assert!(unknown.is_err_and(|e| e.contains("{{password}}")));
        let t = Template::parse(
            r#"{"phone": "{{phone}}", "data": {"name": "{{agency}} ({{kind}})", "n": 3}, "list": ["{{id}}"]}"#,
        )?;
        let values = BTreeMap::from([
            ("phone", "84912345678".to_owned()),
            ("agency", "Sở \"Tư\" pháp\n}".to_owned()),
            ("kind", "invitation".to_owned()),
            ("id", "abc".to_owned()),
        ]);
        let body: serde_json::Value =
            serde_json::from_str(&t.render(&values)).map_err(|e| e.to_string())?;
        assert_eq!(body["phone"], "84912345678");
        assert_eq!(body["data"]["name"], "Sở \"Tư\" pháp\n} (invitation)");
        assert_eq!(body["data"]["n"], 3);
        assert_eq!(body["list"][0], "abc");
        Ok(())
    }

    #[test]
    fn answers_are_read_as_providers_mean_them() {
        let none = Codes::default();
        assert_eq!(classify(200, "", &none), Outcome::Accepted);
        assert!(matches!(
            classify(503, "busy", &none),
            Outcome::Transient(_)
        ));
        assert!(matches!(classify(429, "", &none), Outcome::Transient(_)));
        assert!(matches!(
            classify(400, "bad phone", &none),
            Outcome::Refused(_)
        ));
        // Zalo answers 200 with {"error": 0} on success and a negative code otherwise; -100
        // ("unknown error, try again later") configured as transient.
        let zalo = Codes {
            field: "/error".into(),
            success: vec!["0".into()],
            transient: vec!["-100".into()],
            ..Codes::default()
        };
        assert_eq!(
            classify(200, r#"{"error":0,"message":"Success"}"#, &zalo),
            Outcome::Accepted
        );
        assert!(matches!(
            classify(200, r#"{"error":-118,"message":"Zalo account not existed"}"#, &zalo),
            Outcome::Refused(m) if m.contains("-118")
        ));
        assert!(matches!(
            classify(200, r#"{"error":-100,"message":"Unknown error"}"#, &zalo),
            Outcome::Transient(m) if m.contains("-100")
        ));
        // eSMS-style: {"CodeResult": "100"}; "124" is a request id it accepted before.
        let esms = Codes {
            field: "/CodeResult".into(),
            success: vec!["100".into()],
            duplicate: vec!["124".into()],
            transient: vec!["103".into()],
        };
        assert_eq!(
            classify(200, r#"{"CodeResult":"100","SMSID":"x"}"#, &esms),
            Outcome::Accepted
        );
        assert_eq!(
            classify(
                200,
                r#"{"CodeResult":"124","ErrorMessage":"Duplicate RequestId"}"#,
                &esms
            ),
            Outcome::Accepted
        );
        assert!(matches!(
            classify(200, r#"{"CodeResult":"103"}"#, &esms),
            Outcome::Transient(_)
        ));
        assert!(matches!(
            classify(200, "not json", &esms),
            Outcome::Refused(_)
        ));
        // The provider's text, and a "code" that is really text, are never kept.
        for body in [
            r#"{"CodeResult":"99","ErrorMessage":"0912345678 is blocked"}"#,
            r#"{"CodeResult":"number 0912345678 blocked"}"#,
        ] {
            assert!(matches!(
                classify(200, body, &esms),
                Outcome::Refused(m) if !m.contains("912345678")
            ));
        }
        assert!(matches!(
            classify(400, "0912345678 invalid", &none),
            Outcome::Refused(m) if m == "HTTP 400"
        ));
    }
}
