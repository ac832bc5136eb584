//! `Custom::PrivateLinkEndpoint` served as a reconcile: observe what exists (`observe`), plan
//! (pure, in [`super::plan`]), apply the calls (`apply`), and answer once. Delete is cleanup,
//! apart.

use std::time::Duration;

use serde_json::Value;

use super::acceptance::{self, Announcement, Announcer, Handoff, WaitState};
use super::attributes::endpoint_attributes;
use super::dns;
use super::plan::{self, answer_for, Answer, Observed, Plan};
use super::spec::{EndpointSpec, DEFAULT_ACCEPTANCE_TIMEOUT_SECS};
use super::target::{choose_target, Operation, Target};
use crate::cfn::engine::CustomResource;
use crate::cfn::DeleteScope;
use crate::cfn::RequestContext;
use crate::cfn::{self, Outcome, Reply, StackArn};
use crate::ec2::{self, Ec2, EndpointState, EndpointView};
use crate::error::{Error, Result};
use crate::properties;
use crate::route53::Route53;
use crate::text::sha256_hex;

/// How often an endpoint in `pending` is looked at again.
pub(super) const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// no second endpoint is made). Each token here is a SHA-256 in hex: 64 characters, the longest
/// ClientToken EC2 takes.
pub fn client_token(ctx: &RequestContext) -> String {
    sha256_hex(format!("{}\n{}\n{}", ctx.stack_id, ctx.logical_id, ctx.request_id))
}

/// The idempotency token of the connection notification one request makes.
pub fn notification_token(ctx: &RequestContext) -> String {
    sha256_hex(format!("connection-notification\n{}", client_token(ctx)))
}

/// The idempotency token of the notification that wakes the acceptance loops of one endpoint:
/// the same for every request of the resource, so an Update handing the same endpoint to a new
/// loop makes no second notification (EC2 returns the first for the same token).
pub fn loop_notification_token(ctx: &RequestContext, endpoint_id: &str) -> String {
    sha256_hex(format!(
        "acceptance-notification\n{}\n{}\n{endpoint_id}",
        ctx.stack_id, ctx.logical_id
    ))
}

/// Whether properties (old or new) name a `ConnectionNotificationArn`.
fn names_connection_topic(properties: &Value) -> bool {
    properties.get("ConnectionNotificationArn").is_some_and(|v| !v.is_null())
}

/// Serves `Custom::PrivateLinkEndpoint`.
pub struct EndpointResource {
    pub(super) ec2: Ec2,
    pub(super) route53: Route53,
    pub(super) handoff: Option<Handoff>,
    pub(super) announcer: Option<Announcer>,
}

impl EndpointResource {
    /// The resource over EC2 operations. Without a hand-off, an endpoint waiting for acceptance
    /// is answered at once with `State` = `pendingAcceptance`.
    pub fn new(ec2: Ec2) -> Self {
        Self { ec2, route53: Route53::lazy(), handoff: None, announcer: None }
    }

    /// Makes the zones of `DnsNames` with `route53` (else with a client made on first use).
    pub fn with_route53(mut self, route53: Route53) -> Self {
        self.route53 = route53;
        self
    }

    /// Publishes, when an endpoint is handed to the acceptance loop, which endpoint the partner
    /// must accept ([`Announcement`]).
    pub fn with_announcer(mut self, announcer: Announcer) -> Self {
        self.announcer = Some(announcer);
        self
    }

    /// Hands the wait for acceptance to the acceptance loop.
    pub fn with_handoff(mut self, handoff: Handoff) -> Self {
        self.handoff = Some(handoff);
        self
    }

    /// Observe, plan, apply.
    async fn reconcile(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        spec: &EndpointSpec,
        physical_id: Option<&str>,
    ) -> Result<Reply> {
        let found = self.find(ctx, operation, spec, physical_id).await?;
        let target = choose_target(operation, spec, &found, &ctx.stack_id, &ctx.logical_id)?;
        let observed = self.observe(ctx, operation, spec, &found, &target).await?;
        let plan = plan::plan(
            operation,
            spec,
            target,
            &observed,
            &ec2::claim_tags(&ctx.stack_id, &ctx.logical_id, &ctx.request_id),
        )?;
        tracing::info!(target = ?plan_target(&plan.target), calls = ?plan.calls, answer = ?plan.answer, "planned");
        self.apply(ctx, operation, spec, &observed, plan).await
    }

    /// Waits out `pending`, then answers now, or hands the answer (or only the switch to
    /// Private DNS) to the acceptance loop.
    pub(super) async fn answer(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        spec: &EndpointSpec,
        observed: &Observed,
        plan: &Plan,
        id: &str,
    ) -> Result<Reply> {
        let service = &observed.service;
        let endpoint = self.wait_while_pending(ctx, id).await?;
        if endpoint.state.is_failed() {
            return Err(Error::EndpointFailed {
                endpoint: endpoint.id,
                state: endpoint.state.to_string(),
                last_error: endpoint.last_error,
            });
        }
        let interfaces = self.ec2.interfaces(&endpoint.network_interface_ids).await?;
        // The names of DnsNames answer at once, acceptance or not: they alias the endpoint's
        // own DNS names, which exist from its creation.
        let zone_ids = match dns::has_names(&spec.dns_names, &endpoint.tags) {
            true => {
                let region = &observed.region;
                let ids =
                    dns::reconcile(&self.route53, &self.ec2, ctx, spec, &endpoint, region).await?;
                // The names' tag goes last, once their zones are gone: until then it says
                // there are zones to look after.
                if spec.dns_names.is_empty() {
                    self.ec2.untag(&endpoint.id, &[ec2::TAG_DNS_NAMES.to_owned()]).await?;
                }
                ids
            }
            false => Vec::new(),
        };
        let dns_name = service.private_dns_name.as_deref().filter(|_| plan.private_dns);
        let outcome = endpoint_attributes(
            &ctx.stack_id,
            &endpoint,
            &interfaces,
            dns_name,
            &plan.skipped_subnets,
            &zone_ids,
        );
        let answer =
            answer_for(operation, spec.wait_for_acceptance, plan.private_dns, &endpoint.state);
        if answer != Answer::Later || self.handoff.is_none() {
            // Answering SUCCESS now: an endpoint taken over is the stack's from here on.
            if ec2::is_pending_takeover(&endpoint.tags) {
                self.ec2.tag(&endpoint.id, &[ec2::answered_takeover(&ctx.request_id)]).await?;
            }
        }
        if answer == Answer::Now {
            return Ok(outcome.into());
        }
        let Some(handoff) = &self.handoff else {
            tracing::warn!("no acceptance loop configured (ACCEPTANCE_STATE_MACHINE_ARN): answering pendingAcceptance now; Private DNS stays off");
            return Ok(outcome.into());
        };
        let answering = answer == Answer::Later;
        let timeout_seconds = match answering {
            true => acceptance::answering_timeout(
                spec.acceptance_timeout_secs.unwrap_or(DEFAULT_ACCEPTANCE_TIMEOUT_SECS),
                spec.service_timeout_secs,
            ),
            false => {
                spec.acceptance_timeout_secs.unwrap_or(acceptance::DEFAULT_BACKGROUND_TIMEOUT_SECS)
            }
        };
        let wanted_poll = spec.acceptance_poll_secs.unwrap_or(match answering {
            true => acceptance::DEFAULT_POLL_SECS,
            false => acceptance::DEFAULT_BACKGROUND_POLL_SECS,
        });
        let wait = WaitState {
            response_url: answering.then(|| ctx.response_url.clone()),
            stack_id: ctx.stack_id.clone(),
            request_id: ctx.request_id.clone(),
            logical_resource_id: ctx.logical_id.clone(),
            resource_type: Some(ctx.resource_type.clone()),
            vpc_endpoint_id: endpoint.id.clone(),
            service_name: spec.service_name.clone(),
            private_dns_enabled: plan.private_dns,
            private_dns_name: service.private_dns_name.clone(),
            timeout_seconds,
            // Never more rounds than Step Functions' history holds: a loop that reaches the
            // limit dies without answering. (A background loop's interval may be stretched.)
            poll_interval_seconds: acceptance::bounded_poll_interval(timeout_seconds, wanted_poll),
            sleep_seconds: None,
            started_at: None,
            done: false,
            last_state: None,
            skipped_subnet_ids: plan.skipped_subnets.clone(),
            hosted_zone_ids: zone_ids,
            error: None,
        };
        if let Some(topic) = handoff.topic() {
            // The provider's decision wakes the loop at once (else it is seen within one poll
            // interval: a notification that can't be set up costs only that).
            let token = loop_notification_token(ctx, &endpoint.id);
            let notified = self
                .ec2
                .notify_connection_events(&endpoint.id, topic, &acceptance::LOOP_EVENTS, &token)
                .await;
            if let Err(err) = notified {
                tracing::warn!(error = %err, "the acceptance loop will poll: could not notify its topic of the provider's decision");
            }
        }
        let first_time = self.first_hand_off(ctx, handoff, &endpoint.id).await;
        let execution = handoff.start(ctx, &wait).await?;
        self.tell_the_partner(ctx, spec, &endpoint.id, answering, &execution, first_time).await;
        Ok(if answering { Reply::Later { by: execution } } else { outcome.into() })
    }

    /// Whether this is the request's first hand-off (else an earlier delivery of the same
    /// event started its loop). Asked only where there is someone to tell, and never a reason
    /// to fail the Create: not knowing counts as the first (told twice is better than never).
    async fn first_hand_off(&self, ctx: &RequestContext, handoff: &Handoff, id: &str) -> bool {
        if self.announcer.is_none() {
            return false;
        }
        match handoff.started_before(ctx, id).await {
            Ok(before) => !before,
            Err(err) => {
                tracing::warn!(error = %err, "could not tell whether this request's loop was started before");
                true
            }
        }
    }

    /// Logs which endpoint the partner must accept, and, the first time, tells the
    /// notification topic (best effort: a failure is logged, the Create goes on).
    async fn tell_the_partner(
        &self,
        ctx: &RequestContext,
        spec: &EndpointSpec,
        endpoint_id: &str,
        answering: bool,
        execution: &str,
        first_time: bool,
    ) {
        let (partition, account) =
            StackArn::parse(&ctx.stack_id).map_or(("aws", ""), |arn| (arn.partition, arn.account));
        let announcement = Announcement {
            endpoint_id: endpoint_id.to_owned(),
            service_name: spec.service_name.clone(),
            account_id: account.to_owned(),
            partition: partition.to_owned(),
            // The partner accepts in the service's Region.
            region: match &spec.service_region {
                Some(region) => region.clone(),
                None => self.ec2.region().await,
            },
            stack_name: ctx.stack_name().to_owned(),
            logical_id: ctx.logical_id.clone(),
            stack_waits: answering,
        };
        tracing::info!(execution, answering, endpoint_id, "{}", announcement.line());
        let Some(announcer) = self.announcer.as_ref().filter(|_| first_time) else { return };
        match announcer.publish(&announcement).await {
            Ok(()) => tracing::info!("told the notification topic which endpoint to accept"),
            Err(err) => {
                tracing::warn!(error = %err, "could not tell the notification topic which endpoint to accept")
            }
        }
    }

    pub(super) async fn wait_while_pending(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<EndpointView> {
        loop {
            let observed = self.ec2.endpoint(id).await?;
            // A fresh id can answer NotFound for a while (eventual consistency): keep looking.
            let still_pending = observed.as_ref().is_none_or(|e| e.state == EndpointState::Pending);
            match observed {
                Some(endpoint) if !still_pending => return Ok(endpoint),
                _ if ctx.remaining() <= POLL_INTERVAL => {
                    let state = observed
                        .map_or_else(|| "not visible yet".to_owned(), |e| e.state.to_string());
                    return Err(Error::NotReady {
                        what: format!("VPC endpoint {id}"),
                        detail: format!("it is still {state}; raise the function's timeout or retry the stack operation (the same endpoint is reused)"),
                    });
                }
                _ => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }

    /// Deletes an endpoint and waits (bounded) until it is gone. `notifications`: remove its
    /// connection notifications first (the properties named a topic).
    async fn delete_endpoint(
        &self,
        ctx: &RequestContext,
        id: &str,
        notifications: bool,
    ) -> Result<()> {
        if notifications {
            let existing = self.ec2.connection_notifications(id).await?;
            let ids: Vec<String> = existing.into_iter().map(|(id, _)| id).collect();
            self.ec2.remove_connection_notifications(&ids).await?;
        }
        self.ec2.delete_endpoint(id).await?;
        loop {
            match self.ec2.endpoint(id).await? {
                None => return Ok(()),
                Some(endpoint) if endpoint.state == EndpointState::Deleted => return Ok(()),
                Some(endpoint) if ctx.remaining() <= POLL_INTERVAL => {
                    return Err(Error::NotReady {
                        what: format!("Deleting VPC endpoint {id}"),
                        detail: format!("it is still {}; retry the stack deletion", endpoint.state),
                    })
                }
                Some(_) => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }
}

/// The target in a log line: its id or "new".
fn plan_target(target: &Target) -> String {
    match target {
        Target::Endpoint { endpoint, origin } => format!("{} ({origin:?})", endpoint.id),
        Target::New { replacing: true } => "new (replacing)".to_owned(),
        Target::New { replacing: false } => "new".to_owned(),
    }
}

impl CustomResource for EndpointResource {
    async fn create(&self, ctx: &RequestContext, properties: &Value) -> Result<Reply> {
        let spec = EndpointSpec::parse(properties)?;
        self.reconcile(ctx, Operation::Create, &spec, None).await
    }

    async fn update(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        properties: &Value,
        old: &Value,
    ) -> Result<Reply> {
        let spec = EndpointSpec::parse(properties)?;
        // Decided from the endpoint as it is, not from OldResourceProperties (on a rollback
        // those are the properties that failed); only whether they had a policy and a topic,
        // which can't be seen on the endpoint, is read from them.
        let operation = Operation::Update {
            old_policy_given: old.get("PolicyDocument").is_some_and(|p| !p.is_null()),
            old_topic_given: names_connection_topic(old),
        };
        self.reconcile(ctx, operation, &spec, Some(physical_id)).await
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        properties: &Value,
    ) -> Result<Reply> {
        // Notifications are removed with the endpoint (AWS documents no cascade): the user's,
        // and the acceptance loop's when this provider has its topic.
        let notifications = names_connection_topic(properties)
            || self.handoff.as_ref().is_some_and(|h| h.topic().is_some());
        let only_named = ctx.delete_scope == DeleteScope::OnlyTheNamedResource;
        // The names of DnsNames the properties give (lenient: a Delete must not fail on them).
        let named: Vec<String> =
            EndpointSpec::parse(properties).map(|spec| spec.dns_names).unwrap_or_default();
        if let Some(handoff) = &self.handoff {
            // A Delete while waiting: the loop must not answer, nor switch anything on, later.
            // Best effort: a loop left running finds the endpoint gone and ends by itself. A
            // cleanup Delete stops only the loops of the endpoint it deletes: the resource's
            // new endpoint may have a loop of its own.
            let endpoint = only_named.then_some(physical_id);
            if let Err(err) = handoff.stop_all(&ctx.stack_id, &ctx.logical_id, endpoint).await {
                tracing::warn!(error = %err, "could not stop the acceptance loop");
            }
        }
        if properties::is_aws_id(physical_id, "vpce-") {
            match self.ec2.endpoint(physical_id).await? {
                Some(endpoint) if endpoint.state == EndpointState::Deleted => {
                    tracing::info!("the endpoint is already deleted")
                }
                Some(endpoint)
                    if ec2::is_owned_by(&endpoint.tags, &ctx.stack_id, &ctx.logical_id) =>
                {
                    if ec2::is_pending_takeover(&endpoint.tags) {
                        // Taken over by a Create that never answered SUCCESS: not ours.
                        tracing::info!("giving back an endpoint whose takeover never succeeded");
                        self.give_back_tags_only(ctx, &endpoint).await;
                    } else {
                        if dns::has_names(&named, &endpoint.tags) {
                            dns::release(&self.route53, &self.ec2, ctx, physical_id).await?;
                        }
                        self.delete_endpoint(ctx, physical_id, notifications).await?;
                    }
                }
                Some(_) => tracing::warn!("the endpoint is not one this resource made; leaving it"),
                None => tracing::info!("the endpoint is already gone"),
            }
        } else if only_named {
            tracing::info!("a cleanup Delete of an id that names no endpoint: nothing to do");
        } else {
            // A placeholder from a failed Create, or an id CloudFormation made up for a Create it
            // cancelled: whatever that Create made is found by its tags (looking again for a
            // while when its calls may still complete).
            let left = cfn::find_what_a_create_left(ctx, physical_id, POLL_INTERVAL, || async {
                let made = self.ec2.endpoints_made_for(&ctx.stack_id, &ctx.logical_id).await?;
                Ok(made
                    .into_iter()
                    .filter(|e| e.state != EndpointState::Deleted)
                    .collect::<Vec<_>>())
            })
            .await?;
            for endpoint in left {
                if endpoint.tags.contains_key(ec2::TAG_TAKEN_OVER) {
                    // Taken over, and CloudFormation never learned it was: not ours to delete.
                    tracing::info!(endpoint_id = %endpoint.id, "giving back an endpoint an unfinished Create took over");
                    self.give_back_tags_only(ctx, &endpoint).await;
                    continue;
                }
                tracing::info!(endpoint_id = %endpoint.id, "deleting an endpoint left by an unfinished Create");
                if dns::has_names(&named, &endpoint.tags) {
                    dns::release(&self.route53, &self.ec2, ctx, &endpoint.id).await?;
                }
                self.delete_endpoint(ctx, &endpoint.id, notifications).await?;
            }
        }
        // The resource goes (not only one of its endpoints): a zone no live endpoint of it
        // uses (a failed replacement's, an endpoint deleted another way) goes with it.
        if !named.is_empty() && !only_named {
            dns::sweep(&self.route53, &self.ec2, ctx).await?;
        }
        Ok(Outcome::new(physical_id).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_token_is_stable_per_request_and_fits_ec2s_limit() {
        let ctx = RequestContext::for_test(Duration::from_secs(1));
        let token = client_token(&ctx);
        assert_eq!(token.len(), 64);
        assert_eq!(token, client_token(&ctx));
        let loop_token = loop_notification_token(&ctx, "vpce-1");
        assert_ne!(loop_token, loop_notification_token(&ctx, "vpce-2"));
        assert_ne!(loop_token, notification_token(&ctx));
        assert_eq!(loop_token.len(), 64);
        let retry = RequestContext { request_id: "other".into(), ..ctx };
        assert_ne!(token, client_token(&retry));
        assert_ne!(notification_token(&retry), client_token(&retry));
        // The loop's notification is the endpoint's, whichever request hands it to a loop.
        assert_eq!(loop_token, loop_notification_token(&retry, "vpce-1"));
    }
}
