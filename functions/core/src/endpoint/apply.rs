//! The plan carried out: its calls made in order, `pending` waited out, the answer given or
//! handed to the acceptance loop; a takeover that fails is given back as it was found.

use std::time::Duration;

use super::attributes::explain;
use super::checks::{remote_access_zone_ids, remote_zone_refusal};
use super::dns;
use super::plan::{self, Call, Observed, Plan};
use super::spec::EndpointSpec;
use super::target::{Operation, Origin, Target};
use crate::cfn::Reply;
use crate::cfn::RequestContext;
use crate::ec2::{self, EndpointChange, EndpointView, InterfaceView, NewEndpoint};
use crate::error::{Error, Result};

use super::resource::{client_token, notification_token, EndpointResource};

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
impl EndpointResource {
    /// Makes the plan's calls, waits out `pending`, and answers (or hands the answer off).
    pub(super) async fn apply(
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
            self.answer(ctx, operation, spec, observed, &plan, &id).await
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
            let names = dns::has_names(&spec.dns_names, &found.tags);
            self.give_back(ctx, found, &observed.interfaces, &undo, names).await;
        }
        let in_place = matches!(&plan.target, Target::Endpoint { origin: Origin::Current, .. });
        if let (Ok(_), true) = (&result, in_place) {
            self.remove_strays(ctx, &id).await;
        }
        if let (Err(_), Some(new_id), true) = (&result, &made, replacing) {
            // A replacement that fails must not leave a second endpoint (nor zones pointing at
            // it): CloudFormation keeps the old id and will never ask to delete this one.
            if !spec.dns_names.is_empty() {
                if let Err(err) = dns::release(&self.route53, &self.ec2, ctx, new_id).await {
                    tracing::warn!(endpoint_id = %new_id, error = %err, "could not remove the half-made replacement's zones");
                }
            }
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
                self.give_back_tags_only(ctx, &endpoint).await;
                continue;
            }
            // Its zones of DnsNames first: the ones `kept` still names were pointed at it.
            if dns::has_names(&[], &endpoint.tags) {
                if let Err(err) = dns::release(&self.route53, &self.ec2, ctx, &endpoint.id).await {
                    tracing::warn!(endpoint_id = %endpoint.id, error = %err, "could not remove a stray endpoint's zones");
                    continue;
                }
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

    /// Gives an endpoint taken over back: the zones of `DnsNames` made for it removed, the change
    /// undone and the notification removed (when known: `undo`), the user's tags as `found` had
    /// them, every tag of this project removed. Best effort: what can't be done is logged, and
    /// any later Delete removes the owner tags.
    async fn give_back(
        &self,
        ctx: &RequestContext,
        found: &EndpointView,
        interfaces: &[InterfaceView],
        undo: &Undo,
        names: bool,
    ) {
        let id = found.id.as_str();
        // Its zones first (`names`: it may have some): once the owner tags are gone, nothing
        // points back at them.
        if names {
            if let Err(err) = dns::release(&self.route53, &self.ec2, ctx, id).await {
                tracing::error!(endpoint_id = id, error = %err, "could not remove the zones made for the endpoint given back");
            }
        }
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
    pub(super) async fn give_back_tags_only(&self, ctx: &RequestContext, endpoint: &EndpointView) {
        let names = dns::has_names(&[], &endpoint.tags);
        self.give_back(ctx, endpoint, &[], &Undo::default(), names).await;
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
            let mut tags = ec2::made_tags(&ctx.stack_id, &ctx.logical_id);
            tags.extend(spec.tags.iter().map(|t| (t.key.clone(), t.value.clone())));
            let made = plan::made_with(spec, &observed.subnets, &plan.subnets, plan.private_dns);
            tags.push((ec2::TAG_MADE_WITH.to_owned(), made.to_tag_value()));
            if !spec.dns_names.is_empty() {
                tags.push((ec2::TAG_DNS_NAMES.to_owned(), spec.dns_names.join(" ")));
            }
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
}
