//! The acceptance loop's Step Functions adapter: starts a loop for a request, stops a
//! resource's loops, and wakes a loop when its endpoint's state changed.

use aws_sdk_sfn::error::ProvideErrorMetadata;
use tokio::time::{Duration, Instant};

use super::{
    execution_name, execution_prefix, loop_phase, mentioned_endpoints, names_endpoint, unchanged,
    LoopPhase, WaitState,
};
use crate::aws::LazyClient;
use crate::cfn::RequestContext;
use crate::ec2::Ec2;
use crate::error::{AwsError, Result};

/// How long a wake waits for a loop that is in its Check (whose next Sleep it then ends).
const WAKE_PATIENCE: Duration = Duration::from_secs(30);
/// Between two looks at a loop that is in its Check.
const WAKE_RETRY: Duration = Duration::from_secs(1);

/// Starts, stops and wakes acceptance loops (Step Functions executions).
#[derive(Debug, Clone)]
pub struct Handoff {
    sfn: LazyClient<aws_sdk_sfn::Client>,
    state_machine_arn: String,
    topic_arn: Option<String>,
    endpoints: Option<Ec2>,
}

impl Handoff {
    /// Loops of the state machine `state_machine_arn`, with a Step Functions client made on
    /// first use from the standard AWS configuration (no cold-start cost).
    pub fn lazy(state_machine_arn: impl Into<String>) -> Self {
        Self {
            sfn: Default::default(),
            state_machine_arn: state_machine_arn.into(),
            topic_arn: None,
            endpoints: None,
        }
    }

    /// Reads each notified endpoint's state before waking its loops: a loop whose last Check
    /// saw the state the endpoint is in now is not woken (the notification is repeated, late or
    /// forged, and a wake would only spend its execution's history). Without it, every
    /// notification wakes.
    pub fn with_endpoints(mut self, ec2: Ec2) -> Self {
        self.endpoints = Some(ec2);
        self
    }

    /// The functions stack's topic, which the endpoint of every loop notifies of the provider's
    /// decision, and whose messages [`Handoff::wake`] the loop. Without one, loops only poll.
    pub fn with_topic(mut self, topic_arn: Option<String>) -> Self {
        self.topic_arn = topic_arn;
        self
    }

    /// The topic loops are woken through, if any.
    pub fn topic(&self) -> Option<&str> {
        self.topic_arn.as_deref()
    }

    async fn sfn(&self) -> &aws_sdk_sfn::Client {
        self.sfn.get(aws_sdk_sfn::Client::new).await
    }

    /// Whether the loop of this request was started already (by an earlier delivery of the
    /// same event). StartExecution can't say: with the same name and input it answers as it
    /// did the first time (Step Functions API Reference, StartExecution: "idempotent for
    /// STANDARD workflows").
    pub async fn started_before(&self, ctx: &RequestContext, endpoint_id: &str) -> Result<bool> {
        let name = execution_name(&ctx.stack_id, &ctx.logical_id, endpoint_id, &ctx.request_id);
        match self
            .sfn()
            .await
            .describe_execution()
            .execution_arn(self.execution_arn(&name))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.code() == Some("ExecutionDoesNotExist") => Ok(false),
            Err(err) => Err(AwsError::from_sdk("DescribeExecution", err).into()),
        }
    }

    /// Starts the loop for one request; a loop already started for it (a redelivered event)
    /// is not an error. Returns the execution's ARN.
    pub async fn start(&self, ctx: &RequestContext, state: &WaitState) -> Result<String> {
        let name =
            execution_name(&ctx.stack_id, &ctx.logical_id, &state.vpc_endpoint_id, &ctx.request_id);
        let input = serde_json::to_string(state).expect("the state is plain JSON");
        match self
            .sfn()
            .await
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(&name)
            .input(input)
            .send()
            .await
        {
            Ok(out) => Ok(out.execution_arn().to_owned()),
            Err(err) if err.code() == Some("ExecutionAlreadyExists") => {
                tracing::info!(
                    name,
                    "the loop for this request is already running (a redelivered event)"
                );
                Ok(self.execution_arn(&name))
            }
            Err(err) => Err(AwsError::from_sdk("StartExecution", err).into()),
        }
    }

    /// The ARNs of the running loops whose execution names `wanted` keeps.
    async fn running(&self, wanted: impl Fn(&str) -> bool) -> Result<Vec<String>> {
        let mut found = Vec::new();
        let mut pages = self
            .sfn()
            .await
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .status_filter(aws_sdk_sfn::types::ExecutionStatus::Running)
            .into_paginator()
            .items()
            .send();
        while let Some(execution) = pages.next().await {
            let execution = execution.map_err(|e| AwsError::from_sdk("ListExecutions", e))?;
            if wanted(execution.name()) {
                found.push(execution.execution_arn().to_owned());
            }
        }
        Ok(found)
    }

    /// Stops every running loop of this resource (a Delete while waiting), or with
    /// `endpoint_id`, only those of that endpoint; returns how many.
    pub async fn stop_all(
        &self,
        stack_id: &str,
        logical_id: &str,
        endpoint_id: Option<&str>,
    ) -> Result<usize> {
        let prefix = execution_prefix(stack_id, logical_id);
        let of_endpoint = |name: &str| endpoint_id.is_none_or(|id| names_endpoint(name, id));
        let mut stopped = 0;
        for execution in self.running(|name| name.starts_with(&prefix) && of_endpoint(name)).await?
        {
            let stop = self
                .sfn()
                .await
                .stop_execution()
                .execution_arn(&execution)
                .cause("The resource was deleted while waiting for acceptance")
                .send()
                .await;
            match stop {
                Ok(_) => stopped += 1,
                // Finished meanwhile: nothing to stop.
                Err(err) if err.code() == Some("ExecutionDoesNotExist") => {}
                Err(err) => return Err(AwsError::from_sdk("StopExecution", err).into()),
            }
            tracing::info!(execution = %execution, "stopped the acceptance loop");
        }
        Ok(stopped)
    }

    /// Wakes the running loops of the endpoints a connection notification names: each Check
    /// comes at once instead of after the rest of its Sleep. Returns how many were woken. A
    /// loop in its Check is looked at again for a while (it sleeps next, unless it saw the
    /// decision); nothing else is changed: only the loop's Check answers CloudFormation.
    pub async fn wake(&self, message: &str, deadline: Instant) -> Result<usize> {
        let endpoints = mentioned_endpoints(message);
        if endpoints.is_empty() {
            tracing::warn!("a notification that names no VPC endpoint: nothing to wake");
            return Ok(0);
        }
        let running =
            self.running(|name| endpoints.iter().any(|id| names_endpoint(name, id))).await?;
        let patience = (Instant::now() + WAKE_PATIENCE).min(deadline);
        let mut woken = 0;
        for id in &endpoints {
            let loops: Vec<&String> = running.iter().filter(|e| names_endpoint(e, id)).collect();
            if loops.is_empty() {
                continue;
            }
            // The endpoint's state, read once for all its loops.
            let now = match &self.endpoints {
                Some(ec2) => Some(match ec2.endpoint(id).await? {
                    Some(endpoint) => endpoint.state.to_string(),
                    None => "gone".to_owned(),
                }),
                None => None,
            };
            for execution in loops {
                if self.wake_one(execution, patience, now.as_deref()).await? {
                    woken += 1;
                }
            }
        }
        tracing::info!(?endpoints, loops = running.len(), woken, "connection notification");
        Ok(woken)
    }

    /// Ends the Sleep of one loop; false when it ended, stayed in its Check past `until`, or
    /// last saw the endpoint in the state `now` (when known) it is in.
    async fn wake_one(
        &self,
        execution_arn: &str,
        until: Instant,
        now: Option<&str>,
    ) -> Result<bool> {
        loop {
            match self.phase(execution_arn).await? {
                LoopPhase::Ended => return Ok(false),
                LoopPhase::Sleeping { last_state, .. } if unchanged(last_state.as_deref(), now) => {
                    tracing::info!(
                        execution = execution_arn,
                        state = now,
                        "the endpoint is as the loop last saw it: not woken (a repeated or forged notification)"
                    );
                    return Ok(false);
                }
                LoopPhase::Sleeping { token, .. } => {
                    let sent = self
                        .sfn()
                        .await
                        .send_task_success()
                        .task_token(token)
                        .output("{}")
                        .send()
                        .await;
                    match sent {
                        Ok(_) => {
                            tracing::info!(execution = execution_arn, "woke the acceptance loop");
                            return Ok(true);
                        }
                        // The Sleep ended meanwhile (timed out): the loop checks now anyway.
                        Err(err)
                            if matches!(
                                err.code(),
                                Some("TaskTimedOut" | "TaskDoesNotExist" | "InvalidToken")
                            ) => {}
                        Err(err) => return Err(AwsError::from_sdk("SendTaskSuccess", err).into()),
                    }
                }
                LoopPhase::Busy => {}
            }
            if Instant::now() + WAKE_RETRY >= until {
                tracing::info!(
                    execution = execution_arn,
                    "the loop is still in its Check: it looks by itself"
                );
                return Ok(false);
            }
            tokio::time::sleep(WAKE_RETRY).await;
        }
    }

    /// The loop's phase, from the newest events of its history.
    async fn phase(&self, execution_arn: &str) -> Result<LoopPhase> {
        let history = self
            .sfn()
            .await
            .get_execution_history()
            .execution_arn(execution_arn)
            .reverse_order(true)
            .max_results(8)
            .send()
            .await;
        let history = match history {
            Ok(history) => history,
            Err(err) if err.code() == Some("ExecutionDoesNotExist") => return Ok(LoopPhase::Ended),
            Err(err) => return Err(AwsError::from_sdk("GetExecutionHistory", err).into()),
        };
        Ok(loop_phase(history.events().iter().map(|event| {
            let parameters =
                event.task_scheduled_event_details().map(|details| details.parameters());
            (event.r#type().as_str(), parameters)
        })))
    }

    fn execution_arn(&self, name: &str) -> String {
        format!("{}:{name}", self.state_machine_arn.replacen(":stateMachine:", ":execution:", 1))
    }
}
