//! What a Create or an Update reads before it decides: the endpoints that could be the target,
//! then the service, the subnets, the VPC's DNS and the endpoint's interfaces and notifications.

use std::collections::BTreeSet;

use super::acceptance::Handoff;
use super::checks::{name_holder_candidates, private_dns_wanted};
use super::dns;
use super::plan::Observed;
use super::spec::EndpointSpec;
use super::target::{self, Found, Operation, Origin, Target};
use crate::cfn::RequestContext;
use crate::ec2::ServiceView;
use crate::error::{AwsErrorKind, Error, Result};
use crate::properties;

use super::resource::EndpointResource;

impl EndpointResource {
    /// Reads what the choice of the endpoint to act on needs.
    pub(super) async fn find(
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
        // A Create that may switch Private DNS on reads the VPC's endpoints anyway (which one
        // holds the name, in `observe`): its own earlier ones are among them, since a Create
        // reuses only an endpoint in the VPC it asks for. One DescribeVpcEndpoints, not two.
        let vpc_wide = operation == Operation::Create && spec.private_dns != Some(false);
        let (made_before, vpc_endpoints) = match (looks_back, vpc_wide) {
            (true, true) => {
                let endpoints = self.ec2.endpoints_in_vpc(&spec.vpc_id).await?;
                let mine = endpoints
                    .iter()
                    .filter(|e| crate::ec2::is_owned_by(&e.tags, &ctx.stack_id, &ctx.logical_id))
                    .cloned()
                    .collect();
                (mine, Some(endpoints))
            }
            (true, false) => {
                (self.ec2.endpoints_made_for(&ctx.stack_id, &ctx.logical_id).await?, None)
            }
            (false, _) => (Vec::new(), None),
        };
        Ok(Found { region, current, made_before, existing, vpc_endpoints })
    }

    /// Reads everything the plan decides on, before anything is changed.
    pub(super) async fn observe(
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
            tokio::join!(self.service(spec, &found.region), subnets, interfaces, notifications);
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
        if !spec.dns_names.is_empty() {
            let private_dns = private_dns_wanted(spec, &observed.service).unwrap_or(false);
            let service = &observed.service;
            dns::check(&self.route53, &self.ec2, ctx, spec, service, private_dns, &found.region)
                .await?;
        }
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
    async fn service(&self, spec: &EndpointSpec, region: &str) -> Result<ServiceView> {
        match self.ec2.service(&spec.service_name, spec.service_region.as_deref()).await {
            Ok(service) => Ok(service),
            Err(err) if err.kind == AwsErrorKind::InvalidServiceName => {
                let service = spec.service_name.clone();
                Err(match spec.service_region.as_deref().filter(|r| *r != region) {
                    // A service of another Region is reached only where it is offered.
                    Some(service_region) => Error::ServiceNotOfferedHere {
                        service,
                        service_region: service_region.to_owned(),
                        region: region.to_owned(),
                        detail: err.message,
                    },
                    None => Error::ServiceNotFound { service, detail: err.message },
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
        let read;
        let endpoints = match &found.vpc_endpoints {
            Some(endpoints) => endpoints,
            None => {
                read = self.ec2.endpoints_in_vpc(&spec.vpc_id).await?;
                &read
            }
        };
        let mine: BTreeSet<String> =
            [&found.current, &found.existing].into_iter().flatten().map(|e| e.id.clone()).collect();
        let holders = name_holder_candidates(endpoints, &mine, &ctx.stack_id, &ctx.logical_id);
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
}
