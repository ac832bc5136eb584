//! The one guarded place that answers CloudFormation.
//!
//! Every event gets exactly one answer: the handler's result, its error, its panic (the handler
//! runs in its own task, so a panic unwinds into a `JoinError` instead of taking the process
//! down), or "timed out" a few seconds before the invocation's deadline. After answering, the
//! function returns success to the Lambda runtime so Lambda does not retry the event.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use tokio::time::Instant;
use tracing::Instrument;

use super::metrics;
use super::responder::Responder;
use super::stack::{Asked, StackCheck, Verdict};
use super::{
    parse_event, DeleteScope, Envelope, Failure, Parsed, RawEvent, Reply, Request, RequestContext,
};
use crate::error::Result;

/// A custom resource type: what to do on Create, Update and Delete.
///
/// Handlers parse their own properties (so a Delete never fails on the invalid properties of a
/// failed Create) and return a [`Reply`] (an [`Outcome`](super::Outcome) to answer now, or a
/// hand-off to whoever answers later) or an [`Error`](crate::Error) whose text becomes the
/// `Reason`.
pub trait CustomResource: Send + Sync + 'static {
    /// Makes the resource.
    fn create(
        &self,
        ctx: &RequestContext,
        properties: &Value,
    ) -> impl Future<Output = Result<Reply>> + Send;

    /// Changes the resource, in place or by replacement (an outcome with a new id).
    fn update(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        properties: &Value,
        old_properties: &Value,
    ) -> impl Future<Output = Result<Reply>> + Send;

    /// Removes the resource; an id that is not ours, a placeholder, or a resource already gone
    /// is a success.
    fn delete(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        properties: &Value,
    ) -> impl Future<Output = Result<Reply>> + Send;
}

/// How much of the invocation's time is kept back at the end.
#[derive(Debug, Clone, Copy)]
pub struct Margins {
    /// Kept for the answer itself (the PUT and its retries): the guard fires this long before
    /// the invocation's deadline.
    pub answer: Duration,
    /// Kept between the handler's own deadline and the guard, so a handler that watches its
    /// deadline reports its own, better reason rather than the guard's "timed out".
    pub handler: Duration,
}

impl Margins {
    /// Room for `responder`'s answer, with every retry it makes, and 3 s for the handler.
    pub fn for_responder(responder: &Responder) -> Self {
        Self { answer: responder.budget(), handler: Duration::from_secs(3) }
    }

    /// The margins for an invocation with `remaining` time, scaled down for short invocations so
    /// the handler still gets most of the time.
    fn scaled(self, remaining: Duration) -> Self {
        Self { answer: self.answer.min(remaining / 4), handler: self.handler.min(remaining / 8) }
    }
}

/// Serves one custom resource type: parse, run the handler under the guard, answer once.
pub struct Engine<R> {
    resource: Arc<R>,
    responder: Responder,
    margins: Margins,
    stack_check: Option<StackCheck>,
}

impl<R: CustomResource> Engine<R> {
    /// An engine serving `resource`, answering through `responder`.
    pub fn new(resource: R, responder: Responder) -> Self {
        let margins = Margins::for_responder(&responder);
        Self { resource: Arc::new(resource), responder, margins, stack_check: None }
    }

    /// Acts on an event only while CloudFormation waits for its resource (asked with `check`
    /// before the handler runs); any other event is answered FAILED and nothing is done.
    pub fn with_stack_check(mut self, check: StackCheck) -> Self {
        self.stack_check = Some(check);
        self
    }

    /// Replaces the default margins.
    pub fn with_margins(mut self, margins: Margins) -> Self {
        self.margins = margins;
        self
    }

    /// Handles one Lambda invocation.
    ///
    /// Returns `Ok` once CloudFormation has its answer; `Err` when the event cannot be answered
    /// (no usable `ResponseURL`) or the answer could not be delivered, so Lambda's own retry of
    /// the event gets another chance to answer (every handler is idempotent).
    pub async fn handle(&self, event: LambdaEvent<RawEvent>) -> Result<Value> {
        let deadline = invocation_deadline(event.context.deadline);
        let (payload, unreadable) = event.payload.read();
        self.handle_read(payload, &unreadable, deadline).await
    }

    /// Handles one event that must be answered before `deadline`.
    pub async fn handle_until(&self, payload: Value, deadline: Instant) -> Result<Value> {
        self.handle_read(payload, &[], deadline).await
    }

    /// Handles one event of which the fields `unreadable` could not be read (nested too
    /// deeply). A Create or Update without its properties is answered FAILED; a Delete goes on
    /// (it needs none, and a stack must stay deletable).
    async fn handle_read(
        &self,
        payload: Value,
        unreadable: &[String],
        deadline: Instant,
    ) -> Result<Value> {
        let started = Instant::now();
        let (envelope, request) = match parse_event(payload) {
            Parsed::Malformed(err) => {
                tracing::error!(error = %err, "rejected an event that cannot be answered");
                metrics::emit("", "Unknown", "NOT_DELIVERED", 0);
                return Err(err);
            }
            Parsed::Refused { envelope, physical_id, reason } => {
                (envelope, Err((physical_id, reason)))
            }
            Parsed::Request(envelope, request) if unreadable.is_empty() => (envelope, Ok(request)),
            Parsed::Request(envelope, request @ Request::Delete { .. }) => {
                tracing::warn!(
                    ?unreadable,
                    "fields nested too deeply to read; a Delete needs none"
                );
                (envelope, Ok(request))
            }
            Parsed::Request(envelope, request) => {
                let physical_id = request.physical_id().map(str::to_owned);
                let err = crate::error::Error::MalformedEvent(format!(
                    "{} nested deeper than the 128 levels that can be read",
                    unreadable.join(", ")
                ));
                (envelope, Err((physical_id, err)))
            }
        };
        // Checked before any work is done: an answer that cannot be sent makes the work pointless.
        let operation = request.as_ref().map_or("Unknown", Request::kind);
        if let Err(err) = self.responder.policy().check(&envelope.response_url) {
            tracing::error!(error = %err, "refused the ResponseURL; nothing done, no answer sent");
            metrics::emit(&envelope.resource_type, operation, "NOT_DELIVERED", 0);
            return Err(err);
        }
        let span = tracing::info_span!(
            "request",
            request_type = operation,
            request_id = %envelope.request_id,
            stack_id = %envelope.stack_id,
            logical_id = %envelope.logical_id,
            resource_id = request.as_ref().ok().and_then(Request::physical_id).unwrap_or(""),
        );
        let ended = async {
            let (physical_id, result) = match request {
                Err((physical_id, err)) => {
                    tracing::error!(error = %err, "answering FAILED to an event we do not understand");
                    (physical_id, Err(Failure::from(err.to_string())))
                }
                Ok(request) => {
                    let physical_id = request.physical_id().map(str::to_owned);
                    match self.run_guarded(&envelope, request, deadline).await {
                        Ok(Reply::Later { by }) => {
                            tracing::info!(by, "handed off: the answer comes later");
                            return Ok(json!({"Status": "HANDED_OFF", "AnsweredBy": by}));
                        }
                        Ok(Reply::Over { status }) => {
                            tracing::warn!(status, "the operation this event belongs to is over (a redelivery): nothing done, no answer sent");
                            return Ok(json!({"Status": "ALREADY_OVER", "ResourceStatus": status}));
                        }
                        Ok(Reply::Now(outcome)) => (physical_id, Ok(outcome)),
                        Err(reason) => (physical_id, Err(reason)),
                    }
                }
            };
            self.responder.answer(&envelope, physical_id.as_deref(), result, deadline).await
        }
        .instrument(span)
        .await;
        let duration = crate::lambda::millis(started.elapsed());
        metrics::emit(&envelope.resource_type, operation, metrics::outcome(&ended), duration);
        ended
    }

    /// Runs the handler in its own task, bounded by the deadline; a panic or the deadline
    /// becomes a FAILED reason.
    async fn run_guarded(
        &self,
        envelope: &Envelope,
        request: Request,
        deadline: Instant,
    ) -> Result<Reply, Failure> {
        let margins = self.margins.scaled(deadline.saturating_duration_since(Instant::now()));
        let guard_at = deadline.checked_sub(margins.answer).unwrap_or(deadline);
        let mut ctx = RequestContext {
            stack_id: envelope.stack_id.clone(),
            request_id: envelope.request_id.clone(),
            logical_id: envelope.logical_id.clone(),
            resource_type: envelope.resource_type.clone(),
            response_url: envelope.response_url.clone(),
            deadline: guard_at.checked_sub(margins.handler).unwrap_or(guard_at),
            delete_scope: DeleteScope::default(),
        };
        tracing::info!(remaining_ms = crate::lambda::millis(ctx.remaining()), "handling");
        let resource = Arc::clone(&self.resource);
        let stack_check = self.stack_check.clone();
        let mut task = tokio::spawn(
            async move {
                // EC2 throttles each action per account and Region (CreateVpcEndpoint: 4 at once,
                // then one every 3.3 s): in a rollout of many stacks, a call can stay throttled
                // past the SDK's own retries. Every handler may run again (as on CloudFormation's
                // retry of an event), so the whole operation runs again after a pause, until the
                // deadline, rather than failing a stack that only had to wait its turn.
                let mut attempt = 0;
                loop {
                    let result =
                        run_once(&*resource, stack_check.as_ref(), &mut ctx, &request).await;
                    let pause = match &result {
                        Err(err) if err.is_throttled() => {
                            throttled_pause(attempt, ctx.remaining(), random_fraction())
                        }
                        _ => None,
                    };
                    let (Some(pause), Err(err)) = (pause, &result) else { return result };
                    tracing::warn!(
                        attempt,
                        pause_ms = crate::lambda::millis(pause),
                        error = %err,
                        "throttled: the operation runs again after a pause"
                    );
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
            }
            .in_current_span(),
        );
        match tokio::time::timeout_at(guard_at, &mut task).await {
            Ok(Ok(Ok(reply))) => Ok(reply),
            Ok(Ok(Err(err))) => {
                tracing::error!(error = %err, "handler failed");
                Err(err.to_string().into())
            }
            Ok(Err(join_error)) => {
                let message = panic_message(join_error);
                tracing::error!(panic = %message, "handler panicked");
                Err(format!(
                    "Internal error: the function panicked ({message}); see its CloudWatch log"
                )
                .into())
            }
            Err(_elapsed) => {
                task.abort();
                tracing::error!("handler timed out; answering before the invocation's deadline");
                Err(Failure {
                    reason: "Timed out: the operation did not finish before the function's time limit; raise the function's timeout, or retry the stack operation".to_owned(),
                    interrupted: true,
                })
            }
        }
    }
}

/// The stack check (when the engine has one), then the handler of the request.
async fn run_once<R: CustomResource>(
    resource: &R,
    stack_check: Option<&StackCheck>,
    ctx: &mut RequestContext,
    request: &Request,
) -> Result<Reply> {
    if let Some(check) = stack_check {
        let asked = Asked::from(request);
        match check.verdict(ctx, asked).await? {
            Verdict::Act(scope) => ctx.delete_scope = scope,
            Verdict::Over { status } => return Ok(Reply::Over { status }),
            Verdict::Refuse { status, why } => {
                return Err(crate::error::Error::NotAwaited {
                    request: asked.kind(),
                    stack: ctx.stack_id.clone(),
                    logical_id: ctx.logical_id.clone(),
                    status,
                    why,
                })
            }
        }
    }
    match request {
        Request::Create { properties } => resource.create(ctx, properties).await,
        Request::Update { physical_id, properties, old_properties } => {
            resource.update(ctx, physical_id, properties, old_properties).await
        }
        Request::Delete { physical_id, properties } => {
            resource.delete(ctx, physical_id, properties).await
        }
    }
}

/// The pause before running a throttled operation again, or None when the handler's time left
/// would not cover it and a run after it: "full jitter" (a random share, `fraction` in [0, 1), of
/// a ceiling doubling from 1 s to 30 s with each `attempt`), so the many functions a rollout
/// throttles spread their next tries over the ceiling instead of meeting again.
fn throttled_pause(attempt: u32, remaining: Duration, fraction: f64) -> Option<Duration> {
    const FIRST: Duration = Duration::from_secs(1);
    const CEILING: Duration = Duration::from_secs(30);
    // A run needs time of its own after the pause: the SDK's retries alone take seconds.
    const RUN: Duration = Duration::from_secs(10);
    let ceiling = FIRST.saturating_mul(1 << attempt.min(8)).min(CEILING);
    let pause = ceiling.mul_f64(fraction.clamp(0.0, 1.0)).max(Duration::from_millis(100));
    (remaining > pause + RUN).then_some(pause)
}

/// A random number in [0, 1): std's hasher keys are random per process, and each call draws a
/// new one.
fn random_fraction() -> f64 {
    use std::hash::BuildHasher;
    let bits = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    // The top 53 bits, as a float's mantissa holds them.
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

fn panic_message(join_error: tokio::task::JoinError) -> String {
    match join_error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned()),
        Err(join_error) => join_error.to_string(),
    }
}

/// The time an invocation has when the Runtime API's deadline can't be believed.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(300);
/// Lambda's longest invocation, and some slack for clocks.
const LONGEST_INVOCATION: Duration = Duration::from_secs(15 * 60 + 60);

/// The invocation's deadline from the Runtime API's `Lambda-Runtime-Deadline-Ms` (milliseconds
/// since the epoch). AWS sends exactly that; local Runtime API emulators differ (`cargo lambda
/// watch` sends the timeout as a duration, others 0): a deadline in the past or further away
/// than Lambda's longest invocation gets [`DEFAULT_BUDGET`] from now, with a warning, never an
/// instant timeout.
pub fn invocation_deadline(deadline_ms: u64) -> Instant {
    let now = Instant::now();
    let now_ms = crate::lambda::millis(crate::lambda::since_epoch());
    match plausible_remaining(deadline_ms, now_ms) {
        Some(remaining) => now + remaining,
        None => {
            tracing::warn!(
                deadline_ms,
                default_budget_secs = DEFAULT_BUDGET.as_secs(),
                "the Runtime API's deadline is in the past or implausibly far away (a local emulator?): using the default budget"
            );
            now + DEFAULT_BUDGET
        }
    }
}

/// The time left before `deadline_ms`, if it is a believable deadline at `now_ms`.
fn plausible_remaining(deadline_ms: u64, now_ms: u64) -> Option<Duration> {
    let remaining = Duration::from_millis(deadline_ms.checked_sub(now_ms)?);
    (!remaining.is_zero() && remaining <= LONGEST_INVOCATION).then_some(remaining)
}

#[cfg(test)]
mod tests {
    use super::super::responder::UrlPolicy;
    use super::*;
    use crate::cfn::Outcome;
    use crate::error::Error;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A stand-in for S3 that records every PUT body it receives.
    struct AnswerSink {
        url: String,
        bodies: Arc<Mutex<Vec<Value>>>,
    }

    async fn answer_sink() -> AnswerSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url =
            format!("http://{}/bucket/key?X-Amz-Signature=secret", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&bodies);
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Read headers, then the body announced by Content-Length.
                let body_start = loop {
                    let n = socket.read(&mut buf).await.unwrap();
                    request.extend_from_slice(&buf[..n]);
                    if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&request[..body_start]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                while request.len() < body_start + length {
                    let n = socket.read(&mut buf).await.unwrap();
                    request.extend_from_slice(&buf[..n]);
                }
                sink.lock().unwrap().push(serde_json::from_slice(&request[body_start..]).unwrap());
                socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await
                    .unwrap();
            }
        });
        AnswerSink { url, bodies }
    }

    enum Behaviour {
        Succeed,
        HandOff,
        Fail,
        Panic,
        Hang,
        /// `RequestLimitExceeded` for the first this many runs, then success.
        ThrottledFor(u32),
    }

    struct Scripted(Behaviour, std::sync::atomic::AtomicU32);

    impl Scripted {
        async fn run(&self) -> Result<Reply> {
            let runs = self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            match self.0 {
                Behaviour::ThrottledFor(n) if runs < n => Err(crate::error::AwsError {
                    operation: "CreateVpcEndpoint",
                    kind: crate::error::AwsErrorKind::Throttled,
                    code: "RequestLimitExceeded".into(),
                    message: "rate exceeded".into(),
                }
                .into()),
                Behaviour::ThrottledFor(_) => Ok(Outcome::new("thing-1").into()),
                Behaviour::Succeed => Ok(Outcome::new("thing-1").with("Answer", "42").into()),
                Behaviour::HandOff => Ok(Reply::Later { by: "waiter".into() }),
                Behaviour::Fail => Err(Error::property("Ports", "is wrong")),
                Behaviour::Panic => panic!("handler bug"),
                Behaviour::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    unreachable!()
                }
            }
        }
    }

    impl CustomResource for Scripted {
        async fn create(&self, _: &RequestContext, _: &Value) -> Result<Reply> {
            self.run().await
        }
        async fn update(&self, _: &RequestContext, _: &str, _: &Value, _: &Value) -> Result<Reply> {
            self.run().await
        }
        async fn delete(&self, _: &RequestContext, _: &str, _: &Value) -> Result<Reply> {
            self.run().await
        }
    }

    fn event(url: &str, request_type: &str) -> Value {
        json!({
            "RequestType": request_type,
            "ResponseURL": url,
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/g",
            "RequestId": "r-1",
            "ResourceType": "Custom::Test",
            "LogicalResourceId": "Thing",
            "PhysicalResourceId": "thing-0",
            "ResourceProperties": {},
            "OldResourceProperties": {}
        })
    }

    async fn serve(
        behaviour: Behaviour,
        request_type: &str,
        budget: Duration,
    ) -> (Result<Value>, Vec<Value>) {
        let sink = answer_sink().await;
        let engine = Engine::new(
            Scripted(behaviour, 0.into()),
            Responder::new(UrlPolicy { allow_loopback: true }),
        )
        .with_margins(Margins {
            answer: Duration::from_millis(400),
            handler: Duration::from_millis(100),
        });
        let result =
            engine.handle_until(event(&sink.url, request_type), Instant::now() + budget).await;
        let bodies = sink.bodies.lock().unwrap().clone();
        (result, bodies)
    }

    #[test]
    fn a_deadline_from_another_runtime_api_is_believed_only_when_plausible() {
        let now_ms = 1_780_000_000_000;
        assert_eq!(plausible_remaining(now_ms + 30_000, now_ms), Some(Duration::from_secs(30)));
        assert_eq!(plausible_remaining(now_ms + 900_000, now_ms), Some(Duration::from_secs(900)));
        // cargo lambda watch: the timeout as a duration; others: 0; a deadline already past.
        for odd in [600_000, 0, now_ms - 1, now_ms, now_ms + 24 * 3_600_000] {
            assert_eq!(plausible_remaining(odd, now_ms), None, "{odd}");
        }
    }

    #[tokio::test]
    async fn a_success_is_answered_once_with_its_data() {
        let (result, answers) = serve(Behaviour::Succeed, "Create", Duration::from_secs(5)).await;
        assert_eq!(result.unwrap()["Status"], "SUCCESS");
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0]["Data"]["Answer"], "42");
        assert_eq!(answers[0]["PhysicalResourceId"], "thing-1");
    }

    #[tokio::test]
    async fn a_hand_off_is_not_answered_by_the_engine() {
        let (result, answers) = serve(Behaviour::HandOff, "Create", Duration::from_secs(5)).await;
        assert_eq!(result.unwrap()["Status"], "HANDED_OFF");
        assert!(answers.is_empty());
    }

    #[tokio::test]
    async fn a_handler_error_is_answered_failed_with_its_reason() {
        let (result, answers) = serve(Behaviour::Fail, "Update", Duration::from_secs(5)).await;
        assert!(result.is_ok(), "answered, so the runtime must not retry");
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0]["Status"], "FAILED");
        assert_eq!(answers[0]["PhysicalResourceId"], "thing-0");
        assert!(answers[0]["Reason"].as_str().unwrap().contains("Ports: is wrong"));
    }

    #[tokio::test]
    async fn a_panic_in_a_handler_is_answered_failed() {
        let (result, answers) = serve(Behaviour::Panic, "Create", Duration::from_secs(5)).await;
        assert!(result.is_ok());
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0]["Status"], "FAILED");
        let reason = answers[0]["Reason"].as_str().unwrap();
        assert!(reason.contains("panicked (handler bug)"), "{reason}");
        assert!(super::super::is_placeholder(answers[0]["PhysicalResourceId"].as_str().unwrap()));
    }

    #[tokio::test]
    async fn a_hanging_handler_is_answered_failed_before_the_deadline() {
        let started = Instant::now();
        let budget = Duration::from_secs(2);
        let (result, answers) = serve(Behaviour::Hang, "Delete", budget).await;
        assert!(started.elapsed() < budget, "answered after the deadline: {:?}", started.elapsed());
        assert!(result.is_ok());
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0]["Status"], "FAILED");
        assert!(answers[0]["Reason"].as_str().unwrap().starts_with("Timed out"));
    }

    #[tokio::test]
    async fn a_throttled_operation_runs_again_after_a_pause_and_is_answered_once() {
        let (result, answers) =
            serve(Behaviour::ThrottledFor(1), "Create", Duration::from_secs(30)).await;
        assert_eq!(result.unwrap()["Status"], "SUCCESS");
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0]["Status"], "SUCCESS");
    }

    #[tokio::test]
    async fn a_throttled_operation_without_time_for_another_run_is_answered_failed_saying_so() {
        let started = Instant::now();
        let (_, answers) =
            serve(Behaviour::ThrottledFor(u32::MAX), "Create", Duration::from_secs(5)).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0]["Status"], "FAILED");
        let reason = answers[0]["Reason"].as_str().unwrap();
        assert!(
            reason.contains("RequestLimitExceeded") && reason.contains("retry the stack operation"),
            "{reason}"
        );
    }

    #[test]
    fn throttled_pauses_are_a_random_share_of_a_ceiling_doubling_to_thirty_seconds() {
        let plenty = Duration::from_secs(900);
        let ceilings: Vec<_> = (0..8)
            .map(|attempt| throttled_pause(attempt, plenty, 0.999_999).unwrap().as_secs())
            .collect();
        assert_eq!(ceilings, [0, 1, 3, 7, 15, 29, 29, 29]);
        assert_eq!(throttled_pause(3, plenty, 0.5), Some(Duration::from_secs(4)));
        assert_eq!(throttled_pause(3, plenty, 0.0), Some(Duration::from_millis(100)));
        // No time for the pause and a run after it: the operation fails now, saying why.
        assert_eq!(throttled_pause(3, Duration::from_secs(14), 0.5), None);
        assert_eq!(throttled_pause(3, Duration::from_secs(15), 0.5), Some(Duration::from_secs(4)));
        let draws: Vec<f64> = (0..100).map(|_| random_fraction()).collect();
        assert!(draws.iter().all(|f| (0.0..1.0).contains(f)));
        assert!(draws.iter().any(|f| *f < 0.5) && draws.iter().any(|f| *f >= 0.5));
    }

    #[tokio::test]
    async fn an_unknown_request_type_is_answered_failed_and_the_engine_keeps_serving() {
        let (_, answers) = serve(Behaviour::Succeed, "Upgrade", Duration::from_secs(5)).await;
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0]["Status"], "FAILED");
        assert!(answers[0]["Reason"].as_str().unwrap().contains("Upgrade"));
        let (_, answers) = serve(Behaviour::Succeed, "Create", Duration::from_secs(5)).await;
        assert_eq!(answers[0]["Status"], "SUCCESS");
    }

    #[tokio::test]
    async fn an_event_without_a_usable_response_url_is_rejected_unanswered() {
        let engine = Engine::new(
            Scripted(Behaviour::Succeed, 0.into()),
            Responder::new(UrlPolicy::default()),
        );
        let result = engine
            .handle_until(
                event("https://example.com/x", "Create"),
                Instant::now() + Duration::from_secs(5),
            )
            .await;
        assert!(matches!(result, Err(Error::MalformedEvent(_))));
    }
}
