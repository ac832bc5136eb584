//! `Custom::PrivateLinkEndpoint` served as a reconcile: observe what exists, plan (pure, in
//! [`super::plan`]), apply the calls, and answer once. Delete is cleanup, apart.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use super::acceptance::{self, Handoff, WaitState};
use super::attributes::{endpoint_attributes, explain};
use super::checks::{
    name_holder_candidates, private_dns_wanted, remote_access_zone_ids, remote_zone_refusal,
};
use super::plan::{self, answer_for, Answer, Call, Observed, Plan};
use super::spec::{EndpointSpec, DEFAULT_ACCEPTANCE_TIMEOUT_SECS};
use super::target::{self, choose_target, Found, Operation, Origin, Target};
use crate::cfn::engine::CustomResource;
use crate::cfn::DeleteScope;
use crate::cfn::RequestContext;
use crate::cfn::{self, Outcome, Reply};
use crate::ec2::{
    self, Ec2, EndpointChange, EndpointState, EndpointView, InterfaceView, NewEndpoint, ServiceView,
};
use crate::error::{AwsErrorKind, Error, Result};
use crate::properties;
use crate::text::sha256_hex;

const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Kept at the end of a takeover's time to give the endpoint back if it can't finish.
const GIVE_BACK_TIME: Duration = Duration::from_secs(10);

/// What a takeover changed so far, to give the endpoint back if it fails.
#[derive(Debug, Default)]
struct Undo {
    /// The in-place change made.
    change: Option<EndpointChange>,
    /// The topic of the connection notification made.
    topic: Option<String>,
    /// Another resource's claim stood: the endpoint is not ours to give back.
    claim_lost: bool,
}

/// The idempotency token of one request: the same for every delivery of the same request (so
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
    ec2: Ec2,
    handoff: Option<Handoff>,
}

impl EndpointResource {
    /// The resource over EC2 operations. Without a hand-off, an endpoint waiting for acceptance
    /// is answered at once with `State` = `pendingAcceptance`.
    pub fn new(ec2: Ec2) -> Self {
        Self { ec2, handoff: None }
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

    /// Reads what the choice of the endpoint to act on needs.
    async fn find(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        spec: &EndpointSpec,
        physical_id: Option<&str>,
    ) -> Result<Found> {
        let region = self.ec2.region().await;
        let current = match physical_id.filter(|id| properties::is_aws_id(id, "vpce-")) {
            Some(id) => self.ec2.endpoint(id).await?,
            None => None,
        };
        let existing = match (&spec.existing_endpoint_id, operation) {
            (Some(id), Operation::Create) => self.ec2.endpoint(id).await?,
            _ => None,
        };
        // Earlier endpoints of this resource matter to a Create (an interrupted one to keep)
        // and to an Update that can't be made in place (a rollback's endpoint to return to).
        let looks_back = match (&current, operation) {
            (_, Operation::Create) => spec.existing_endpoint_id.is_none(),
            (Some(current), _) if !current.state.is_deleted() => {
                target::needs_replacement(current, spec, &region)
            }
            _ => false,
        };
        let made_before = match looks_back {
            true => self.ec2.endpoints_made_for(&ctx.stack_id, &ctx.logical_id).await?,
            false => Vec::new(),
        };
        Ok(Found { region, current, made_before, existing })
    }

    /// Reads everything the plan decides on, before anything is changed.
    async fn observe(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        spec: &EndpointSpec,
        found: &Found,
        target: &Target,
    ) -> Result<Observed> {
        let endpoint = match target {
            Target::Endpoint { endpoint, .. } => Some(endpoint),
            Target::New { .. } => None,
        };
        let subnets = async {
            self.ec2.subnets(&spec.subnet_ids).await.map_err(|e| match e.is_not_found() {
                // The error names the subnets that are missing, and only those.
                true => Error::property(
                    "SubnetIds",
                    format!("{} in this account and Region", e.message),
                ),
                false => e.into(),
            })
        };
        // A takeover keeps the interfaces' addresses, to give them back if it fails.
        let adopted = matches!(target, Target::Endpoint { origin: Origin::Adopted, .. });
        let interfaces = async {
            match endpoint {
                Some(e) if !spec.subnet_addresses.is_empty() || adopted => {
                    self.ec2.interfaces(&e.network_interface_ids).await
                }
                _ => Ok(Vec::new()),
            }
        };
        let old_topic = matches!(operation, Operation::Update { old_topic_given: true, .. });
        let notifications = async {
            match endpoint {
                Some(e) if spec.connection_topic.is_some() || old_topic => {
                    self.ec2.connection_notifications(&e.id).await
                }
                _ => Ok(Vec::new()),
            }
        };
        // The reads are independent: made at once, one round trip instead of four. Their
        // errors are looked at in this order, so the same mistakes give the same Reason.
        let (service, subnets, interfaces, notifications) =
            tokio::join!(self.service(spec), subnets, interfaces, notifications);
        let (service, subnets) = (service?, subnets?);
        let (interfaces, mut notifications) = (interfaces?, notifications?);
        // The acceptance loop's own notification is not the user's to change.
        let loop_topic = self.handoff.as_ref().and_then(Handoff::topic);
        notifications.retain(|(_, topic)| Some(topic.as_str()) != loop_topic);
        let mut observed = Observed {
            region: found.region.clone(),
            service,
            subnets,
            interfaces,
            notifications,
            ..Observed::default()
        };
        // Private DNS needs the VPC's DNS attributes and its name free: checked before anything
        // is made, since finding out after the provider accepted throws the acceptance away.
        if private_dns_wanted(spec, &observed.service).unwrap_or(false) {
            let (vpc_dns, name_holder) = tokio::join!(
                self.ec2.vpc_dns_attributes(&spec.vpc_id),
                self.name_holder(ctx, spec, &observed.service, found)
            );
            observed.vpc_dns = Some(vpc_dns?);
            observed.name_holder = name_holder?;
        }
        Ok(observed)
    }

    /// The console's "Verify": the service, looked up in its Region.
    async fn service(&self, spec: &EndpointSpec) -> Result<ServiceView> {
        match self.ec2.service(&spec.service_name, spec.service_region.as_deref()).await {
            Ok(service) => Ok(service),
            Err(err) if err.kind == AwsErrorKind::InvalidServiceName => {
                Err(Error::ServiceNotFound {
                    service: spec.service_name.clone(),
                    detail: err.message,
                })
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Another live endpoint of the VPC holding the service's private DNS name, if any.
    async fn name_holder(
        &self,
        ctx: &RequestContext,
        spec: &EndpointSpec,
        service: &ServiceView,
        found: &Found,
    ) -> Result<Option<(String, String)>> {
        let Some(name) = service.private_dns_name.as_deref() else { return Ok(None) };
        let endpoints = self.ec2.endpoints_in_vpc(&spec.vpc_id).await?;
        let mine: BTreeSet<String> =
            [&found.current, &found.existing].into_iter().flatten().map(|e| e.id.clone()).collect();
        let holders = name_holder_candidates(&endpoints, &mine, &ctx.stack_id, &ctx.logical_id);
        if holders.is_empty() {
            return Ok(None);
        }
        let mut services: Vec<String> = holders.iter().map(|e| e.service_name.clone()).collect();
        services.sort();
        services.dedup();
        services.retain(|s| s != &service.name);
        let names = self.ec2.private_dns_names(&services).await?;
        Ok(holders
            .iter()
            .find(|e| {
                e.service_name == service.name
                    || names.get(&e.service_name).map(String::as_str) == Some(name)
            })
            .map(|e| (e.id.clone(), e.service_name.clone())))
    }

    /// Makes the plan's calls, waits out `pending`, and answers (or hands the answer off).
    async fn apply(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        spec: &EndpointSpec,
        observed: &Observed,
        mut plan: Plan,
    ) -> Result<Reply> {
        let (mut id, replacing) = match &plan.target {
            Target::Endpoint { endpoint, origin } => {
                tracing::info!(endpoint_id = %endpoint.id, state = %endpoint.state, ?origin, "acting on an existing endpoint");
                (endpoint.id.clone(), false)
            }
            Target::New { replacing } => (String::new(), *replacing),
        };
        // A takeover: the endpoint as found, to give back if the takeover fails.
        let found = match &plan.target {
            Target::Endpoint { endpoint, origin: Origin::Adopted } => {
                Some(endpoint.as_ref().clone())
            }
            _ => None,
        };
        let mut undo = Undo::default();
        let mut made = None;
        let work = async {
            for call in plan.calls.clone() {
                match call {
                    Call::Create { private_dns_enabled } => {
                        let created = self
                            .create(ctx, spec, observed, &mut plan, private_dns_enabled)
                            .await?;
                        tracing::info!(endpoint_id = %created.id, state = %created.state, "endpoint created (or found by its token)");
                        id = created.id.clone();
                        made = Some(created.id);
                    }
                    Call::Modify(change) => {
                        tracing::info!(?change, "changing the endpoint in place");
                        self.ec2
                            .modify_endpoint(&id, &change)
                            .await
                            .map_err(|e| self.explain_remote(e, spec, observed))?;
                        undo.change = Some(change);
                    }
                    Call::Tag { set, unset } => {
                        self.ec2.tag(&id, &set).await?;
                        self.ec2.untag(&id, &unset).await?;
                        if found.is_some() && set.iter().any(|(k, _)| k == ec2::TAG_STACK_ID) {
                            // A rival claim written meanwhile overwrote ours, or is overwritten
                            // by it within a round trip: read back after the settle time.
                            tokio::time::sleep(ec2::CLAIM_SETTLE).await;
                            let tags =
                                self.ec2.endpoint(&id).await?.map(|e| e.tags).unwrap_or_default();
                            if let Err(lost) = ec2::check_claim_stands(
                                "ExistingVpcEndpointId",
                                &id,
                                &tags,
                                &ctx.stack_id,
                                &ctx.logical_id,
                            ) {
                                undo.claim_lost = true;
                                return Err(lost);
                            }
                        }
                    }
                    Call::Notify { remove, add } => {
                        self.ec2.remove_connection_notifications(&remove).await?;
                        if let Some(topic) = add {
                            let (events, token) =
                                (&ec2::CONNECTION_EVENTS, notification_token(ctx));
                            self.ec2.notify_connection_events(&id, &topic, events, &token).await?;
                            undo.topic = Some(topic);
                        }
                    }
                }
            }
            self.answer(ctx, operation, spec, &observed.service, &plan, &id).await
        };
        let result = match &found {
            None => work.await,
            Some(_) => {
                let undo_by = ctx.deadline.checked_sub(GIVE_BACK_TIME).unwrap_or(ctx.deadline);
                tokio::time::timeout_at(undo_by, work).await.unwrap_or_else(|_| {
                    Err(Error::NotReady {
                        what: format!("Taking over VPC endpoint {id}"),
                        detail: "it was given back as it was found; raise the function's timeout and retry".to_owned(),
                    })
                })
            }
        };
        if let (Err(err), Some(found), false) = (&result, &found, undo.claim_lost) {
            tracing::warn!(endpoint_id = %found.id, error = %err, "the takeover failed: giving the endpoint back as it was found");
            self.give_back(found, &observed.interfaces, &undo).await;
        }
        let in_place = matches!(&plan.target, Target::Endpoint { origin: Origin::Current, .. });
        if let (Ok(_), true) = (&result, in_place) {
            self.remove_strays(ctx, &id).await;
        }
        if let (Err(_), Some(new_id), true) = (&result, &made, replacing) {
            // A replacement that fails must not leave a second endpoint: CloudFormation keeps
            // the old id and will never ask to delete this one.
            if let Err(cleanup) = self.ec2.delete_endpoint(new_id).await {
                tracing::warn!(endpoint_id = %new_id, error = %cleanup, "could not remove the half-made replacement");
            }
        }
        result
    }

    /// Deletes the endpoints tagged for this resource other than `kept`, which an Update keeps
    /// in place: CloudFormation knows of no other (a replacement cut off before it answered made
    /// one, and the rollback's Update came back to `kept`). Best effort, logged.
    async fn remove_strays(&self, ctx: &RequestContext, kept: &str) {
        let strays = match self.ec2.endpoints_made_for(&ctx.stack_id, &ctx.logical_id).await {
            Ok(endpoints) => endpoints,
            Err(err) => return tracing::warn!(error = %err, "could not look for stray endpoints"),
        };
        for endpoint in strays.into_iter().filter(|e| e.id != kept && !e.state.is_deleted()) {
            if ec2::is_pending_takeover(&endpoint.tags) {
                self.give_back_tags_only(&endpoint).await;
                continue;
            }
            match self.ec2.delete_endpoint(&endpoint.id).await {
                Ok(()) => {
                    tracing::info!(endpoint_id = %endpoint.id, "deleted an endpoint CloudFormation does not know of")
                }
                Err(err) => {
                    tracing::warn!(endpoint_id = %endpoint.id, error = %err, "could not delete a stray endpoint")
                }
            }
        }
    }

    /// Gives an endpoint taken over back: the change undone and the notification removed (when
    /// known: `undo`), the user's tags as `found` had them, every tag of this project removed.
    /// Best effort: what can't be done is logged, and any later Delete removes the owner tags.
    async fn give_back(&self, found: &EndpointView, interfaces: &[InterfaceView], undo: &Undo) {
        let id = found.id.as_str();
        let given = async {
            if let Some(change) = &undo.change {
                let back = plan::undo_change(found, interfaces, change);
                if !back.is_empty() {
                    self.ec2.modify_endpoint(id, &back).await?;
                }
            }
            if let Some(topic) = &undo.topic {
                let made: Vec<String> = self
                    .ec2
                    .connection_notifications(id)
                    .await?
                    .into_iter()
                    .filter(|(_, t)| t == topic)
                    .map(|(n, _)| n)
                    .collect();
                self.ec2.remove_connection_notifications(&made).await?;
            }
            let Some(now) = self.ec2.endpoint(id).await? else { return Ok(()) };
            let (set, unset) = ec2::give_back_tags(&now.tags, &found.tags);
            self.ec2.tag(id, &set).await?;
            // The owner tags go last: the role may change only what they mark.
            self.ec2.untag(id, &unset).await
        }
        .await;
        match given {
            Ok(()) => tracing::info!(endpoint_id = id, "gave the endpoint back"),
            Err(err) => {
                tracing::error!(endpoint_id = id, error = %err, "could not give the endpoint back in full")
            }
        }
    }

    /// Gives back an endpoint whose takeover never answered SUCCESS, as far as can be known
    /// without what it was: every tag of this project removed.
    async fn give_back_tags_only(&self, endpoint: &EndpointView) {
        self.give_back(endpoint, &[], &Undo::default()).await;
    }

    /// `CreateVpcEndpoint`. A service in another Region refuses subnets outside the zones it
    /// serves remotely, naming them: that refusal (made before anything exists) becomes the
    /// reason, or, with `SkipUnsupportedZones`, one more try with the subnets it allows.
    async fn create(
        &self,
        ctx: &RequestContext,
        spec: &EndpointSpec,
        observed: &Observed,
        plan: &mut Plan,
        private_dns_enabled: bool,
    ) -> Result<EndpointView> {
        let token = client_token(ctx);
        let mut retried = false;
        loop {
            let mut tags = ec2::owner_tags(&ctx.stack_id, &ctx.logical_id);
            tags.extend(spec.tags.iter().map(|t| (t.key.clone(), t.value.clone())));
            let made = plan::made_with(spec, &observed.subnets, &plan.subnets, plan.private_dns);
            tags.push((ec2::TAG_MADE_WITH.to_owned(), made.to_tag_value()));
            let created = self
                .ec2
                .create_endpoint(&NewEndpoint {
                    service_name: &spec.service_name,
                    vpc_id: &spec.vpc_id,
                    subnet_ids: &plan.subnets,
                    subnet_addresses: &plan.subnet_addresses,
                    group_ids: &spec.group_ids,
                    policy: spec.policy.as_deref(),
                    private_dns_enabled,
                    ip_address_type: spec.ip_address_type.as_deref(),
                    dns_options: &spec.dns_options,
                    service_region: spec.service_region.as_deref(),
                    client_token: &token,
                    tags: &tags,
                })
                .await;
            let err = match created {
                Ok(created) => return Ok(created),
                Err(err) => err,
            };
            let allowed = remote_access_zone_ids(&err.message);
            let (Some(allowed), false) = (allowed, retried) else {
                return Err(explain(err, &spec.vpc_id));
            };
            let used: Vec<_> =
                observed.subnets.iter().filter(|s| plan.subnets.contains(&s.id)).cloned().collect();
            let (kept, skipped) = remote_zone_refusal(
                spec.skip_unsupported_zones,
                &observed.service,
                &used,
                &allowed,
            )?;
            tracing::warn!(
                ?skipped,
                "the service serves this Region from fewer zones: trying again without them"
            );
            plan.subnet_addresses.retain(|a| kept.contains(&a.subnet_id));
            plan.subnets = kept;
            plan.skipped_subnets.extend(skipped);
            retried = true;
        }
    }

    /// A refusal of subnets by a remote service, in words; any other error as it is.
    fn explain_remote(
        &self,
        err: crate::error::AwsError,
        spec: &EndpointSpec,
        observed: &Observed,
    ) -> Error {
        // A Modify is not tried again with fewer subnets: the refusal is the reason.
        remote_access_zone_ids(&err.message)
            .and_then(|allowed| {
                remote_zone_refusal(false, &observed.service, &observed.subnets, &allowed).err()
            })
            .unwrap_or_else(|| explain(err, &spec.vpc_id))
    }

    /// Waits out `pending`, then answers now, or hands the answer (or only the switch to
    /// Private DNS) to the acceptance loop.
    async fn answer(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        spec: &EndpointSpec,
        service: &ServiceView,
        plan: &Plan,
        id: &str,
    ) -> Result<Reply> {
        let endpoint = self.wait_while_pending(ctx, id).await?;
        if endpoint.state.is_failed() {
            return Err(Error::EndpointFailed {
                endpoint: endpoint.id,
                state: endpoint.state.to_string(),
                last_error: endpoint.last_error,
            });
        }
        let interfaces = self.ec2.interfaces(&endpoint.network_interface_ids).await?;
        let dns_name = service.private_dns_name.as_deref().filter(|_| plan.private_dns);
        let outcome = endpoint_attributes(&endpoint, &interfaces, dns_name, &plan.skipped_subnets);
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
        let execution = handoff.start(ctx, &wait).await?;
        tracing::info!(
            execution,
            answering,
            endpoint_id = %wait.vpc_endpoint_id,
            "waiting for the provider to accept {}: give them this id", wait.vpc_endpoint_id
        );
        Ok(if answering { Reply::Later { by: execution } } else { outcome.into() })
    }

    async fn wait_while_pending(&self, ctx: &RequestContext, id: &str) -> Result<EndpointView> {
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
                        self.give_back_tags_only(&endpoint).await;
                    } else {
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
                    self.give_back_tags_only(&endpoint).await;
                    continue;
                }
                tracing::info!(endpoint_id = %endpoint.id, "deleting an endpoint left by an unfinished Create");
                self.delete_endpoint(ctx, &endpoint.id, notifications).await?;
            }
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
