//! Email: the configured transport (SMTP or `.eml` files), the outbox every message goes through,
//! and the digests and alerts that fill it.

pub mod alert;
pub mod digest;
pub mod outbox;
pub mod recipients;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{FileTransport, Message, SmtpTransport, Transport};

use crate::config::{MailSettings, MailTransport, Settings, SmtpTls};

/// The domain Message-IDs name: the sender's (`mail.from`), else the host of
/// `server.public_url`, whichever is a plain ASCII domain name (a Message-ID's right-hand side
/// may not hold a domain literal or Unicode); `sipas.invalid` (a reserved name) otherwise.
pub fn message_domain(settings: &Settings) -> String {
    let sender = settings
        .mail
        .from
        .parse::<Mailbox>()
        .ok()
        .map(|m| m.email.domain().to_owned());
    let url = settings.public_url();
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?', '#'])
        .next()
        .map(|authority| authority.rsplit('@').next().unwrap_or(authority))
        .map(|host| host.split(':').next().unwrap_or(host).to_owned());
    [sender, host]
        .into_iter()
        .flatten()
        .map(|d| d.to_ascii_lowercase())
        .find(|d| is_domain_name(d))
        .unwrap_or_else(|| "sipas.invalid".to_owned())
}

/// Letters, digits and hyphens in dot-separated labels, with at least one dot.
fn is_domain_name(d: &str) -> bool {
    d.contains('.')
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("file transport: {0}")]
    File(#[from] lettre::transport::file::Error),
    #[error("mail is switched off ([mail] transport = \"none\")")]
    Off,
}

/// Sends messages with the configured transport.
#[derive(Clone)]
pub struct Mailer {
    settings: MailSettings,
    transport: Option<Sender>,
}

#[derive(Clone)]
enum Sender {
    Smtp(SmtpTransport),
    File(FileTransport),
}

impl Mailer {
    /// Builds the transport from the settings (already validated at load).
    pub fn new(settings: &MailSettings) -> Result<Mailer, SendError> {
        let transport = match settings.transport {
            MailTransport::None => None,
            MailTransport::File => {
                std::fs::create_dir_all(&settings.file_dir)
                    .map_err(|e| SendError::Build(e.to_string()))?;
                Some(Sender::File(FileTransport::new(&settings.file_dir)))
            }
            MailTransport::Smtp => {
                let host = settings.smtp_host.as_str();
                let builder = match settings.smtp_tls {
                    SmtpTls::None => SmtpTransport::builder_dangerous(host),
                    SmtpTls::Starttls => SmtpTransport::starttls_relay(host)?,
                    SmtpTls::Tls => SmtpTransport::relay(host)?,
                };
                let mut builder = builder
                    .port(settings.smtp_port)
                    .timeout(Some(std::time::Duration::from_secs(20)));
                if let (Some(user), Some(password)) =
                    (&settings.smtp_username, &settings.smtp_password)
                {
                    builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
                }
                Some(Sender::Smtp(builder.build()))
            }
        };
        Ok(Mailer {
            settings: settings.clone(),
            transport,
        })
    }

    /// True unless mail is switched off.
    pub fn is_on(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends one message as multipart/alternative (plain text and HTML) with the Message-ID
    /// stored with its outbox row, so that a repeated delivery is recognisable.
    pub fn send(&self, email: &Email, message_id: &str) -> Result<(), SendError> {
        self.send_with_unsubscribe(email, message_id, None)
    }

    /// Like [`Mailer::send`], with `List-Unsubscribe` (and RFC 8058 one-click) headers naming
    /// `unsubscribe` when given: a citizen's mail client then offers the opt-out link itself.
    pub fn send_with_unsubscribe(
        &self,
        email: &Email,
        message_id: &str,
        unsubscribe: Option<&str>,
    ) -> Result<(), SendError> {
        let from: Mailbox = self
            .settings
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| SendError::Build(e.to_string()))?;
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e: lettre::address::AddressError| SendError::Build(e.to_string()))?;
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(message_id.to_owned()));
        if let Some(reply) = &self.settings.reply_to
            && let Ok(mailbox) = reply.parse::<Mailbox>()
        {
            builder = builder.reply_to(mailbox);
        }
        if let Some(url) = unsubscribe {
            builder = builder
                .header(ListUnsubscribe(format!("<{url}>")))
                .header(ListUnsubscribePost);
        }
        let message = builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(email.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(email.html.clone()),
                    ),
            )
            .map_err(|e| SendError::Build(e.to_string()))?;
        match &self.transport {
            Some(Sender::Smtp(t)) => t.send(&message).map(|_| ()).map_err(SendError::from),
            Some(Sender::File(t)) => t.send(&message).map(|_| ()).map_err(SendError::from),
            None => Err(SendError::Off),
        }
    }
}

/// The `List-Unsubscribe` header (RFC 2369).
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): the link unsubscribes with
/// one POST, without a page to confirm on.
#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(from: &str, public_url: &str) -> String {
        let mut s = Settings::default();
        s.mail.from = from.into();
        s.server.public_url = public_url.into();
        message_domain(&s)
    }

    #[test]
    fn message_ids_name_the_sender_or_the_site() {
        assert_eq!(
            domain("SIPAS <khaosat@ThaiNguyen.gov.vn>", "https://x.vn"),
            "thainguyen.gov.vn"
        );
        assert_eq!(
            domain("khaosat@[10.0.0.1]", "https://khaosat.tn.gov.vn:8443/"),
            "khaosat.tn.gov.vn"
        );
        assert_eq!(
            domain("khaosat@localhost", "http://localhost:8080"),
            "sipas.invalid"
        );
        assert_eq!(
            domain("not an address", "http://[::1]:8080"),
            "sipas.invalid"
        );
    }
}
