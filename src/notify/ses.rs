//! The `ses` channel: AWS SES through the official SDK (API v2,
//! SendEmail with simple content, UTF-8 subject and body).
//!
//! Credentials come from the standard AWS chain (environment, profile,
//! instance role). `endpoint_url` points the client at a VPC endpoint, or
//! at a local SES-compatible server in tests.

use aws_sdk_sesv2::{
    config::{retry::RetryConfig, timeout::TimeoutConfig, Region},
    error::{ProvideErrorMetadata, SdkError},
    types::{Body, Content, Destination, EmailContent, Message as SesMessage},
    Client,
};

use super::{Channel, Message, SendError, SendFuture};
use crate::config::SesSettings;

/// Sends through SES.
pub(crate) struct SesChannel {
    client: Client,
}

fn failed(message: impl Into<String>, transient: bool) -> SendError {
    SendError {
        channel: "ses",
        message: message.into(),
        transient,
    }
}

impl SesChannel {
    /// Prepares the client; credentials are looked up at the first send.
    pub(crate) async fn new(settings: &SesSettings, timeout: std::time::Duration) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            // One quick retry inside the send; the tick retries the rest.
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(timeout)
                    .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
                    .build(),
            );
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        SesChannel {
            client: Client::new(&loader.load().await),
        }
    }
}

fn utf8(text: &str) -> Result<Content, SendError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| failed(format!("composing the message: {e}"), false))
}

impl Channel for SesChannel {
    fn name(&self) -> &'static str {
        "ses"
    }

    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            // SES takes at most 50 recipients per message: a longer list
            // goes out as several messages, each to one batch. A failure
            // part-way fails the send; the next tick sends the bundle again
            // (at least once, as for any failed send).
            let mut ids = Vec::new();
            for batch in message.to.chunks(SES_MAX_RECIPIENTS) {
                ids.extend(self.send_batch(message, batch).await?);
            }
            Ok((!ids.is_empty()).then(|| ids.join(", ")))
        })
    }
}

/// SES's limit of recipients per message (To, Cc and Bcc together).
const SES_MAX_RECIPIENTS: usize = 50;

impl SesChannel {
    async fn send_batch(
        &self,
        message: &Message,
        to: &[String],
    ) -> Result<Option<String>, SendError> {
        let content = EmailContent::builder()
            .simple(
                SesMessage::builder()
                    .subject(utf8(&message.subject)?)
                    .body(Body::builder().text(utf8(&message.body)?).build())
                    .build(),
            )
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(&message.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(to.to_vec()))
                    .build(),
            )
            .content(content)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.message_id().map(str::to_owned)),
            Err(SdkError::ServiceError(e)) => {
                let code = e.err().code().unwrap_or("unknown").to_owned();
                let detail = e.err().message().unwrap_or("").to_owned();
                let transient = matches!(
                    code.as_str(),
                    "TooManyRequestsException" | "Throttling" | "LimitExceededException"
                ) || e.raw().status().is_server_error();
                Err(failed(format!("{code}: {detail}"), transient))
            }
            Err(e) => Err(failed(crate::error_chain(&e, ": "), true)),
        }
    }
}
