//! EC2 operations named for what they do, over the SDK client.
//!
//! Each returns plain values ([`view`]) so the decisions that use them stay pure, and classifies
//! failures into [`AwsError`] kinds. Which resources are whose is [`ownership`].

pub mod ownership;
pub mod permissions;
pub mod view;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    DnsOptionsSpecification, DnsRecordIpType, Filter, IpAddressType, IpPermission, IpRange,
    Ipv6Range, PrefixListId, ResourceType, SubnetConfiguration, Tag, TagSpecification,
    UserIdGroupPair, VpcAttributeName, VpcCidrBlockStateCode, VpcEndpointType,
};
use aws_sdk_ec2::Client;

pub use ownership::{
    answered_takeover, check_claim_stands, check_claimable, check_owned, claim_tags,
    give_back_tags, is_managed_tag, is_owned_by, is_owned_by_anyone, is_pending_takeover, owner_of,
    owner_tags, MadeWith, CLAIM_SETTLE, TAG_LOGICAL_ID, TAG_MADE_WITH, TAG_STACK_ID,
    TAG_TAKEN_OVER,
};
pub use view::{
    canonical_cidr, DnsEntry, DnsOptions, EndpointChange, EndpointState, EndpointView, GroupView,
    IngressRule, InterfaceView, NewEndpoint, ServiceView, Source, SubnetAddress, SubnetView,
    VpcDns,
};
use view::{endpoint_view, group_view};

use crate::aws::LazyClient;
use crate::error::{AwsError, AwsErrorKind};

type Ec2Result<T> = Result<T, AwsError>;

/// The connection events an endpoint's notification topic is told of. `Connect` comes first in
/// AWS's list, but happens while the endpoint is created, before a notification can exist.
pub const CONNECTION_EVENTS: [&str; 4] = ["Connect", "Accept", "Reject", "Delete"];

/// EC2 operations for the resources of this project.
#[derive(Debug, Clone)]
pub struct Ec2 {
    client: LazyClient<Client>,
}

fn tag_spec(resource: ResourceType, tags: &[(String, String)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
        .build()
}

fn owner_filters(stack_id: &str, logical_id: &str) -> [Filter; 2] {
    [
        Filter::builder().name(format!("tag:{TAG_STACK_ID}")).values(stack_id).build(),
        Filter::builder().name(format!("tag:{TAG_LOGICAL_ID}")).values(logical_id).build(),
    ]
}

fn tcp_permission(port: u16, sources: &[&Source], description: &str) -> IpPermission {
    let mut permission = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(i32::from(port))
        .to_port(i32::from(port));
    for source in sources {
        permission = match source {
            Source::Cidr(cidr) if cidr.contains(':') => permission
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).description(description).build()),
            Source::Cidr(cidr) => permission
                .ip_ranges(IpRange::builder().cidr_ip(cidr).description(description).build()),
            Source::Group(id) => permission.user_id_group_pairs(
                UserIdGroupPair::builder().group_id(id).description(description).build(),
            ),
            Source::PrefixList(id) => permission.prefix_list_ids(
                PrefixListId::builder().prefix_list_id(id).description(description).build(),
            ),
        };
    }
    permission.build()
}

/// Groups rules by port, one permission per port, as EC2 takes them.
fn permissions(rules: &[IngressRule], description: &str) -> Vec<IpPermission> {
    let mut by_port: BTreeMap<u16, Vec<&Source>> = BTreeMap::new();
    for rule in rules {
        by_port.entry(rule.port).or_default().push(&rule.source);
    }
    by_port.into_iter().map(|(port, sources)| tcp_permission(port, &sources, description)).collect()
}

fn dns_options_spec(options: &DnsOptions) -> DnsOptionsSpecification {
    DnsOptionsSpecification::builder()
        .set_dns_record_ip_type(options.record_ip_type.as_deref().map(DnsRecordIpType::from))
        .set_private_dns_only_for_inbound_resolver_endpoint(options.only_inbound_resolver)
        .build()
}

fn subnet_configurations(addresses: &[SubnetAddress]) -> Option<Vec<SubnetConfiguration>> {
    (!addresses.is_empty()).then(|| {
        addresses
            .iter()
            .map(|a| {
                SubnetConfiguration::builder()
                    .subnet_id(&a.subnet_id)
                    .set_ipv4(a.ipv4.clone())
                    .set_ipv6(a.ipv6.clone())
                    .build()
            })
            .collect()
    })
}

impl Ec2 {
    /// Operations over `client`.
    pub fn new(client: Client) -> Self {
        Self { client: LazyClient::ready(client) }
    }

    /// Operations over a client made on first use from the standard AWS configuration
    /// ([`LazyClient`]): nothing of it is done at start, so it costs no cold start.
    pub fn lazy() -> Self {
        Self { client: LazyClient::default() }
    }

    async fn client(&self) -> &Client {
        self.client.get(Client::new).await
    }

    /// The Region the client calls.
    pub async fn region(&self) -> String {
        self.client().await.config().region().map(|r| r.to_string()).unwrap_or_default()
    }

    /// Every associated IPv4 and IPv6 CIDR block of a VPC.
    pub async fn vpc_cidrs(&self, vpc_id: &str) -> Ec2Result<Vec<String>> {
        let out = self
            .client()
            .await
            .describe_vpcs()
            .vpc_ids(vpc_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeVpcs", e))?;
        let Some(vpc) = out.vpcs().first() else {
            return Err(not_found("DescribeVpcs", "InvalidVpcID.NotFound", vpc_id));
        };
        let associated = |state: Option<&VpcCidrBlockStateCode>| {
            // Absent state: older answers (and the emulator) omit it for the primary block.
            state.is_none_or(|s| *s == VpcCidrBlockStateCode::Associated)
        };
        let mut cidrs: Vec<String> = vpc
            .cidr_block_association_set()
            .iter()
            .filter(|a| associated(a.cidr_block_state().and_then(|s| s.state())))
            .filter_map(|a| a.cidr_block().map(str::to_owned))
            .collect();
        if cidrs.is_empty() {
            cidrs.extend(vpc.cidr_block().map(str::to_owned));
        }
        cidrs.extend(
            vpc.ipv6_cidr_block_association_set()
                .iter()
                .filter(|a| associated(a.ipv6_cidr_block_state().and_then(|s| s.state())))
                .filter_map(|a| a.ipv6_cidr_block().map(str::to_owned)),
        );
        Ok(cidrs.iter().map(|c| canonical_cidr(c)).collect())
    }

    /// Creates a security group with `tags`; returns its id.
    pub async fn create_group(
        &self,
        name: &str,
        description: &str,
        vpc_id: &str,
        tags: &[(String, String)],
    ) -> Ec2Result<String> {
        let out = self
            .client()
            .await
            .create_security_group()
            .group_name(name)
            .description(description)
            .vpc_id(vpc_id)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, tags))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateSecurityGroup", e))?;
        Ok(out.group_id().unwrap_or_default().to_owned())
    }

    /// The group `id`, or `None` when it does not exist.
    pub async fn group(&self, id: &str) -> Ec2Result<Option<GroupView>> {
        match self.client().await.describe_security_groups().group_ids(id).send().await {
            Ok(out) => Ok(out.security_groups().first().map(group_view)),
            Err(e) => none_if_not_found(AwsError::from_sdk("DescribeSecurityGroups", e)),
        }
    }

    /// The group named `name` in `vpc_id`, if any.
    pub async fn group_by_name(&self, vpc_id: &str, name: &str) -> Ec2Result<Option<GroupView>> {
        let out = self
            .client()
            .await
            .describe_security_groups()
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .filters(Filter::builder().name("group-name").values(name).build())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
        Ok(out.security_groups().first().map(group_view))
    }

    /// The groups among `ids` that do not exist (asked by filter, so that every missing one is
    /// named, not only the first).
    pub async fn missing_groups(&self, ids: &[String]) -> Ec2Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .client()
            .await
            .describe_security_groups()
            .filters(Filter::builder().name("group-id").set_values(Some(ids.to_vec())).build())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
        let found: Vec<&str> = out.security_groups().iter().filter_map(|g| g.group_id()).collect();
        Ok(ids.iter().filter(|id| !found.contains(&id.as_str())).cloned().collect())
    }

    /// The managed prefix lists among `ids` that do not exist.
    pub async fn missing_prefix_lists(&self, ids: &[String]) -> Ec2Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .client()
            .await
            .describe_managed_prefix_lists()
            .filters(
                Filter::builder().name("prefix-list-id").set_values(Some(ids.to_vec())).build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeManagedPrefixLists", e))?;
        let found: Vec<&str> =
            out.prefix_lists().iter().filter_map(|l| l.prefix_list_id()).collect();
        Ok(ids.iter().filter(|id| !found.contains(&id.as_str())).cloned().collect())
    }

    /// Groups tagged as made for this stack and logical id.
    pub async fn groups_made_for(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> Ec2Result<Vec<GroupView>> {
        let out = self
            .client()
            .await
            .describe_security_groups()
            .set_filters(Some(owner_filters(stack_id, logical_id).to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
        Ok(out.security_groups().iter().map(group_view).collect())
    }

    /// Adds inbound rules, each with `description`.
    pub async fn authorize_ingress(
        &self,
        group_id: &str,
        rules: &[IngressRule],
        description: &str,
    ) -> Ec2Result<()> {
        if rules.is_empty() {
            return Ok(());
        }
        self.client()
            .await
            .authorize_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions(rules, description)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("AuthorizeSecurityGroupIngress", e))?;
        Ok(())
    }

    /// Removes inbound rules: the given single-port rules and any `foreign` permissions.
    pub async fn revoke_ingress(
        &self,
        group_id: &str,
        rules: &[IngressRule],
        foreign: &[IpPermission],
    ) -> Ec2Result<()> {
        let mut all = permissions(rules, "");
        all.extend(foreign.iter().cloned());
        if all.is_empty() {
            return Ok(());
        }
        self.client()
            .await
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(all))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupIngress", e))?;
        Ok(())
    }

    /// Adds rules exactly as described (putting back what a failed takeover removed): inbound,
    /// or with `outbound`, outbound.
    pub async fn authorize_permissions(
        &self,
        group_id: &str,
        permissions: &[IpPermission],
        outbound: bool,
    ) -> Ec2Result<()> {
        if permissions.is_empty() {
            return Ok(());
        }
        let client = self.client().await;
        let permissions = Some(permissions.to_vec());
        match outbound {
            true => client
                .authorize_security_group_egress()
                .group_id(group_id)
                .set_ip_permissions(permissions)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("AuthorizeSecurityGroupEgress", e)),
            false => client
                .authorize_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(permissions)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("AuthorizeSecurityGroupIngress", e)),
        }
    }

    /// Removes outbound rules exactly as they were described.
    pub async fn revoke_egress(
        &self,
        group_id: &str,
        permissions: &[IpPermission],
    ) -> Ec2Result<()> {
        if permissions.is_empty() {
            return Ok(());
        }
        self.client()
            .await
            .revoke_security_group_egress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupEgress", e))?;
        Ok(())
    }

    /// Deletes a group.
    pub async fn delete_group(&self, group_id: &str) -> Ec2Result<()> {
        self.client()
            .await
            .delete_security_group()
            .group_id(group_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteSecurityGroup", e))?;
        Ok(())
    }

    /// Sets tags (adding or overwriting) on a resource.
    pub async fn tag(&self, resource_id: &str, tags: &[(String, String)]) -> Ec2Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        self.client()
            .await
            .create_tags()
            .resources(resource_id)
            .set_tags(Some(
                tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect(),
            ))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateTags", e))?;
        Ok(())
    }

    /// Removes tags by key from a resource.
    pub async fn untag(&self, resource_id: &str, keys: &[String]) -> Ec2Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.client()
            .await
            .delete_tags()
            .resources(resource_id)
            .set_tags(Some(keys.iter().map(|k| Tag::builder().key(k).build()).collect()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteTags", e))?;
        Ok(())
    }

    /// The console's "Verify": what the service offers, or `InvalidServiceName`.
    pub async fn service(&self, name: &str, region: Option<&str>) -> Ec2Result<ServiceView> {
        let out = self
            .client()
            .await
            .describe_vpc_endpoint_services()
            .service_names(name)
            .set_service_regions(region.map(|r| vec![r.to_owned()]))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeVpcEndpointServices", e))?;
        let Some(detail) = out.service_details().iter().find(|d| d.service_name() == Some(name))
        else {
            return Err(AwsError {
                operation: "DescribeVpcEndpointServices",
                kind: AwsErrorKind::InvalidServiceName,
                code: "InvalidServiceName".into(),
                message: format!("The Vpc Endpoint Service '{name}' does not exist"),
            });
        };
        Ok(ServiceView {
            name: name.to_owned(),
            region: detail.service_region().map(str::to_owned),
            zones: detail.availability_zones().to_vec(),
            acceptance_required: detail.acceptance_required().unwrap_or(false),
            policy_supported: detail.vpc_endpoint_policy_supported(),
            ip_address_types: detail
                .supported_ip_address_types()
                .iter()
                .map(|t| t.as_str().to_ascii_lowercase())
                .collect(),
            private_dns_name: detail.private_dns_name().map(str::to_owned),
            private_dns_verification: detail
                .private_dns_name_verification_state()
                .map(|s| s.as_str().to_owned()),
        })
    }

    /// The subnets asked for, in the order asked; a NotFound error names every subnet that
    /// does not exist, and only those. (Asked by filter: by id, EC2 refuses the whole call at the
    /// first unknown id.)
    pub async fn subnets(&self, subnet_ids: &[String]) -> Ec2Result<Vec<SubnetView>> {
        let out = self
            .client()
            .await
            .describe_subnets()
            .filters(
                Filter::builder().name("subnet-id").set_values(Some(subnet_ids.to_vec())).build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeSubnets", e))?;
        let mut found: BTreeMap<String, SubnetView> = out
            .subnets()
            .iter()
            .filter_map(|s| {
                let view = SubnetView {
                    id: s.subnet_id()?.to_owned(),
                    zone: s.availability_zone().unwrap_or_default().to_owned(),
                    zone_id: s.availability_zone_id().unwrap_or_default().to_owned(),
                    ipv4_cidr: s.cidr_block().map(str::to_owned),
                    ipv6_cidrs: s
                        .ipv6_cidr_block_association_set()
                        .iter()
                        .filter_map(|a| a.ipv6_cidr_block().map(canonical_cidr))
                        .collect(),
                };
                Some((view.id.clone(), view))
            })
            .collect();
        let missing: Vec<&str> =
            subnet_ids.iter().map(String::as_str).filter(|id| !found.contains_key(*id)).collect();
        if !missing.is_empty() {
            return Err(not_found(
                "DescribeSubnets",
                "InvalidSubnetID.NotFound",
                &missing.join(", "),
            ));
        }
        Ok(subnet_ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// Creates an interface endpoint (idempotent by `client_token`).
    pub async fn create_endpoint(&self, new: &NewEndpoint<'_>) -> Ec2Result<EndpointView> {
        let out = self
            .client()
            .await
            .create_vpc_endpoint()
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .vpc_id(new.vpc_id)
            .service_name(new.service_name)
            .set_subnet_ids(Some(new.subnet_ids.to_vec()))
            .set_subnet_configurations(subnet_configurations(new.subnet_addresses))
            .set_security_group_ids((!new.group_ids.is_empty()).then(|| new.group_ids.to_vec()))
            .set_policy_document(new.policy.map(str::to_owned))
            // Sent explicitly: the raw API's default is true, CloudFormation's is false.
            .private_dns_enabled(new.private_dns_enabled)
            .set_ip_address_type(new.ip_address_type.map(IpAddressType::from))
            .set_dns_options(
                (!new.dns_options.is_empty()).then(|| dns_options_spec(new.dns_options)),
            )
            .set_service_region(new.service_region.map(str::to_owned))
            .client_token(new.client_token)
            .tag_specifications(tag_spec(ResourceType::VpcEndpoint, new.tags))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateVpcEndpoint", e))?;
        out.vpc_endpoint()
            .map(endpoint_view)
            .ok_or_else(|| not_found("CreateVpcEndpoint", "MissingVpcEndpoint", new.service_name))
    }

    /// The endpoint `id`, or `None` when it does not exist.
    pub async fn endpoint(&self, id: &str) -> Ec2Result<Option<EndpointView>> {
        match self.client().await.describe_vpc_endpoints().vpc_endpoint_ids(id).send().await {
            Ok(out) => Ok(out.vpc_endpoints().first().map(endpoint_view)),
            Err(e) => none_if_not_found(AwsError::from_sdk("DescribeVpcEndpoints", e)),
        }
    }

    async fn endpoints_where(&self, filters: Vec<Filter>) -> Ec2Result<Vec<EndpointView>> {
        let out = self
            .client()
            .await
            .describe_vpc_endpoints()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeVpcEndpoints", e))?;
        Ok(out.vpc_endpoints().iter().map(endpoint_view).collect())
    }

    /// Endpoints tagged as made for this stack and logical id, including deleted ones.
    pub async fn endpoints_made_for(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> Ec2Result<Vec<EndpointView>> {
        self.endpoints_where(owner_filters(stack_id, logical_id).to_vec()).await
    }

    /// Every endpoint this project made (tagged with a stack id), optionally in one VPC.
    pub async fn managed_endpoints(&self, vpc_id: Option<&str>) -> Ec2Result<Vec<EndpointView>> {
        let mut filters = vec![Filter::builder().name("tag-key").values(TAG_STACK_ID).build()];
        filters.extend(vpc_id.map(|vpc| Filter::builder().name("vpc-id").values(vpc).build()));
        self.endpoints_where(filters).await
    }

    /// Every endpoint of a VPC, deleted ones included.
    pub async fn endpoints_in_vpc(&self, vpc_id: &str) -> Ec2Result<Vec<EndpointView>> {
        self.endpoints_where(vec![Filter::builder().name("vpc-id").values(vpc_id).build()]).await
    }

    /// The private DNS names of endpoint services, by service name (services without one, or
    /// no longer offered, are left out).
    pub async fn private_dns_names(
        &self,
        service_names: &[String],
    ) -> Ec2Result<BTreeMap<String, String>> {
        if service_names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let out = self
            .client()
            .await
            .describe_vpc_endpoint_services()
            .set_service_names(Some(service_names.to_vec()))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let error = AwsError::from_sdk("DescribeVpcEndpointServices", e);
                // A service its provider has since withdrawn holds no name to compare.
                return match error.kind {
                    AwsErrorKind::InvalidServiceName => Ok(BTreeMap::new()),
                    _ => Err(error),
                };
            }
        };
        Ok(out
            .service_details()
            .iter()
            .filter_map(|d| Some((d.service_name()?.to_owned(), d.private_dns_name()?.to_owned())))
            .collect())
    }

    /// The VPC's `enableDnsSupport` and `enableDnsHostnames` (one call each, at once: the API
    /// reads one attribute per call).
    pub async fn vpc_dns_attributes(&self, vpc_id: &str) -> Ec2Result<VpcDns> {
        let (support, hostnames) = tokio::try_join!(
            self.vpc_attribute(vpc_id, VpcAttributeName::EnableDnsSupport),
            self.vpc_attribute(vpc_id, VpcAttributeName::EnableDnsHostnames),
        )?;
        Ok(VpcDns {
            support: support.enable_dns_support().and_then(|v| v.value()).unwrap_or(false),
            hostnames: hostnames.enable_dns_hostnames().and_then(|v| v.value()).unwrap_or(false),
        })
    }

    async fn vpc_attribute(
        &self,
        vpc_id: &str,
        attribute: VpcAttributeName,
    ) -> Ec2Result<aws_sdk_ec2::operation::describe_vpc_attribute::DescribeVpcAttributeOutput> {
        self.client()
            .await
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(attribute)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeVpcAttribute", e))
    }

    /// The connection notifications of an endpoint: (notification id, SNS topic ARN) pairs.
    pub async fn connection_notifications(
        &self,
        endpoint_id: &str,
    ) -> Ec2Result<Vec<(String, String)>> {
        let out = self
            .client()
            .await
            .describe_vpc_endpoint_connection_notifications()
            .filters(Filter::builder().name("vpc-endpoint-id").values(endpoint_id).build())
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let error = AwsError::from_sdk("DescribeVpcEndpointConnectionNotifications", e);
                return if error.is_not_found() { Ok(Vec::new()) } else { Err(error) };
            }
        };
        Ok(out
            .connection_notification_set()
            .iter()
            .filter(|n| n.vpc_endpoint_id() == Some(endpoint_id))
            .filter_map(|n| {
                Some((
                    n.connection_notification_id()?.to_owned(),
                    n.connection_notification_arn()?.to_owned(),
                ))
            })
            .collect())
    }

    /// Tells `topic_arn` of the endpoint's connection `events` (idempotent by `client_token`).
    pub async fn notify_connection_events(
        &self,
        endpoint_id: &str,
        topic_arn: &str,
        events: &[&str],
        client_token: &str,
    ) -> Ec2Result<()> {
        self.client()
            .await
            .create_vpc_endpoint_connection_notification()
            .vpc_endpoint_id(endpoint_id)
            .connection_notification_arn(topic_arn)
            .set_connection_events(Some(events.iter().map(|e| (*e).to_owned()).collect()))
            .client_token(client_token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateVpcEndpointConnectionNotification", e))?;
        Ok(())
    }

    /// Removes connection notifications; ones already gone count as removed.
    pub async fn remove_connection_notifications(&self, ids: &[String]) -> Ec2Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let out = self
            .client()
            .await
            .delete_vpc_endpoint_connection_notifications()
            .set_connection_notification_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteVpcEndpointConnectionNotifications", e))?;
        // The API Reference names no code for an id that is gone; any that says so counts.
        first_failure("DeleteVpcEndpointConnectionNotifications", out.unsuccessful(), |e| {
            e.is_not_found() || e.code.starts_with("InvalidConnectionNotification")
        })
    }

    /// Changes an endpoint in place.
    pub async fn modify_endpoint(&self, id: &str, change: &EndpointChange) -> Ec2Result<()> {
        let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        self.client()
            .await
            .modify_vpc_endpoint()
            .vpc_endpoint_id(id)
            .set_add_subnet_ids(some(&change.add_subnets))
            .set_remove_subnet_ids(some(&change.remove_subnets))
            .set_add_security_group_ids(some(&change.add_groups))
            .set_remove_security_group_ids(some(&change.remove_groups))
            .set_policy_document(change.policy.clone())
            .set_reset_policy(change.reset_policy.then_some(true))
            .set_private_dns_enabled(change.private_dns_enabled)
            .set_subnet_configurations(subnet_configurations(&change.subnet_addresses))
            .set_ip_address_type(change.ip_address_type.as_deref().map(IpAddressType::from))
            .set_dns_options(change.dns_options.as_ref().map(dns_options_spec))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ModifyVpcEndpoint", e))?;
        Ok(())
    }

    /// Deletes an endpoint. AWS reports failures inside a 200 (`Unsuccessful`); one saying the
    /// endpoint is not found counts as done.
    pub async fn delete_endpoint(&self, id: &str) -> Ec2Result<()> {
        let out = self
            .client()
            .await
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteVpcEndpoints", e))?;
        first_failure("DeleteVpcEndpoints", out.unsuccessful(), AwsError::is_not_found)
    }

    /// Network interfaces, in the order given; interfaces that are already gone are skipped.
    pub async fn interfaces(&self, interface_ids: &[String]) -> Ec2Result<Vec<InterfaceView>> {
        if interface_ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = match self
            .client()
            .await
            .describe_network_interfaces()
            .set_network_interface_ids(Some(interface_ids.to_vec()))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let error = AwsError::from_sdk("DescribeNetworkInterfaces", e);
                return if error.is_not_found() { Ok(Vec::new()) } else { Err(error) };
            }
        };
        let mut by_id: BTreeMap<String, InterfaceView> = out
            .network_interfaces()
            .iter()
            .map(|eni| {
                let view = InterfaceView {
                    id: eni.network_interface_id().unwrap_or_default().to_owned(),
                    subnet_id: eni.subnet_id().unwrap_or_default().to_owned(),
                    zone: eni.availability_zone().unwrap_or_default().to_owned(),
                    ipv4: eni.private_ip_address().map(str::to_owned),
                    ipv6: eni
                        .ipv6_addresses()
                        .iter()
                        .filter_map(|a| a.ipv6_address().map(str::to_owned))
                        .collect(),
                };
                (view.id.clone(), view)
            })
            .collect();
        Ok(interface_ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }
}

/// The first failure reported inside a 200 (`Unsuccessful` items) that `is_done` does not
/// excuse (a resource already gone is usually as good as deleted).
fn first_failure(
    operation: &'static str,
    items: &[aws_sdk_ec2::types::UnsuccessfulItem],
    is_done: impl Fn(&AwsError) -> bool,
) -> Ec2Result<()> {
    for item in items {
        let code = item.error().and_then(|e| e.code()).unwrap_or("Unknown");
        let error = AwsError {
            operation,
            kind: AwsErrorKind::from_code(code),
            code: code.to_owned(),
            message: item.error().and_then(|e| e.message()).unwrap_or_default().to_owned(),
        };
        if !is_done(&error) {
            return Err(error);
        }
    }
    Ok(())
}

fn not_found(operation: &'static str, code: &str, id: &str) -> AwsError {
    AwsError {
        operation,
        kind: AwsErrorKind::NotFound,
        code: code.to_owned(),
        message: format!("{id} does not exist"),
    }
}

fn none_if_not_found<T>(error: AwsError) -> Ec2Result<Option<T>> {
    if error.is_not_found() {
        Ok(None)
    } else {
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::delete_vpc_endpoints::DeleteVpcEndpointsOutput;
    use aws_sdk_ec2::types::{UnsuccessfulItem, UnsuccessfulItemError};
    use aws_smithy_mocks::{mock, mock_client};

    fn unsuccessful(code: &'static str) -> DeleteVpcEndpointsOutput {
        DeleteVpcEndpointsOutput::builder()
            .unsuccessful(
                UnsuccessfulItem::builder()
                    .resource_id("vpce-1")
                    .error(UnsuccessfulItemError::builder().code(code).message("m").build())
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn delete_endpoint_reads_the_failures_reported_inside_a_200() {
        let gone = mock!(Client::delete_vpc_endpoints)
            .then_output(|| unsuccessful("InvalidVpcEndpoint.NotFound"));
        let ec2 = Ec2::new(mock_client!(aws_sdk_ec2, [&gone]));
        ec2.delete_endpoint("vpce-1").await.expect("not found counts as deleted");

        let refused = mock!(Client::delete_vpc_endpoints)
            .then_output(|| unsuccessful("UnauthorizedOperation"));
        let ec2 = Ec2::new(mock_client!(aws_sdk_ec2, [&refused]));
        let err = ec2.delete_endpoint("vpce-1").await.unwrap_err();
        assert_eq!(err.kind, AwsErrorKind::AccessDenied);
    }
}
