//! The acceptance loop's Check: one look at the endpoint per call of
//! `privatelink-acceptance-waiter`. It answers CloudFormation at most once: after answering it
//! tags the endpoint with the request id, and a retried Check that finds that tag answers
//! nothing.

use serde_json::Value;
use tokio::time::Instant;

use super::acceptance::{decide, epoch_seconds, sleep_seconds, Step, WaitState, TAG_ANSWERED};
use super::attributes::{endpoint_attributes, explain};
use crate::cfn::metrics;
use crate::cfn::responder::Responder;
use crate::cfn::stack::{background_loop_problem, judge, Asked, StackCheck, Verdict};
use crate::cfn::{Envelope, Failure, Outcome};
use crate::ec2::{self, Ec2, EndpointChange, EndpointView};
use crate::error::{Error, Result};

/// The waiter: one look at the endpoint per call.
pub struct Waiter {
    ec2: Ec2,
    responder: Responder,
    stack_check: Option<StackCheck>,
}

impl Waiter {
    /// A waiter over EC2 operations, answering through `responder`.
    pub fn new(ec2: Ec2, responder: Responder) -> Self {
        Self { ec2, responder, stack_check: None }
    }

    /// Before each Check of a loop that answers, asks whether CloudFormation still waits; when
    /// it no longer does (the stack was cancelled, timed out or deleted), the loop ends without
    /// answering and without switching anything on.
    pub fn with_stack_check(mut self, check: StackCheck) -> Self {
        self.stack_check = Some(check);
        self
    }

    /// One invocation by the loop: its Sleep (`{"Sleep": {...}}`, sent without waiting for an
    /// answer: nothing to do, the loop waits for its token or its timeout) or a Check.
    pub async fn handle(&self, event: Value, deadline: Instant) -> Result<Value> {
        if let Some(sleep) = event.get("Sleep") {
            // The task token is a capability: never logged.
            let endpoint = sleep.get("VpcEndpointId").and_then(Value::as_str).unwrap_or("?");
            tracing::info!(
                endpoint_id = endpoint,
                "sleeping until the next Check, or until the provider's decision wakes the loop"
            );
            return Ok(Value::Object(Default::default()));
        }
        let state: WaitState = serde_json::from_value(event).map_err(|e| {
            Error::MalformedEvent(format!("not a state of the acceptance loop: {e}"))
        })?;
        let state = self.check(state, deadline).await?;
        Ok(serde_json::to_value(state).expect("the state is plain JSON"))
    }

    /// One Check: looks at the endpoint, acts, and returns the next state (`Done` when over).
    /// An error (EC2 unreachable) is returned to Step Functions, whose Retry calls again.
    /// `deadline`: the invocation's, which bounds the answer's delivery.
    pub async fn check(&self, mut state: WaitState, deadline: Instant) -> Result<WaitState> {
        let now = epoch_seconds();
        state.started_at.get_or_insert(now);
        if let Some(check) = &self.stack_check {
            // Asking failed: the error goes to Step Functions, whose Retry asks again.
            let resource = check
                .resource_patiently(&state.stack_id, &state.logical_resource_id, deadline)
                .await?;
            let problem = match state.answers() {
                // Only the loop of a Create answers, while CloudFormation waits for it.
                true => match judge(Asked::Create, resource.as_ref(), None) {
                    Verdict::Act(_) => None,
                    Verdict::Over { status } => Some(format!("the Create is over ({status})")),
                    Verdict::Refuse { status, why } => Some(format!("{status}: {why}")),
                },
                false => background_loop_problem(resource.as_ref(), &state.vpc_endpoint_id),
            };
            if let Some(problem) = problem {
                tracing::warn!(
                    problem,
                    "CloudFormation no longer waits for this loop: ending it without acting"
                );
                state.done = true;
                return Ok(state);
            }
        }
        let endpoint = self.ec2.endpoint(&state.vpc_endpoint_id).await?;
        state.last_state = endpoint.as_ref().map(|e| e.state.to_string());
        if let Some(error) = state.error.take() {
            // Checks kept failing: answer FAILED rather than leave the stack waiting.
            return self.give_up(state, endpoint.as_ref(), &error, deadline).await;
        }
        // Only an endpoint this stack's resource made is acted on (the input can name any id).
        if let Some(endpoint) = &endpoint {
            let owned = ec2::check_owned(
                &endpoint.id,
                &endpoint.tags,
                &state.stack_id,
                &state.logical_resource_id,
            );
            if let Err(not_owned) = owned {
                tracing::error!(error = %not_owned, "refusing to act on an endpoint of another resource");
                if state.answers() {
                    self.answer_foreign(&state, not_owned, deadline).await?;
                }
                state.done = true;
                return Ok(state);
            }
        }
        let step = decide(&state, endpoint.as_ref(), now);
        tracing::info!(endpoint_id = %state.vpc_endpoint_id, ?step, "checked");
        match step {
            Step::KeepWaiting => {
                state.sleep_seconds =
                    Some(sleep_seconds(&state, endpoint.as_ref().map(|e| &e.state)));
                return Ok(state);
            }
            Step::Gone | Step::AlreadyAnswered => {}
            Step::Succeed { enable_private_dns } => {
                let endpoint = endpoint.expect("Succeed is decided on an endpoint");
                let result = self.finish(&state, &endpoint, enable_private_dns).await;
                self.answer(&state, result, deadline).await?;
            }
            Step::Failed { state: ended, last_error } => {
                let reason = Error::EndpointFailed {
                    endpoint: state.vpc_endpoint_id.clone(),
                    state: ended,
                    last_error,
                };
                self.answer(&state, Err(reason), deadline).await?;
            }
            Step::TimedOut => {
                let reason = Error::NotReady {
                    what: format!("Acceptance of VPC endpoint {}", state.vpc_endpoint_id),
                    detail: format!(
                        "the provider of {} has not accepted it after {} s; ask the provider to accept the connection from {} (or raise AcceptanceTimeoutSeconds)",
                        state.service_name, state.timeout_seconds, state.vpc_endpoint_id
                    ),
                };
                self.answer(&state, Err(reason), deadline).await?;
            }
        }
        state.done = true;
        Ok(state)
    }

    /// Switches Private DNS on when asked, and builds the same answer as a direct Create.
    async fn finish(
        &self,
        state: &WaitState,
        endpoint: &EndpointView,
        enable_private_dns: bool,
    ) -> Result<Outcome> {
        if state.answers() && ec2::is_pending_takeover(&endpoint.tags) {
            // Answering SUCCESS now: an endpoint taken over is the stack's from here on.
            let answered = ec2::answered_takeover(&state.request_id);
            self.ec2.tag(&endpoint.id, &[answered]).await?;
        }
        if enable_private_dns {
            let change =
                EndpointChange { private_dns_enabled: Some(true), ..EndpointChange::default() };
            self.ec2
                .modify_endpoint(&endpoint.id, &change)
                .await
                .map_err(|e| explain(e, &endpoint.vpc_id))?;
            tracing::info!(endpoint_id = %endpoint.id, "Private DNS switched on");
        }
        let interfaces = self.ec2.interfaces(&endpoint.network_interface_ids).await?;
        let dns_name = state.private_dns_name.as_deref().filter(|_| state.private_dns_enabled);
        Ok(endpoint_attributes(
            &state.stack_id,
            endpoint,
            &interfaces,
            dns_name,
            &state.skipped_subnet_ids,
            &state.hosted_zone_ids,
        ))
    }

    async fn give_up(
        &self,
        mut state: WaitState,
        endpoint: Option<&EndpointView>,
        error: &Value,
        deadline: Instant,
    ) -> Result<WaitState> {
        let already = endpoint.is_some_and(|e| e.tags.get(TAG_ANSWERED) == Some(&state.request_id));
        if !already {
            let cause = error.get("Cause").and_then(Value::as_str).unwrap_or("unknown error");
            let reason = Error::NotReady {
                what: format!("Waiting for acceptance of VPC endpoint {}", state.vpc_endpoint_id),
                detail: format!("the acceptance waiter kept failing: {cause}"),
            };
            self.answer(&state, Err(reason), deadline).await?;
        }
        state.done = true;
        Ok(state)
    }

    /// Answers FAILED about an endpoint that is not this resource's: no tag is written on it,
    /// and the answer does not name it.
    async fn answer_foreign(
        &self,
        state: &WaitState,
        reason: Error,
        deadline: Instant,
    ) -> Result<()> {
        match &state.response_url {
            Some(response_url) => {
                self.deliver(state, response_url, None, Err(reason), deadline).await
            }
            None => Ok(()),
        }
    }

    /// Sends CloudFormation the answer for `state`'s request, with `physical_id` (else the
    /// placeholder of a failed Create), through the one answer method the engine uses too.
    async fn deliver(
        &self,
        state: &WaitState,
        response_url: &str,
        physical_id: Option<&str>,
        result: Result<Outcome>,
        deadline: Instant,
    ) -> Result<()> {
        let envelope = Envelope {
            response_url: response_url.to_owned(),
            stack_id: state.stack_id.clone(),
            request_id: state.request_id.clone(),
            logical_id: state.logical_resource_id.clone(),
            resource_type: state
                .resource_type
                .clone()
                .unwrap_or_else(|| "Custom::PrivateLinkEndpoint".to_owned()),
        };
        let result = result.map_err(|e| Failure::from(e.to_string()));
        let answered = self.responder.answer(&envelope, physical_id, result, deadline).await;
        // Only a Create's loop answers; its duration is the whole wait, from the first Check.
        let waited_s =
            epoch_seconds().saturating_sub(state.started_at.unwrap_or_else(epoch_seconds));
        metrics::emit(
            &envelope.resource_type,
            "Create",
            metrics::outcome(&answered),
            waited_s * 1000,
        );
        answered?;
        Ok(())
    }

    /// Answers CloudFormation (when this loop answers anyone), then records that it did.
    async fn answer(
        &self,
        state: &WaitState,
        result: Result<Outcome>,
        deadline: Instant,
    ) -> Result<()> {
        let Some(response_url) = &state.response_url else {
            match result {
                Ok(_) => tracing::info!("background loop done"),
                Err(err) => {
                    tracing::warn!(error = %err, "background loop ended without Private DNS")
                }
            }
            return Ok(());
        };
        // A failure keeps the endpoint's id, so the rollback's Delete removes it.
        self.deliver(state, response_url, Some(&state.vpc_endpoint_id), result, deadline).await?;
        // Recorded after the answer: a Check retried after this point answers nothing more.
        // (Recording first would risk never answering, which leaves the stack hanging.)
        if let Err(err) = self
            .ec2
            .tag(&state.vpc_endpoint_id, &[(TAG_ANSWERED.to_owned(), state.request_id.clone())])
            .await
        {
            tracing::warn!(error = %err, "could not record the answer on the endpoint");
        }
        Ok(())
    }
}
