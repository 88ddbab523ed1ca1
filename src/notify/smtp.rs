//! The `smtp` channel: a site relay (often port 25, no auth) or any SMTP
//! server, through lettre.
//!
//! Nothing connects until the first send. lettre encodes a non-ASCII
//! subject per RFC 2047 and picks a transfer encoding for the UTF-8 body;
//! CR and LF never reach a header because the subject is made
//! header-safe before it gets here, and lettre refuses raw line breaks in
//! addresses.

use lettre::{
    address::{Address, Envelope},
    message::{
        header::{self, ContentType, HeaderName, HeaderValue},
        Mailbox, Mailboxes,
    },
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
    },
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
};

use super::{Channel, Message, SendError, SendFuture};
use crate::config::{SmtpSettings, SmtpTls};

/// Sends through one SMTP relay.
pub(crate) struct SmtpChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

fn failed(message: impl Into<String>, transient: bool) -> SendError {
    SendError {
        channel: "smtp",
        message: message.into(),
        transient,
    }
}

impl SmtpChannel {
    /// Prepares the transport; connects nowhere yet.
    pub(crate) fn new(
        settings: &SmtpSettings,
        timeout: std::time::Duration,
    ) -> Result<Self, SendError> {
        // The platform's trust store (lettre's rustls-native-certs), plus
        // the site CA of smtp_ca_file.
        let ca = match &settings.ca_file {
            None => None,
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    failed(
                        format!("email.smtp_ca_file: cannot read {}: {e}", path.display()),
                        false,
                    )
                })?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    failed(format!("email.smtp_ca_file {}: {e}", path.display()), false)
                })?;
                Some(cert)
            }
        };
        let tls = |host: &str| {
            let builder = TlsParameters::builder(host.to_owned());
            let builder = match &ca {
                Some(cert) => builder.add_root_certificate(cert.clone()),
                None => builder,
            };
            builder
                .build_rustls()
                .map_err(|e| failed(format!("TLS set-up for {host}: {e}"), false))
        };
        let builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.clone())
                .port(settings.port)
                .timeout(Some(timeout))
                .tls(match settings.tls {
                    SmtpTls::None => Tls::None,
                    SmtpTls::StartTls => Tls::Required(tls(&settings.host)?),
                    SmtpTls::Required => Tls::Wrapper(tls(&settings.host)?),
                });
        let builder = match &settings.auth {
            Some((user, password)) => {
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()))
            }
            None => builder,
        };
        Ok(SmtpChannel {
            transport: builder.build(),
        })
    }
}

/// Recipients named in the `To:` header at most; beyond, the header says
/// `undisclosed-recipients:;` and the addresses travel in the envelope
/// only. A long list would make a header few readers want, and some
/// relays refuse a message whose header block is large.
const MAX_TO_HEADER: usize = 20;

/// Whether a rustls error is among the causes (lettre reports a failed
/// handshake as a connection error; tokio-rustls hides the rustls error
/// inside an I/O error, whose own `source` skips it).
fn tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.is::<rustls::Error>());
        if inner || e.is::<rustls::Error>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Builds the MIME message (plain text, UTF-8) and its envelope, which
/// carries every recipient. Built in one pass: adding mailboxes one by
/// one re-parses the header each time, quadratic in the recipients.
fn mime(message: &Message) -> Result<lettre::Message, SendError> {
    let from: Mailbox = message
        .from
        .parse()
        .map_err(|e| failed(format!("sender {:?}: {e}", message.from), false))?;
    // The tick drops tokens that are not addresses before a send; one
    // arriving here anyway fails the send rather than being skipped.
    let to = message
        .to
        .iter()
        .map(|to| {
            to.parse::<Address>()
                .map_err(|e| failed(format!("recipient {to:?}: {e}"), false))
        })
        .collect::<Result<Vec<Address>, SendError>>()?;
    let envelope = Envelope::new(Some(from.email.clone()), to.clone())
        .map_err(|e| failed(format!("the envelope: {e}"), false))?;
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(message.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .envelope(envelope);
    builder = if to.len() <= MAX_TO_HEADER {
        let mailboxes: Mailboxes = to.into_iter().map(|a| Mailbox::new(None, a)).collect();
        builder.mailbox(header::To::from(mailboxes))
    } else {
        builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("To"),
            "undisclosed-recipients:;".to_owned(),
        ))
    };
    builder
        .body(message.body.clone())
        .map_err(|e| failed(format!("composing the message: {e}"), false))
}

impl Channel for SmtpChannel {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            let mime = mime(message)?;
            self.transport
                .send(mime)
                .await
                .map(|reply| {
                    let text: Vec<&str> = reply.message().collect();
                    Some(format!("{} {}", reply.code(), text.join(" ")))
                })
                .map_err(|e| {
                    // A certificate the relay presents does not fix itself between
                    // attempts: a TLS failure needs the configuration fixed.
                    let transient = !e.is_permanent() && !e.is_tls() && !tls_failure(&e);
                    failed(crate::error_chain(&e, ": "), transient)
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(subject: &str) -> Message {
        Message {
            from: "alarms@example.org".into(),
            to: vec!["a@example.org".into(), "b@example.org".into()],
            subject: subject.into(),
            body: "Grüße\nline two\n".into(),
        }
    }

    #[test]
    fn non_ascii_subject_is_encoded_and_body_is_utf8_text() {
        let raw = String::from_utf8(
            mime(&message("Tâche 35981 échoue"))
                .expect("builds")
                .formatted(),
        )
        .expect("ascii on the wire");
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(raw.contains("To: a@example.org, b@example.org"), "{raw}");
    }

    #[test]
    fn ten_thousand_recipients_go_in_the_envelope_with_short_lines() {
        let mut m = message("x");
        m.to = (0..10_000)
            .map(|i| format!("person.{i}@example.org"))
            .collect();
        let built = mime(&m).expect("builds");
        assert_eq!(built.envelope().to().len(), 10_000);
        let raw = String::from_utf8(built.formatted()).expect("ascii");
        let longest = raw.lines().map(str::len).max().unwrap_or(0);
        assert!(longest <= 998, "a line of {longest} characters");
        assert!(raw.contains("To: undisclosed-recipients:;"), "{raw}");

        m.to.truncate(MAX_TO_HEADER);
        let raw = String::from_utf8(mime(&m).expect("builds").formatted()).expect("ascii");
        assert!(raw.lines().all(|l| l.len() <= 998));
        assert!(raw.contains("person.19@example.org"), "{raw}");
    }

    #[test]
    fn a_bad_recipient_is_a_permanent_failure() {
        let mut m = message("x");
        m.to = vec!["not an address\r\nBcc: victim@example.org".into()];
        let err = mime(&m).unwrap_err();
        assert!(!err.transient);
    }
}
