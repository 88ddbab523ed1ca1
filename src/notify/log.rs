//! The `log` channel: prints what it would send. For local use and demos;
//! it counts as a successful send.

use super::{Channel, Message, SendFuture};

/// Writes each message to the log instead of mailing it.
pub(crate) struct LogChannel;

impl Channel for LogChannel {
    fn name(&self) -> &'static str {
        "log"
    }

    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            tracing::info!(
                "Email (log channel, not sent).\nFrom: {}\nTo: {}\nSubject: {}\n\n{}",
                message.from,
                message.to.join(", "),
                message.subject,
                message.body.trim_end()
            );
            Ok(None)
        })
    }
}
