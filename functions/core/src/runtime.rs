//! What every function's `main` does before serving: JSON logs and AWS configuration.

use std::time::Duration;

use crate::cfn::RawEvent;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use lambda_runtime::tracing::subscriber::{self, filter::LevelFilter};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};

use aws_lambda_events::sns::SnsEvent;
use serde_json::Value;
use tokio::time::Instant;

use crate::acceptance::Handoff;
use crate::cfn::engine::{invocation_deadline, CustomResource, Engine};
use crate::cfn::responder::{Responder, UrlPolicy};
use crate::cfn::stack::StackCheck;
use crate::error::Error;

/// Structured JSON logs on stdout (CloudWatch reads them as fields), at the level of
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`, default INFO, at most DEBUG (see [`log_level`]). A
/// level, not `EnvFilter`'s per-module directives: those bring a regex engine (280 KB of every
/// binary) and its start-up.
pub fn init_logging() {
    let asked = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).ok();
    let level = log_level(asked.as_deref());
    subscriber::fmt()
        .json()
        .with_target(false)
        .with_current_span(true)
        .with_span_list(false)
        .with_max_level(level)
        .init();
}

/// The log level for the level asked for (`None` or unreadable: INFO). TRACE is logged as
/// DEBUG: at TRACE the Lambda runtime logs each raw event, whose `ResponseURL` is a signed
/// capability to answer for the stack and whose properties may hold header values.
pub fn log_level(asked: Option<&str>) -> LevelFilter {
    asked
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO)
        .min(LevelFilter::DEBUG)
}

/// AWS configuration from the standard sources (so `AWS_ENDPOINT_URL`, `AWS_REGION` and the
/// function's credentials just work), with retries that ride out throttling
/// (`RequestLimitExceeded`) and 5xx answers, and timeouts so no call can hang the invocation.
/// Read once per process, when a client is first needed.
pub async fn aws_config() -> &'static SdkConfig {
    static CONFIG: tokio::sync::OnceCell<SdkConfig> = tokio::sync::OnceCell::const_new();
    CONFIG.get_or_init(load_aws_config).await
}

/// An AWS SDK client made on first use from [`aws_config`]: nothing of it is done at start, so
/// it costs no cold start. Clones share the one client.
#[derive(Debug)]
pub struct LazyClient<C>(std::sync::Arc<tokio::sync::OnceCell<C>>);

impl<C> Default for LazyClient<C> {
    fn default() -> Self {
        Self(Default::default())
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self(std::sync::Arc::clone(&self.0))
    }
}

impl<C> LazyClient<C> {
    /// A client that is already made (tests hand in a mocked one).
    pub fn ready(client: C) -> Self {
        Self(std::sync::Arc::new(tokio::sync::OnceCell::new_with(Some(client))))
    }

    /// The client, made with `new` (an SDK's `Client::new`) on first use.
    pub async fn get(&self, new: impl FnOnce(&SdkConfig) -> C) -> &C {
        self.0.get_or_init(|| async { new(aws_config().await) }).await
    }
}

/// The crypto under every TLS connection the functions make (the SDK's, the CloudFormation
/// answer's, the validator's checks): ring, a small library in Rust and assembly. aws-lc, the
/// SDK's default, is 1 MB more of each binary; all it would add here is the hybrid post-quantum
/// key exchange (X25519MLKEM768), which rustls offers only with aws-lc.
pub fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

async fn load_aws_config() -> SdkConfig {
    // rustls with ring, the system's trusted roots read when the first client connects.
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(6)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(5)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(20))
                .build(),
        )
        .load()
        .await
}

// The functions the binaries would take from glibc's libm, defined in the binaries themselves:
// `pow` (the AWS SDK's retry back-off, tokio's scheduler statistics) and `exp` (the validator's
// DNS resolver, as it weighs its servers' round trips). Without them the loader maps and binds
// one shared library fewer before `main`: loading libm.so.6 added 8% to the start of a
// hello-world here (paired starts; 8-10 page faults), on every cold start, for functions
// called when a call is retried or a server answers. The implementations are the `libm`
// crate's (musl's), correct to within one unit in the last place, as glibc's.
// `tests/test_build.py` fails if a binary needs libm again.

/// `pow(3)`: `base` to the power `exponent`.
#[no_mangle]
pub extern "C" fn pow(base: f64, exponent: f64) -> f64 {
    libm::pow(base, exponent)
}

/// `exp(3)`: e to the power `x`.
#[no_mangle]
pub extern "C" fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// The wall-clock time since the Unix epoch (zero if the clock is before it): what Lambda's
/// deadlines, EMF timestamps and certificate expiries are measured in.
pub fn since_epoch() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

/// An optional setting from the environment: unset and blank are the same.
pub fn optional_env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Serves `resource` under the Lambda Runtime API until the process ends, acting on an event
/// only while CloudFormation waits for its resource.
pub async fn serve<R: CustomResource>(resource: R) -> Result<(), lambda_runtime::Error> {
    let engine = Engine::new(resource, Responder::new(UrlPolicy::from_env()))
        .with_stack_check(StackCheck::lazy());
    // Each event's future on the heap (here and in every function's service): held by value,
    // it would make the serving future tens of KB, which the stack probes of `main`'s frame
    // touch page by page before the first event (page faults, most of the start-up's cost).
    lambda_runtime::run(service_fn(|event: LambdaEvent<RawEvent>| Box::pin(engine.handle(event))))
        .await
}

/// [`serve`], and with `loops`, also the acceptance topic's messages (an SNS event, which has
/// `Records` and no `ResponseURL`): each wakes the acceptance loops of the endpoints it names.
pub async fn serve_with_wakes<R: CustomResource>(
    resource: R,
    loops: Option<Handoff>,
) -> Result<(), lambda_runtime::Error> {
    let Some(loops) = loops else { return serve(resource).await };
    let engine = Engine::new(resource, Responder::new(UrlPolicy::from_env()))
        .with_stack_check(StackCheck::lazy());
    let (engine, loops) = (&engine, &loops);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<RawEvent>| {
        Box::pin(async move {
            if event.payload.has("Records") && !event.payload.has("ResponseURL") {
                let deadline = invocation_deadline(event.context.deadline);
                return wake_loops(loops, event.payload, deadline).await;
            }
            engine.handle(event).await
        })
    }))
    .await
}

/// Wakes the loops of the endpoints each SNS record's message names.
async fn wake_loops(loops: &Handoff, event: RawEvent, deadline: Instant) -> Result<Value, Error> {
    let (event, _) = event.read();
    let event: SnsEvent = serde_json::from_value(event)
        .map_err(|e| Error::MalformedEvent(format!("not an SNS event: {e}")))?;
    let mut woken = 0;
    for record in &event.records {
        if Some(record.sns.topic_arn.as_str()) != loops.topic() {
            tracing::warn!(topic = %record.sns.topic_arn, "a message from another topic: ignored");
            continue;
        }
        woken += loops.wake(&record.sns.message, deadline).await?;
    }
    Ok(serde_json::json!({ "Woken": woken }))
}

/// What the Lambda runtime reports for an event we could not answer.
impl From<Error> for Diagnostic {
    fn from(error: Error) -> Self {
        let error_type = match &error {
            Error::MalformedEvent(_) => "MalformedEvent",
            Error::Answer(_) => "AnswerNotDelivered",
            _ => "PrivateLinkError",
        };
        Diagnostic { error_type: error_type.to_owned(), error_message: error.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::{exp, log_level, pow, LevelFilter};

    #[test]
    fn trace_is_logged_as_debug_so_no_raw_event_reaches_the_log() {
        assert_eq!(log_level(Some("trace")), LevelFilter::DEBUG);
        assert_eq!(log_level(Some("TRACE")), LevelFilter::DEBUG);
        assert_eq!(log_level(Some("debug")), LevelFilter::DEBUG);
        assert_eq!(log_level(Some("warn")), LevelFilter::WARN);
        assert_eq!(log_level(Some("loud")), LevelFilter::INFO);
        assert_eq!(log_level(None), LevelFilter::INFO);
    }

    #[test]
    fn pow_answers_as_the_c_library_does_for_the_back_off_and_the_edge_cases() {
        // The SDK's back-off: a base to the power of the attempt.
        assert_eq!(pow(2.0, 10.0), 1024.0);
        assert_eq!(pow(0.5, -3.0), 8.0);
        assert!((pow(10.0, -2.0) - 0.01).abs() <= f64::EPSILON * 0.01);
        assert!((pow(1.5, 2.5) - 2.755_675_960_631_075).abs() <= 4.0 * f64::EPSILON);
        assert_eq!(pow(-2.0, 3.0), -8.0);
        // C99 Annex F: anything to the power 0 is 1, even NaN; a negative base to a non-integer
        // power is NaN; overflow is infinity.
        assert_eq!(pow(f64::NAN, 0.0), 1.0);
        assert!(pow(-2.0, 0.5).is_nan());
        assert_eq!(pow(10.0, 400.0), f64::INFINITY);
    }

    #[test]
    fn exp_answers_as_the_c_library_does() {
        assert_eq!(exp(0.0), 1.0);
        assert!((exp(1.0) - std::f64::consts::E).abs() <= f64::EPSILON * std::f64::consts::E);
        assert!((exp(-0.5) - 0.606_530_659_712_633_4).abs() <= f64::EPSILON);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(710.0), f64::INFINITY);
    }
}
