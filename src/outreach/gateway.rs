//! The HTTP gateway that sends one SMS or Zalo notification: a JSON POST built from the
//! configured template, with the credentials header and the message's own id (the same on every
//! retry, so a provider that keeps request ids sends a retried message once). The answer decides:
//! accepted (2xx, and the configured success field if any), refused for good (another 4xx, or a
//! success field saying no: the next channel is tried), or a transient failure (no answer, a
//! timeout, 408, 429, 5xx: tried again later on the same channel).

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

/// A configured gateway.
#[derive(Debug, Clone)]
pub struct Gateway {
    url: String,
    auth: Option<(String, String)>,
    template: Template,
    success_field: String,
    success_values: Vec<String>,
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
            success_field: settings.success_field.clone(),
            success_values: settings.success_values.clone(),
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
            Err(e) => return Outcome::Transient(format!("gateway unreachable: {e}")),
        };
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        classify(status, &text, &self.success_field, &self.success_values)
    }
}

/// Decides what the provider's answer means.
pub fn classify(status: u16, body: &str, field: &str, accepted: &[String]) -> Outcome {
    let excerpt: String = body.chars().take(200).collect();
    match status {
        200..=299 if field.is_empty() => Outcome::Accepted,
        200..=299 => {
            let value = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.pointer(field).cloned());
            let text = match &value {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            if value.is_some() && accepted.contains(&text) {
                Outcome::Accepted
            } else {
                Outcome::Refused(format!("HTTP {status}, {field} = {text:?}: {excerpt}"))
            }
        }
        408 | 425 | 429 | 500..=599 => Outcome::Transient(format!("HTTP {status}: {excerpt}")),
        _ => Outcome::Refused(format!("HTTP {status}: {excerpt}")),
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
        let none: [String; 0] = [];
        assert_eq!(classify(200, "", "", &none), Outcome::Accepted);
        assert!(matches!(
            classify(503, "busy", "", &none),
            Outcome::Transient(_)
        ));
        assert!(matches!(
            classify(429, "", "", &none),
            Outcome::Transient(_)
        ));
        assert!(matches!(
            classify(400, "bad phone", "", &none),
            Outcome::Refused(_)
        ));
        // Zalo answers 200 with {"error": 0} on success and a negative code otherwise.
        let zero = ["0".to_owned()];
        assert_eq!(
            classify(200, r#"{"error":0,"message":"Success"}"#, "/error", &zero),
            Outcome::Accepted
        );
        assert!(matches!(
            classify(200, r#"{"error":-118,"message":"Zalo account not existed"}"#, "/error", &zero),
            Outcome::Refused(m) if m.contains("-118")
        ));
        // eSMS-style: {"CodeResult": "100"}.
        let hundred = ["100".to_owned()];
        assert_eq!(
            classify(
                200,
                r#"{"CodeResult":"100","SMSID":"x"}"#,
                "/CodeResult",
                &hundred
            ),
            Outcome::Accepted
        );
        assert!(matches!(
            classify(200, "not json", "/CodeResult", &hundred),
            Outcome::Refused(_)
        ));
    }
}
