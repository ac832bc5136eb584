//! Serving under the Lambda Runtime API: CloudFormation's events through the engine, and the
//! acceptance topic's messages to the loops they wake.

use aws_lambda_events::sns::SnsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;

use crate::cfn::engine::{invocation_deadline, CustomResource, Engine};
use crate::cfn::responder::{Responder, UrlPolicy};
use crate::cfn::stack::StackCheck;
use crate::cfn::RawEvent;
use crate::endpoint::acceptance::Handoff;
use crate::error::Error;

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
