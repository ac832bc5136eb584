//! `Custom::PrivateLinkEndpoint`: the runbook's interface VPC endpoint, verified first, made
//! once however often the event is delivered, and cleaned up whatever state it was left in.

use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::acceptance::{self, Handoff, WaitState};
use crate::cfn::engine::{CustomResource, RequestContext};
use crate::cfn::{self, Outcome, Reply};
use crate::ec2::{self, Ec2, EndpointChange, EndpointView, NewEndpoint, ServiceView, VpcDns};
use crate::error::{AwsErrorKind, Error, Result};
use crate::properties::{self, PropertyReader, Tag};

/// Default of `AcceptanceTimeoutSeconds` while CloudFormation waits: under its default hour.
pub const DEFAULT_ACCEPTANCE_TIMEOUT_SECS: u64 = 3300;
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The resource's properties, typed and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSpec {
    /// `ServiceName`.
    pub service_name: String,
    /// `VpcId`.
    pub vpc_id: String,
    /// `SubnetIds`, at most one per Availability Zone.
    pub subnet_ids: Vec<String>,
    /// `SecurityGroupIds`; empty: the VPC's default group.
    pub group_ids: Vec<String>,
    /// `PolicyDocument`, compact JSON.
    pub policy: Option<String>,
    /// `PrivateDnsEnabled`; `None`: on when the service has a verified private DNS name.
    pub private_dns: Option<bool>,
    /// `IpAddressType`.
    pub ip_address_type: Option<String>,
    /// `ServiceRegion` (cross-Region PrivateLink).
    pub service_region: Option<String>,
    /// `Tags`.
    pub tags: Vec<Tag>,
    /// `WaitForAcceptance`, default true: CloudFormation waits until the provider accepts.
    pub wait_for_acceptance: bool,
    /// `AcceptanceTimeoutSeconds`; `None`: 3300 while CloudFormation waits, 7 days otherwise.
    pub acceptance_timeout_secs: Option<u64>,
    /// `AcceptancePollIntervalSeconds`; `None`: 15 while CloudFormation waits, 300 otherwise.
    pub acceptance_poll_secs: Option<u64>,
    /// `ServiceTimeout`, CloudFormation's own wait for this resource, if the template set one.
    pub service_timeout_secs: Option<u64>,
    /// `ConnectionNotificationArn`: an SNS topic told of the endpoint's connection events.
    pub connection_topic: Option<String>,
}

impl EndpointSpec {
    /// Reads and validates `ResourceProperties`, naming every bad property.
    pub fn parse(properties: &Value) -> Result<Self> {
        let mut r = PropertyReader::new(properties)?;
        let service_name = r.required_string("ServiceName");
        if let Some(name) = &service_name {
            if name.contains(char::is_whitespace) || name.len() > 255 {
                r.problem(
                    "ServiceName",
                    format!(
                        "{} is not a service name (com.amazonaws.vpce.<region>.vpce-svc-...)",
                        properties::quoted(name)
                    ),
                );
            }
        }
        let vpc_id = r.required_id("VpcId", "vpc-");
        let subnet_ids = match r.optional_list("SubnetIds") {
            None => {
                r.problem("SubnetIds", "is required");
                None
            }
            Some(_) => r.id_list("SubnetIds", "subnet-"),
        };
        let group_ids = match r.optional_list("SecurityGroupIds") {
            Some(list) if !list.is_empty() => r.id_list("SecurityGroupIds", "sg-"),
            _ => None,
        };
        let policy = r.optional_json_document("PolicyDocument");
        let private_dns = r.optional_bool("PrivateDnsEnabled");
        let ip_address_type = r.optional_string("IpAddressType");
        if let Some(kind) = &ip_address_type {
            if !matches!(kind.as_str(), "ipv4" | "dualstack" | "ipv6") {
                r.problem(
                    "IpAddressType",
                    format!("{} is not one of ipv4, dualstack, ipv6", properties::quoted(kind)),
                );
            }
        }
        let service_region = r.optional_string("ServiceRegion");
        if let Some(region) = &service_region {
            let looks_like_region = region.split('-').count() >= 3
                && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !looks_like_region {
                r.problem(
                    "ServiceRegion",
                    format!(
                        "{} is not a Region name such as us-east-1",
                        properties::quoted(region)
                    ),
                );
            }
        }
        let tags = r.tags("Tags");
        let wait_for_acceptance = r.optional_bool("WaitForAcceptance").unwrap_or(true);
        let acceptance_timeout_secs =
            r.optional_u64("AcceptanceTimeoutSeconds", 1..=30 * 24 * 3600);
        let acceptance_poll_secs = r.optional_u64("AcceptancePollIntervalSeconds", 1..=3600);
        let service_timeout_secs = r.optional_u64("ServiceTimeout", 1..=3600);
        if let (Some(timeout), Some(poll)) = (acceptance_timeout_secs, acceptance_poll_secs) {
            let answering = acceptance::answering_timeout(timeout, service_timeout_secs);
            let longest = if wait_for_acceptance { answering } else { timeout };
            if let Some(problem) = acceptance::rounds_problem(longest, poll) {
                r.problem("AcceptancePollIntervalSeconds", problem);
            }
        }
        let connection_topic = r.optional_string("ConnectionNotificationArn");
        if let Some(topic) = &connection_topic {
            let parts: Vec<&str> = topic.splitn(6, ':').collect();
            let is_topic_arn = parts.len() == 6
                && parts[0] == "arn"
                && parts[1].starts_with("aws")
                && parts[2] == "sns"
                && !parts[5].is_empty();
            if !is_topic_arn {
                r.problem(
                    "ConnectionNotificationArn",
                    format!(
                        "{} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)",
                        properties::quoted(topic)
                    ),
                );
            }
        }
        let spec = Self {
            service_name: service_name.unwrap_or_default(),
            vpc_id: vpc_id.unwrap_or_default(),
            subnet_ids: subnet_ids.unwrap_or_default(),
            group_ids: group_ids.unwrap_or_default(),
            policy,
            private_dns,
            ip_address_type,
            service_region,
            tags,
            wait_for_acceptance,
            acceptance_timeout_secs,
            acceptance_poll_secs,
            service_timeout_secs,
            connection_topic,
        };
        r.finish(spec)
    }
}

/// The idempotency token of one request: the same for every delivery of the same request (so
/// no second endpoint is made), at most 64 characters as EC2 requires.
pub fn client_token(ctx: &RequestContext) -> String {
    request_digest(format!("{}\n{}\n{}", ctx.stack_id, ctx.logical_id, ctx.request_id))
}

/// The idempotency token of the connection notification one request makes.
pub fn notification_token(ctx: &RequestContext) -> String {
    request_digest(format!("connection-notification\n{}", client_token(ctx)))
}

/// 64 hex characters: the longest ClientToken EC2 takes.
fn request_digest(text: String) -> String {
    Sha256::digest(text).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether properties (old or new) name a `ConnectionNotificationArn`.
fn names_connection_topic(properties: &Value) -> bool {
    properties.get("ConnectionNotificationArn").is_some_and(|v| !v.is_null())
}

/// Checks the subnets against the zones the service offers: one subnet per zone, each zone
/// offered. `zones` pairs each subnet with its zone.
pub fn check_zones(service: &ServiceView, zones: &[(String, String)]) -> Result<()> {
    for (i, (subnet, zone)) in zones.iter().enumerate() {
        if let Some((other, _)) = zones[..i].iter().find(|(_, z)| z == zone) {
            return Err(Error::SubnetsShareZone {
                first: other.clone(),
                second: subnet.clone(),
                zone: zone.clone(),
            });
        }
        if !service.zones.iter().any(|z| z == zone) {
            return Err(Error::ZoneNotOffered {
                subnet: subnet.clone(),
                zone: zone.clone(),
                service: service.name.clone(),
                offered: service.zones.join(", "),
            });
        }
    }
    Ok(())
}

/// Whether Private DNS should end up on, or why it can't be.
pub fn private_dns_wanted(spec: &EndpointSpec, service: &ServiceView) -> Result<bool> {
    match spec.private_dns {
        Some(false) => Ok(false),
        None => Ok(service.has_verified_private_dns()),
        Some(true) if service.has_verified_private_dns() => Ok(true),
        Some(true) => Err(Error::PrivateDnsUnavailable {
            service: service.name.clone(),
            why: match (&service.private_dns_name, &service.private_dns_verification) {
                (None, _) => "has no private DNS name".to_owned(),
                (Some(name), state) => format!(
                    "has the private DNS name {name}, whose domain ownership is not verified (state: {})",
                    state.as_deref().unwrap_or("unknown")
                ),
            },
        }),
    }
}

/// Whether the observed endpoint can't become the desired one in place (ServiceName, VpcId,
/// ServiceRegion and IpAddressType are fixed for an endpoint's life). No ServiceRegion, given or
/// reported, means the client's own Region, `local_region`.
pub fn needs_replacement(current: &EndpointView, spec: &EndpointSpec, local_region: &str) -> bool {
    let ip_type_differs = match (&spec.ip_address_type, &current.ip_address_type) {
        (Some(wanted), Some(have)) => !wanted.eq_ignore_ascii_case(have),
        (Some(wanted), None) => wanted != "ipv4",
        (None, _) => false,
    };
    current.service_name != spec.service_name
        || current.vpc_id != spec.vpc_id
        || spec.service_region.as_deref().unwrap_or(local_region)
            != current.service_region.as_deref().unwrap_or(local_region)
        || ip_type_differs
}

/// The in-place change from the observed endpoint to the spec. `old_policy_given` says whether
/// the previous properties had a policy (removing it restores the default one).
pub fn plan_change(
    current: &EndpointView,
    spec: &EndpointSpec,
    private_dns: bool,
    old_policy_given: bool,
) -> EndpointChange {
    let missing = |have: &[String], want: &[String]| -> Vec<String> {
        want.iter().filter(|w| !have.contains(w)).cloned().collect()
    };
    let (add_groups, remove_groups) = if spec.group_ids.is_empty() {
        // Without SecurityGroupIds the endpoint keeps whatever group it has (AWS gave it the
        // VPC's default group at creation): an endpoint can't be left with none.
        (vec![], vec![])
    } else {
        (missing(&current.group_ids, &spec.group_ids), missing(&spec.group_ids, &current.group_ids))
    };
    let same_policy = |a: &str, b: &str| {
        serde_json::from_str::<Value>(a).ok() == serde_json::from_str::<Value>(b).ok()
    };
    let policy = spec
        .policy
        .clone()
        .filter(|p| !current.policy.as_deref().is_some_and(|c| same_policy(c, p)));
    // Private DNS waits for acceptance: switching it on before the endpoint works is an outage.
    let private_dns_enabled = (!current.is("pendingAcceptance")
        && current.private_dns_enabled != private_dns)
        .then_some(private_dns);
    EndpointChange {
        add_subnets: missing(&current.subnet_ids, &spec.subnet_ids),
        remove_subnets: missing(&spec.subnet_ids, &current.subnet_ids),
        add_groups,
        remove_groups,
        reset_policy: spec.policy.is_none() && old_policy_given,
        policy,
        private_dns_enabled,
    }
}

/// The regional DNS name: AWS lists it first, as `vpce-<id>-<suffix>.vpce-svc-...`; zonal ones
/// carry the zone (`vpce-<id>-<suffix>-us-east-1a.vpce-svc-...`).
pub fn regional_dns_name(names: &[String]) -> Option<&String> {
    names
        .iter()
        .find(|name| name.split('.').next().is_some_and(|label| label.split('-').count() == 3))
        .or_else(|| names.first())
}

/// The `Data` of an answer: every list comma-joined.
pub fn endpoint_outcome(
    endpoint: &EndpointView,
    addresses: &[String],
    private_dns_name: Option<&str>,
) -> Outcome {
    Outcome::new(&endpoint.id)
        .with("VpcEndpointId", &endpoint.id)
        .with("State", &endpoint.state)
        .with("DnsName", regional_dns_name(&endpoint.dns_names).cloned().unwrap_or_default())
        .with("DnsEntries", endpoint.dns_names.join(","))
        .with("NetworkInterfaceIds", endpoint.network_interface_ids.join(","))
        .with("PrivateIpAddresses", addresses.join(","))
        .with("PrivateDnsName", private_dns_name.unwrap_or_default())
        .with("SecurityGroupIds", endpoint.group_ids.join(","))
}

/// Why the VPC can't have Private DNS, if it can't: both DNS attributes must be on.
pub fn vpc_dns_problem(vpc_id: &str, dns: VpcDns) -> Option<Error> {
    let missing: Vec<(&str, &str)> = [
        (!dns.support).then_some(("enableDnsSupport", "enable-dns-support")),
        (!dns.hostnames).then_some(("enableDnsHostnames", "enable-dns-hostnames")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let (_, flag) = *missing.first()?;
    Some(Error::VpcDnsOff {
        vpc: vpc_id.to_owned(),
        missing: missing.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(" and "),
        flag: flag.to_owned(),
    })
}

/// The endpoints of a VPC that may hold a private DNS name another endpoint wants: live, with
/// Private DNS on, and neither the one being updated nor one this resource made (a redelivered
/// Create's own endpoint, or the one a replacement replaces).
pub fn name_holder_candidates<'a>(
    endpoints: &'a [EndpointView],
    ctx: &RequestContext,
    updating: Option<&str>,
) -> Vec<&'a EndpointView> {
    endpoints
        .iter()
        .filter(|e| e.private_dns_enabled && !e.is_finished())
        .filter(|e| Some(e.id.as_str()) != updating)
        .filter(|e| !ec2::is_owned_by(&e.tags, &ctx.stack_id, &ctx.logical_id))
        .collect()
}

/// Turns AWS's "conflicting DNS domain" refusal into a reason a person can act on.
pub fn explain(err: crate::error::AwsError, vpc_id: &str) -> Error {
    if err.message.contains("conflicting DNS domain") {
        Error::PrivateDnsConflict { vpc: vpc_id.to_owned(), detail: err.message }
    } else {
        err.into()
    }
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

    /// The console's "Verify", and the subnet check, before anything is made.
    /// `updating`: the endpoint an in-place Update changes (it may hold the name already).
    async fn verify(
        &self,
        ctx: &RequestContext,
        spec: &EndpointSpec,
        updating: Option<&str>,
    ) -> Result<(ServiceView, bool)> {
        let service =
            match self.ec2.service(&spec.service_name, spec.service_region.as_deref()).await {
                Ok(service) => service,
                Err(err) if err.kind == AwsErrorKind::InvalidServiceName => {
                    return Err(Error::ServiceNotFound {
                        service: spec.service_name.clone(),
                        detail: err.message,
                    })
                }
                Err(err) => return Err(err.into()),
            };
        let zones =
            self.ec2.subnet_zones(&spec.subnet_ids).await.map_err(|e| match e.is_not_found() {
                // The error names the subnets that are missing, and only those.
                true => Error::property(
                    "SubnetIds",
                    format!("{} in this account and Region", e.message),
                ),
                false => e.into(),
            })?;
        check_zones(&service, &zones)?;
        let private_dns = private_dns_wanted(spec, &service)?;
        if private_dns {
            self.check_private_dns_prerequisites(ctx, spec, &service, updating).await?;
        }
        Ok((service, private_dns))
    }

    /// What Private DNS needs of the VPC, checked before anything is made: its two DNS
    /// attributes, and the name not already held by another endpoint there. Found only after
    /// acceptance, either would fail the stack and its rollback would throw the acceptance away.
    async fn check_private_dns_prerequisites(
        &self,
        ctx: &RequestContext,
        spec: &EndpointSpec,
        service: &ServiceView,
        updating: Option<&str>,
    ) -> Result<()> {
        let dns = self.ec2.vpc_dns_attributes(&spec.vpc_id).await?;
        if let Some(error) = vpc_dns_problem(&spec.vpc_id, dns) {
            return Err(error);
        }
        let Some(name) = service.private_dns_name.as_deref() else { return Ok(()) };
        let endpoints = self.ec2.endpoints_in_vpc(&spec.vpc_id).await?;
        let holders = name_holder_candidates(&endpoints, ctx, updating);
        if holders.is_empty() {
            return Ok(());
        }
        let mut services: Vec<String> = holders.iter().map(|e| e.service_name.clone()).collect();
        services.sort();
        services.dedup();
        services.retain(|s| s != &service.name);
        let names = self.ec2.private_dns_names(&services).await?;
        let holder = holders.iter().find(|e| {
            e.service_name == service.name
                || names.get(&e.service_name).map(String::as_str) == Some(name)
        });
        match holder {
            Some(holder) => Err(Error::PrivateDnsConflict {
                vpc: spec.vpc_id.clone(),
                detail: format!("{} of {} holds {name}", holder.id, holder.service_name),
            }),
            None => Ok(()),
        }
    }

    async fn create_endpoint(
        &self,
        ctx: &RequestContext,
        spec: &EndpointSpec,
        replacing: bool,
    ) -> Result<Reply> {
        let (service, private_dns) = self.verify(ctx, spec, None).await?;
        if !replacing {
            // Live, pending ones included.
            if let Some(earlier) = self.made_before(ctx, spec, |e| !e.is_finished()).await? {
                // A Create interrupted earlier (its call completed after the deadline) left
                // this endpoint: it is the one to keep, not a second one beside it.
                tracing::info!(endpoint_id = %earlier.id, state = %earlier.state, "adopting the endpoint an earlier Create of this resource made");
                if spec.connection_topic.is_some() {
                    self.reconcile_notifications(
                        ctx,
                        &earlier.id,
                        spec.connection_topic.as_deref(),
                    )
                    .await?;
                }
                let outcome = self.settle(ctx, &earlier.id, &service, private_dns).await?;
                return self
                    .wait_for_acceptance(ctx, spec, &service, private_dns, outcome, true)
                    .await;
            }
        }
        let mut tags = ec2::owner_tags(&ctx.stack_id, &ctx.logical_id);
        tags.extend(spec.tags.iter().map(|t| (t.key.clone(), t.value.clone())));
        let token = client_token(ctx);
        let created = self
            .ec2
            .create_endpoint(&NewEndpoint {
                service_name: &spec.service_name,
                vpc_id: &spec.vpc_id,
                subnet_ids: &spec.subnet_ids,
                group_ids: &spec.group_ids,
                policy: spec.policy.as_deref(),
                // Off while the provider has to accept: it is switched on after acceptance.
                private_dns_enabled: private_dns && !service.acceptance_required,
                ip_address_type: spec.ip_address_type.as_deref(),
                service_region: spec.service_region.as_deref(),
                client_token: &token,
                tags: &tags,
            })
            .await
            .map_err(|e| explain(e, &spec.vpc_id))?;
        tracing::info!(endpoint_id = %created.id, state = %created.state, "endpoint created (or found by its token)");
        let settled = async {
            if let Some(topic) = &spec.connection_topic {
                let token = notification_token(ctx);
                self.ec2.notify_connection_events(&created.id, topic, &token).await?;
            }
            let outcome = self.settle(ctx, &created.id, &service, private_dns).await?;
            self.wait_for_acceptance(ctx, spec, &service, private_dns, outcome, !replacing).await
        }
        .await;
        match settled {
            Ok(reply) => Ok(reply),
            Err(err) => {
                // A replacement that fails must not leave a second endpoint: CloudFormation keeps
                // the old id and will never ask to delete this one.
                if replacing {
                    if let Err(cleanup) = self.ec2.delete_endpoint(&created.id).await {
                        tracing::warn!(endpoint_id = %created.id, error = %cleanup, "could not remove the half-made replacement");
                    }
                }
                Err(err)
            }
        }
    }

    /// Hands an endpoint that waits for the provider to the acceptance loop. While CloudFormation
    /// waits (a Create with `WaitForAcceptance` on) the loop answers it later; otherwise the
    /// answer is given now and a background loop only switches Private DNS on after acceptance.
    async fn wait_for_acceptance(
        &self,
        ctx: &RequestContext,
        spec: &EndpointSpec,
        service: &ServiceView,
        private_dns: bool,
        outcome: Outcome,
        is_create: bool,
    ) -> Result<Reply> {
        let state = outcome.data.get("State").map(String::as_str).unwrap_or_default();
        let waiting = state.eq_ignore_ascii_case("pendingAcceptance")
            || state.eq_ignore_ascii_case("pending");
        let answering = is_create && spec.wait_for_acceptance;
        let Some(handoff) = self.handoff.as_ref().filter(|_| waiting && (answering || private_dns))
        else {
            if waiting && self.handoff.is_none() {
                tracing::warn!("no acceptance loop configured (ACCEPTANCE_STATE_MACHINE_ARN): answering pendingAcceptance now; Private DNS stays off");
            }
            return Ok(outcome.into());
        };
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
            vpc_endpoint_id: outcome.physical_id.clone(),
            service_name: spec.service_name.clone(),
            private_dns_enabled: private_dns,
            private_dns_name: service.private_dns_name.clone(),
            timeout_seconds,
            // Never more rounds than Step Functions' history holds: a loop that reaches the
            // limit dies without answering. (A background loop's interval may be stretched.)
            poll_interval_seconds: acceptance::bounded_poll_interval(timeout_seconds, wanted_poll),
            started_at: None,
            done: false,
            last_state: None,
            error: None,
        };
        let execution = handoff.start(ctx, &wait).await?;
        tracing::info!(
            execution,
            answering,
            endpoint_id = %wait.vpc_endpoint_id,
            "waiting for the provider to accept {}: give them this id", wait.vpc_endpoint_id
        );
        Ok(if answering { Reply::Later { by: execution } } else { outcome.into() })
    }

    /// Waits (bounded) until the endpoint leaves `pending`, then describes it for the answer.
    async fn settle(
        &self,
        ctx: &RequestContext,
        id: &str,
        service: &ServiceView,
        private_dns: bool,
    ) -> Result<Outcome> {
        let endpoint = self.wait_while_pending(ctx, id).await?;
        if ["rejected", "failed", "expired"].iter().any(|s| endpoint.is(s)) {
            return Err(Error::EndpointFailed {
                endpoint: endpoint.id,
                state: endpoint.state,
                last_error: endpoint.last_error,
            });
        }
        if endpoint.is("pendingAcceptance") {
            tracing::info!("the provider has not accepted the connection yet");
        }
        let addresses = self.ec2.interface_addresses(&endpoint.network_interface_ids).await?;
        let dns_name = service.private_dns_name.as_deref().filter(|_| private_dns);
        Ok(endpoint_outcome(&endpoint, &addresses, dns_name))
    }

    async fn wait_while_pending(&self, ctx: &RequestContext, id: &str) -> Result<EndpointView> {
        loop {
            let observed = self.ec2.endpoint(id).await?;
            // A fresh id can answer NotFound for a while (eventual consistency): keep looking.
            let still_pending = observed.as_ref().is_none_or(|e| e.is("pending"));
            match observed {
                Some(endpoint) if !still_pending => return Ok(endpoint),
                _ if ctx.remaining() <= POLL_INTERVAL => {
                    let state = observed.map_or_else(|| "not visible yet".to_owned(), |e| e.state);
                    return Err(Error::NotReady {
                        what: format!("VPC endpoint {id}"),
                        detail: format!("it is still {state}; raise the function's timeout or retry the stack operation (the same endpoint is reused)"),
                    });
                }
                _ => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }

    /// An endpoint this resource made before that already is what the spec asks for and that
    /// `usable` accepts.
    async fn made_before(
        &self,
        ctx: &RequestContext,
        spec: &EndpointSpec,
        usable: impl Fn(&EndpointView) -> bool,
    ) -> Result<Option<EndpointView>> {
        let region = self.ec2.region().await;
        Ok(self
            .ec2
            .endpoints_made_for(&ctx.stack_id, &ctx.logical_id)
            .await?
            .into_iter()
            .find(|e| usable(e) && !needs_replacement(e, spec, &region)))
    }

    /// Makes the endpoint's connection notifications those of `wanted` (none, or one topic).
    async fn reconcile_notifications(
        &self,
        ctx: &RequestContext,
        endpoint_id: &str,
        wanted: Option<&str>,
    ) -> Result<()> {
        let existing = self.ec2.connection_notifications(endpoint_id).await?;
        let stale: Vec<String> = existing
            .iter()
            .filter(|(_, topic)| Some(topic.as_str()) != wanted)
            .map(|(id, _)| id.clone())
            .collect();
        self.ec2.remove_connection_notifications(&stale).await?;
        if let Some(topic) = wanted.filter(|t| !existing.iter().any(|(_, have)| have == t)) {
            self.ec2.notify_connection_events(endpoint_id, topic, &notification_token(ctx)).await?;
        }
        Ok(())
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
            self.reconcile_notifications(ctx, id, None).await?;
        }
        self.ec2.delete_endpoint(id).await?;
        loop {
            match self.ec2.endpoint(id).await? {
                None => return Ok(()),
                Some(endpoint) if endpoint.is("deleted") => return Ok(()),
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

impl CustomResource for EndpointResource {
    async fn create(&self, ctx: &RequestContext, properties: &Value) -> Result<Reply> {
        let spec = EndpointSpec::parse(properties)?;
        self.create_endpoint(ctx, &spec, false).await
    }

    async fn update(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        properties: &Value,
        old: &Value,
    ) -> Result<Reply> {
        let spec = EndpointSpec::parse(properties)?;
        // Decided from the endpoint as it is, not from OldResourceProperties: on a rollback those
        // are the properties that failed.
        let current = match properties::is_aws_id(physical_id, "vpce-") {
            true => self.ec2.endpoint(physical_id).await?.filter(|e| !e.is_deleted()),
            false => None,
        };
        let Some(current) = current else {
            tracing::info!("the endpoint is gone; making a new one");
            // As for a replacement: a failure must not leave the new one behind.
            return self.create_endpoint(ctx, &spec, true).await;
        };
        // Only what this resource made is changed (an event can name any id).
        ec2::check_owned(&current.id, &current.tags, &ctx.stack_id, &ctx.logical_id)?;
        let current = if needs_replacement(&current, &spec, &self.ec2.region().await) {
            // Not deleted, other than the current one: the one being replaced.
            let earlier = |e: &EndpointView| e.id != current.id && !e.is_deleted();
            match self.made_before(ctx, &spec, earlier).await? {
                // A rollback to the endpoint being replaced: it still exists, so it is the one
                // to return to (a new one would clash with its private DNS name).
                Some(earlier) => {
                    tracing::info!(endpoint_id = %earlier.id, "returning to the endpoint this resource made before");
                    earlier
                }
                None => {
                    tracing::info!("ServiceName, VpcId, ServiceRegion or IpAddressType changed: replacing the endpoint");
                    return self.create_endpoint(ctx, &spec, true).await;
                }
            }
        } else {
            current
        };
        let (service, private_dns) = self.verify(ctx, &spec, Some(&current.id)).await?;
        let old_policy_given = old.get("PolicyDocument").is_some_and(|p| !p.is_null());
        let change = plan_change(&current, &spec, private_dns, old_policy_given);
        if !change.is_empty() {
            tracing::info!(?change, "changing the endpoint in place");
            self.ec2
                .modify_endpoint(&current.id, &change)
                .await
                .map_err(|e| explain(e, &spec.vpc_id))?;
        }
        let (set, unset) = properties::tag_changes(&current.tags, &spec.tags, ec2::is_managed_tag);
        self.ec2.tag(&current.id, &set).await?;
        self.ec2.untag(&current.id, &unset).await?;
        if spec.connection_topic.is_some() || names_connection_topic(old) {
            self.reconcile_notifications(ctx, &current.id, spec.connection_topic.as_deref())
                .await?;
        }
        self.settle(ctx, &current.id, &service, private_dns).await.map(Reply::from)
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        properties: &Value,
    ) -> Result<Reply> {
        let notifications = names_connection_topic(properties);
        if let Some(handoff) = &self.handoff {
            // A Delete while waiting: the loop must not answer, nor switch anything on, later.
            // Best effort: a loop left running finds the endpoint gone and ends by itself.
            if let Err(err) = handoff.stop_all(&ctx.stack_id, &ctx.logical_id).await {
                tracing::warn!(error = %err, "could not stop the acceptance loop");
            }
        }
        if properties::is_aws_id(physical_id, "vpce-") {
            match self.ec2.endpoint(physical_id).await? {
                Some(endpoint) if endpoint.is("deleted") => {
                    tracing::info!("the endpoint is already deleted")
                }
                Some(endpoint)
                    if ec2::is_owned_by(&endpoint.tags, &ctx.stack_id, &ctx.logical_id) =>
                {
                    self.delete_endpoint(ctx, physical_id, notifications).await?;
                }
                Some(_) => tracing::warn!("the endpoint is not one this resource made; leaving it"),
                None => tracing::info!("the endpoint is already gone"),
            }
        } else {
            // A placeholder from a failed Create, or an id CloudFormation made up for a Create it
            // cancelled: whatever that Create made is found by its tags (looking again for a
            // while when its calls may still complete).
            let left = cfn::find_what_a_create_left(ctx, physical_id, POLL_INTERVAL, || async {
                let made = self.ec2.endpoints_made_for(&ctx.stack_id, &ctx.logical_id).await?;
                Ok(made.into_iter().filter(|e| !e.is("deleted")).collect::<Vec<_>>())
            })
            .await?;
            for endpoint in left {
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
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
            "VpcId": "vpc-1",
            "SubnetIds": ["subnet-a", "subnet-b"]
        })
    }

    fn with(key: &str, value: Value) -> Value {
        let mut props = valid();
        props[key] = value;
        props
    }

    fn service() -> ServiceView {
        ServiceView {
            name: "svc".into(),
            zones: vec!["us-east-1a".into(), "us-east-1b".into()],
            acceptance_required: true,
            private_dns_name: Some("api.partner.com".into()),
            private_dns_verification: Some("verified".into()),
        }
    }

    #[test]
    fn private_dns_needs_both_vpc_dns_attributes_and_says_how_to_turn_them_on() {
        let on = VpcDns { support: true, hostnames: true };
        assert!(vpc_dns_problem("vpc-1", on).is_none());
        let no_hostnames = vpc_dns_problem("vpc-1", VpcDns { hostnames: false, ..on }).unwrap();
        assert!(no_hostnames.to_string().contains(
            "Private DNS needs enableDnsHostnames on vpc-1, which it has off: turn it on (aws ec2 modify-vpc-attribute --vpc-id vpc-1 --enable-dns-hostnames)"
        ), "{no_hostnames}");
        let neither =
            vpc_dns_problem("vpc-1", VpcDns { support: false, hostnames: false }).unwrap();
        assert!(
            neither.to_string().contains("enableDnsSupport and enableDnsHostnames"),
            "{neither}"
        );
        assert!(neither.to_string().contains("--enable-dns-support"), "{neither}");
    }

    #[test]
    fn only_live_foreign_endpoints_with_private_dns_can_hold_the_name() {
        let ctx = RequestContext::for_test(Duration::from_secs(60));
        let mine = ec2::owner_tags(&ctx.stack_id, &ctx.logical_id).into_iter().collect();
        let endpoint = |id: &str, state: &str, private_dns: bool| EndpointView {
            id: id.into(),
            state: state.into(),
            private_dns_enabled: private_dns,
            ..EndpointView::default()
        };
        let endpoints = vec![
            endpoint("vpce-holder", "available", true),
            endpoint("vpce-pending", "pendingAcceptance", true),
            endpoint("vpce-off", "available", false),
            endpoint("vpce-deleted", "deleted", true),
            endpoint("vpce-rejected", "rejected", true),
            endpoint("vpce-updated", "available", true),
            EndpointView { tags: mine, ..endpoint("vpce-mine", "available", true) },
        ];
        let ids: Vec<&str> = name_holder_candidates(&endpoints, &ctx, Some("vpce-updated"))
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(ids, ["vpce-holder", "vpce-pending"]);
    }

    #[test]
    fn an_explicit_poll_interval_and_timeout_past_the_history_limit_are_refused() {
        let mut props = valid();
        props["WaitForAcceptance"] = json!("false");
        props["AcceptanceTimeoutSeconds"] = json!("86400");
        props["AcceptancePollIntervalSeconds"] = json!("1");
        let err = EndpointSpec::parse(&props).unwrap_err();
        assert!(
            err.to_string().contains(
                "AcceptancePollIntervalSeconds: every 1 s for 86400 s makes 86400 checks"
            ),
            "{err}"
        );
        // While CloudFormation waits the loop ends 60 s before its hour: 3540 checks at 1 s.
        let mut props = valid();
        props["AcceptanceTimeoutSeconds"] = json!("7200");
        props["AcceptancePollIntervalSeconds"] = json!("1");
        assert!(EndpointSpec::parse(&props).is_err());
        props["AcceptancePollIntervalSeconds"] = json!("2");
        assert!(EndpointSpec::parse(&props).is_ok());
    }

    #[test]
    fn a_connection_topic_must_be_an_sns_topic_arn() {
        let topic = "arn:aws:sns:us-east-1:123456789012:partner";
        let spec = EndpointSpec::parse(&with("ConnectionNotificationArn", json!(topic))).unwrap();
        assert_eq!(spec.connection_topic.as_deref(), Some(topic));
        for bad in
            ["partner", "arn:aws:sqs:us-east-1:123456789012:partner", "arn:aws:sns:us-east-1:1:"]
        {
            let err =
                EndpointSpec::parse(&with("ConnectionNotificationArn", json!(bad))).unwrap_err();
            assert!(err.to_string().contains("is not an SNS topic ARN"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_minimal_spec_has_the_documented_defaults() {
        let spec = EndpointSpec::parse(&valid()).unwrap();
        assert_eq!(spec.private_dns, None);
        assert!(spec.wait_for_acceptance);
        assert_eq!(spec.acceptance_timeout_secs, None);
        assert!(spec.group_ids.is_empty());
    }

    #[test]
    fn string_typed_values_are_typed() {
        let mut props = with("PrivateDnsEnabled", json!("false"));
        props["WaitForAcceptance"] = json!("false");
        props["AcceptanceTimeoutSeconds"] = json!("600");
        props["ServiceTimeout"] = json!("900");
        let spec = EndpointSpec::parse(&props).unwrap();
        assert_eq!(spec.private_dns, Some(false));
        assert!(!spec.wait_for_acceptance);
        assert_eq!(spec.acceptance_timeout_secs, Some(600));
        assert_eq!(spec.service_timeout_secs, Some(900));
    }

    #[test]
    fn every_bad_property_is_named() {
        let cases = [
            ("ServiceName", json!("not a name")),
            ("VpcId", json!("sg-1")),
            ("SubnetIds", json!(["vpc-1"])),
            ("SubnetIds", json!([])),
            ("SecurityGroupIds", json!(["subnet-1"])),
            ("PolicyDocument", json!("{not json")),
            ("PrivateDnsEnabled", json!("yes")),
            ("IpAddressType", json!("ipv5")),
            ("ServiceRegion", json!("Virginia")),
            ("Tags", json!([{"Key": "aws:x", "Value": "y"}])),
            ("WaitForAcceptance", json!("maybe")),
            ("AcceptanceTimeoutSeconds", json!("0")),
            ("AcceptancePollIntervalSeconds", json!("fast")),
        ];
        for (key, value) in cases {
            let reason = EndpointSpec::parse(&with(key, value.clone())).unwrap_err().to_string();
            assert!(reason.contains(&format!("{key}:")), "{key}={value} gave: {reason}");
        }
        for key in ["ServiceName", "VpcId", "SubnetIds"] {
            let mut props = valid();
            props.as_object_mut().unwrap().remove(key);
            let reason = EndpointSpec::parse(&props).unwrap_err().to_string();
            assert!(reason.contains(&format!("{key}: is required")), "{reason}");
        }
    }

    #[test]
    fn the_client_token_is_stable_per_request_and_fits_ec2s_limit() {
        let ctx = RequestContext::for_test(Duration::from_secs(1));
        let token = client_token(&ctx);
        assert_eq!(token.len(), 64);
        assert_eq!(token, client_token(&ctx));
        let retry = RequestContext { request_id: "other".into(), ..ctx };
        assert_ne!(token, client_token(&retry));
    }

    #[test]
    fn a_subnet_in_a_zone_the_service_lacks_is_named_with_the_offered_zones() {
        let zones = [("subnet-c".to_owned(), "us-east-1c".to_owned())];
        let reason = check_zones(&service(), &zones).unwrap_err().to_string();
        assert!(reason.contains("subnet-c is in us-east-1c"), "{reason}");
        assert!(reason.contains("us-east-1a, us-east-1b"), "{reason}");
    }

    #[test]
    fn two_subnets_in_one_zone_are_refused() {
        let zones = [
            ("subnet-a".to_owned(), "us-east-1a".to_owned()),
            ("subnet-b".to_owned(), "us-east-1a".to_owned()),
        ];
        assert!(matches!(check_zones(&service(), &zones), Err(Error::SubnetsShareZone { .. })));
    }

    #[test]
    fn private_dns_defaults_on_only_for_a_verified_name() {
        let spec = EndpointSpec::parse(&valid()).unwrap();
        assert!(private_dns_wanted(&spec, &service()).unwrap());
        let unverified = ServiceView {
            private_dns_verification: Some("pendingVerification".into()),
            ..service()
        };
        assert!(!private_dns_wanted(&spec, &unverified).unwrap());
        let asked = EndpointSpec::parse(&with("PrivateDnsEnabled", json!("true"))).unwrap();
        let reason = private_dns_wanted(&asked, &unverified).unwrap_err().to_string();
        assert!(reason.contains("pendingVerification"), "{reason}");
        let no_name = ServiceView { private_dns_name: None, ..service() };
        assert!(private_dns_wanted(&asked, &no_name)
            .unwrap_err()
            .to_string()
            .contains("no private DNS name"));
    }

    fn current() -> EndpointView {
        EndpointView {
            id: "vpce-1".into(),
            state: "available".into(),
            service_name: "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0".into(),
            vpc_id: "vpc-1".into(),
            subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
            group_ids: vec!["sg-1".into()],
            private_dns_enabled: true,
            policy: Some(r#"{"Statement": []}"#.into()),
            ..EndpointView::default()
        }
    }

    #[test]
    fn service_vpc_region_and_address_type_changes_need_a_new_endpoint() {
        let spec = EndpointSpec::parse(&valid()).unwrap();
        assert!(!needs_replacement(&current(), &spec, "us-east-1"));
        let same_region = EndpointSpec::parse(&with("ServiceRegion", json!("us-east-1"))).unwrap();
        assert!(!needs_replacement(&current(), &same_region, "us-east-1"));
        for (key, value) in [
            ("ServiceName", json!("com.amazonaws.vpce.us-east-1.vpce-svc-other")),
            ("VpcId", json!("vpc-2")),
            ("ServiceRegion", json!("us-west-2")),
            ("IpAddressType", json!("dualstack")),
        ] {
            let spec = EndpointSpec::parse(&with(key, value)).unwrap();
            assert!(needs_replacement(&current(), &spec, "us-east-1"), "{key}");
        }
        let same_type = EndpointSpec::parse(&with("IpAddressType", json!("ipv4"))).unwrap();
        assert!(!needs_replacement(&current(), &same_type, "us-east-1"));
    }

    #[test]
    fn subnets_groups_policy_and_private_dns_change_in_place() {
        let mut props = with("SubnetIds", json!(["subnet-b", "subnet-c"]));
        props["SecurityGroupIds"] = json!(["sg-2"]);
        props["PolicyDocument"] = json!({"Statement": [{"Effect": "Allow"}]});
        let spec = EndpointSpec::parse(&props).unwrap();
        let change = plan_change(&current(), &spec, false, false);
        assert_eq!(change.add_subnets, ["subnet-c"]);
        assert_eq!(change.remove_subnets, ["subnet-a"]);
        assert_eq!(change.add_groups, ["sg-2"]);
        assert_eq!(change.remove_groups, ["sg-1"]);
        assert!(change.policy.is_some());
        assert_eq!(change.private_dns_enabled, Some(false));
    }

    #[test]
    fn nothing_changes_when_the_endpoint_already_matches() {
        let mut props = valid();
        props["PolicyDocument"] = json!("{\"Statement\":[]}");
        let spec = EndpointSpec::parse(&props).unwrap();
        assert!(plan_change(&current(), &spec, true, true).is_empty());
    }

    #[test]
    fn a_removed_policy_is_reset_to_the_default() {
        let spec = EndpointSpec::parse(&valid()).unwrap();
        assert!(plan_change(&current(), &spec, true, true).reset_policy);
        assert!(!plan_change(&current(), &spec, true, false).reset_policy);
    }

    #[test]
    fn private_dns_is_not_switched_on_while_acceptance_is_pending() {
        let pending = EndpointView {
            state: "pendingAcceptance".into(),
            private_dns_enabled: false,
            ..current()
        };
        let spec = EndpointSpec::parse(&valid()).unwrap();
        assert_eq!(plan_change(&pending, &spec, true, false).private_dns_enabled, None);
    }

    #[test]
    fn the_regional_dns_name_is_the_one_without_a_zone() {
        let names = [
            "vpce-0abc-1x2y3z4w-us-east-1a.vpce-svc-1.us-east-1.vpce.amazonaws.com".to_owned(),
            "vpce-0abc-1x2y3z4w.vpce-svc-1.us-east-1.vpce.amazonaws.com".to_owned(),
        ];
        assert_eq!(regional_dns_name(&names).unwrap(), &names[1]);
    }
}
