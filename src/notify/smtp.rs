//! The `smtp` channel: a site relay (often port 25, no auth) or any SMTP
//! server, through lettre.
//!
//! Nothing connects until the first send. lettre encodes a non-ASCII
//! subject per RFC 2047 and picks a transfer encoding for the UTF-8 body;
//! CR and LF never reach a header because the subject is made
//! header-safe before it gets here, and lettre refuses raw line breaks in
//! addresses.

use lettre::{
    message::{header::ContentType, Mailbox},
    transport::smtp::{authentication::Credentials, client::Tls, client::TlsParameters},
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
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned())
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

/// Builds the MIME message: plain text, UTF-8.
fn mime(message: &Message) -> Result<lettre::Message, SendError> {
    let from: Mailbox = message
        .from
        .parse()
        .map_err(|e| failed(format!("sender {:?}: {e}", message.from), false))?;
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(message.subject.clone())
        .header(ContentType::TEXT_PLAIN);
    for to in &message.to {
        let mailbox: Mailbox = to
            .parse()
            .map_err(|e| failed(format!("recipient {to:?}: {e}"), false))?;
        builder = builder.to(mailbox);
    }
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
            self.transport.send(mime).await.map(|_| ()).map_err(|e| {
                let transient = !e.is_permanent();
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
            alarm: "alarm_x".into(),
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
    fn a_bad_recipient_is_a_permanent_failure() {
        let mut m = message("x");
        m.to = vec!["not an address\r\nBcc: victim@example.org".into()];
        let err = mime(&m).unwrap_err();
        assert!(!err.transient);
    }
}
