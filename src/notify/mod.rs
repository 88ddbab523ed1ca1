//! Sending an alarm's bundle: the message, the channel trait, and the
//! channels (`log` here; SES and SMTP in their own modules).
//!
//! A channel reports success or failure and never panics; the tick stamps
//! `last_notified` only after a success, so a failed send is carried to
//! the next tick.

pub(crate) mod compose;
mod log;
mod ses;
mod smtp;

use std::{future::Future, pin::Pin};

use crate::config::{EmailConfig, Provider};

/// One email, ready for a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub from: String,
    pub to: Vec<String>,
    /// Already safe for a header: see [`header_text`].
    pub subject: String,
    pub body: String,
}

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
#[error("{channel}: {message} ({})", if *.transient { "transient: likely to pass on a later tick" } else { "permanent: the configuration, sender or a recipient needs fixing" })]
pub(crate) struct SendError {
    pub channel: &'static str,
    pub message: String,
    /// Whether trying again soon may succeed (connection refused, a
    /// timeout, a 4xx from a relay) as opposed to a permanent refusal.
    pub transient: bool,
}

/// The future a channel returns: on success, the provider's id for the
/// message when it gives one (SES's MessageId, the SMTP relay's reply),
/// for the ledger.
pub(crate) type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<String>, SendError>> + Send + 'a>>;

/// Something that delivers a [`Message`].
pub(crate) trait Channel: Send + Sync {
    /// The provider name, for logs and the run record.
    fn name(&self) -> &'static str;
    /// Delivers one message, or says why not.
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a>;
}

/// Builds the configured channel. Nothing connects until the first send.
pub(crate) async fn channel(config: &EmailConfig) -> Result<Box<dyn Channel>, SendError> {
    Ok(match &config.provider {
        Provider::Log => Box::new(log::LogChannel),
        Provider::Smtp(settings) => Box::new(smtp::SmtpChannel::new(settings, config.timeout)?),
        Provider::Ses(settings) => Box::new(ses::SesChannel::new(settings, config.timeout).await),
    })
}

/// Makes upstream text safe for a mail header: every control character
/// (CR and LF included) becomes a space, runs of white space collapse,
/// and the result is cut to `max_chars` characters on a char boundary.
pub(crate) fn header_text(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut pending_space = false;
    let mut chars = 0;
    for c in text.chars() {
        if c.is_control() || c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        let needed = if pending_space { 2 } else { 1 };
        if chars + needed > max_chars {
            break;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
        chars += needed;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_drops_line_breaks_and_controls() {
        let evil = "task\r\nBcc: victim@example.org\u{0}\u{1b}[31m";
        let got = header_text(evil, 200);
        assert_eq!(got, "task Bcc: victim@example.org [31m");
        assert!(!got.contains('\r') && !got.contains('\n'));
    }

    #[test]
    fn header_text_cuts_on_a_char_boundary() {
        let got = header_text("ééééé", 3);
        assert_eq!(got, "ééé");
        assert_eq!(header_text("  a   b  ", 10), "a b");
    }
}
