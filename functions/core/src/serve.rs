//! Serving under the Lambda Runtime API: CloudFormation's events through the engine, the
//! acceptance topic's messages to the loops they wake, and the validator's scheduled runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::sns::SnsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;

use crate::cfn::engine::{invocation_deadline, CustomResource, Engine};
use crate::cfn::responder::{Responder, UrlPolicy};
use crate::cfn::stack::StackCheck;
use crate::cfn::RawEvent;
use crate::ec2::Ec2;
use crate::endpoint::acceptance::Handoff;
use crate::error::Error;
use crate::validation::config::Config;
use crate::validation::gate::ValidationResource;
use crate::validation::request::PemSource;

/// Serves `resource` under the Lambda Runtime API until the process ends, acting on an event
/// only while CloudFormation waits for its resource.
pub async fn serve<R: CustomResource>(resource: R) -> Result<(), lambda_runtime::Error> {
    let engine = Engine::new(resource, Responder::new(UrlPolicy::from_env()))
        .with_stack_check(StackCheck::lazy());
    // Each event's future on the heap (here and in every function's service): held by value,
    // it would make the serving future tens of KB, which the stack probes of `main`'s frame
    // touch page by page before the first event (page faults, most of the start-up's cost).
    run(|event: LambdaEvent<RawEvent>| Box::pin(engine.handle(event))).await
}

/// Runs `handler` under the Lambda Runtime API until the process ends. Every function serves
/// through here, so that the first line each logs, with its first event, says which function
/// and version runs ([`crate::lambda::log_version_once`]).
pub async fn run<A, F, Fut>(mut handler: F) -> Result<(), lambda_runtime::Error>
where
    A: for<'de> serde::Deserialize<'de>,
    F: FnMut(LambdaEvent<A>) -> Fut,
    Fut: Future<Output = Result<Value, Error>>,
{
    lambda_runtime::run(service_fn(move |event: LambdaEvent<A>| {
        crate::lambda::log_version_once();
        handler(event)
    }))
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
    run(move |event: LambdaEvent<RawEvent>| {
        Box::pin(async move {
            if event.payload.has("Records") && !event.payload.has("ResponseURL") {
                let deadline = invocation_deadline(event.context.deadline);
                return wake_loops(loops, event.payload, deadline).await;
            }
            engine.handle(event).await
        })
    })
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

/// A future behind a `dyn` pointer: its `poll` stays a function of its own, never inlined into
/// the caller's. A future's `poll` takes a stack frame as large as everything inlined into it,
/// and stack probes touch each of its pages on entry, whichever branch then runs: the SSM read
/// of a private CA (and a second server for an unusable configuration, since merged into the
/// one), inlined into the validator's serving future, made a 52 KB frame and 12 of its 20 stack
/// page faults before its first `/next` (perf, `make bench`), in a start that uses neither.
type Detached<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

fn detached<'a, T>(future: impl Future<Output = T> + 'a) -> Detached<'a, T> {
    Box::pin(future)
}

/// Serves the validator until the process ends: a CloudFormation event goes to the gate
/// (`Custom::PrivateLinkValidation`), anything else is a scheduled run. `config` is the
/// function's environment as read ([`Config::from_env`]); `secrets` hold the private CA it may
/// name and the targets' client certificates.
pub async fn serve_validator(
    config: Result<Config, String>,
    secrets: Arc<dyn PemSource>,
    ec2: Ec2,
) -> Result<(), lambda_runtime::Error> {
    let parts = match config {
        Ok(config) => detached(config.into_parts(secrets, ec2)).await,
        Err(problem) => Err(problem),
    };
    // An unusable configuration is served all the same: exiting would fail every invocation
    // before the handler runs, and a gate event would never be answered (the stack would wait
    // for its ServiceTimeout). Gate events are answered FAILED and scheduled runs fail, naming
    // it. One engine either way: each more is the engine's code once more in the binary.
    let (gate, schedule) = match parts {
        Ok((checker, schedule)) => (ValidationResource::new(checker), Ok(schedule)),
        Err(problem) => {
            // Logged before the problem, which is logged at start: still the first line.
            crate::lambda::log_version_once();
            tracing::error!(problem, "the validator's configuration is unusable: gate events are answered FAILED and scheduled runs fail, naming it");
            (ValidationResource::misconfigured(problem.clone()), Err(problem))
        }
    };
    let gate = Engine::new(gate, Responder::new(UrlPolicy::from_env()))
        .with_stack_check(StackCheck::lazy());
    run(|event: LambdaEvent<RawEvent>| {
        Box::pin(async {
            if is_cloudformation_event(&event.payload) {
                return gate.handle(event).await;
            }
            match &schedule {
                Ok(schedule) => schedule.run(&event.payload.read().0).await,
                Err(problem) => Err(Error::Misconfigured(problem.clone())),
            }
        })
    })
    .await
}

fn is_cloudformation_event(payload: &RawEvent) -> bool {
    payload.has("RequestType") && payload.has("ResponseURL")
}
