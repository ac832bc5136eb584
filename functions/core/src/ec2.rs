//! EC2 operations named for what they do, over the SDK client.
//!
//! Each returns plain domain values ([`GroupView`], [`EndpointView`], [`ServiceView`]) so the
//! decisions that use them stay pure, and classifies failures into [`AwsError`] kinds.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{
    Filter, IpAddressType, IpPermission, IpRange, Ipv6Range, ResourceType, Tag, TagSpecification,
    VpcAttributeName, VpcCidrBlockStateCode, VpcEndpoint, VpcEndpointType,
};
use aws_sdk_ec2::Client;

use crate::runtime::LazyClient;

use crate::error::{AwsError, AwsErrorKind};

/// The tag that ties a resource to its stack.
pub const TAG_STACK_ID: &str = "privatelink-lambdas:stack-id";
/// The tag that ties a resource to its logical id in the stack.
pub const TAG_LOGICAL_ID: &str = "privatelink-lambdas:logical-id";

/// The tags that mark a resource as made for this stack's logical resource.
pub fn owner_tags(stack_id: &str, logical_id: &str) -> Vec<(String, String)> {
    vec![
        (TAG_STACK_ID.to_owned(), stack_id.to_owned()),
        (TAG_LOGICAL_ID.to_owned(), logical_id.to_owned()),
    ]
}

/// Whether `tags` mark a resource as made for this stack's logical resource.
pub fn is_owned_by(tags: &BTreeMap<String, String>, stack_id: &str, logical_id: &str) -> bool {
    tags.get(TAG_STACK_ID).map(String::as_str) == Some(stack_id)
        && tags.get(TAG_LOGICAL_ID).map(String::as_str) == Some(logical_id)
}

/// A CIDR block in its one canonical spelling (`2600:1F18:0::/56` is `2600:1f18::/56`), so
/// blocks compare equal however EC2 or a template wrote them; other text is kept as it is.
pub fn canonical_cidr(text: &str) -> String {
    text.trim().parse::<ipnet::IpNet>().map_or_else(|_| text.to_owned(), |net| net.to_string())
}

/// Whose a resource is, from its owner tags, in words for a reason.
pub fn owner_of(tags: &BTreeMap<String, String>) -> String {
    match (tags.get(TAG_STACK_ID), tags.get(TAG_LOGICAL_ID)) {
        (Some(stack), Some(logical)) => format!("it belongs to {logical} of stack {stack}"),
        (Some(stack), None) => format!("it belongs to stack {stack}"),
        _ => "it was not made by privatelink-lambdas".to_owned(),
    }
}

/// An error unless `tags` mark the resource `id` as made for this stack's logical resource.
pub fn check_owned(
    id: &str,
    tags: &BTreeMap<String, String>,
    stack_id: &str,
    logical_id: &str,
) -> Result<(), crate::error::Error> {
    if is_owned_by(tags, stack_id, logical_id) {
        Ok(())
    } else {
        Err(crate::error::Error::NotOwned { id: id.to_owned(), owner: owner_of(tags) })
    }
}

/// Whether a tag key is one of ours (or AWS's), not the user's.
pub fn is_managed_tag(key: &str) -> bool {
    key.starts_with("privatelink-lambdas:") || key.starts_with("aws:")
}

type Ec2Result<T> = Result<T, AwsError>;

/// One inbound rule: TCP `port` from `cidr`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IngressRule {
    /// The TCP port.
    pub port: u16,
    /// The source, IPv4 or IPv6 CIDR.
    pub cidr: String,
}

/// A security group as observed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupView {
    /// `sg-...`
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Single-port TCP rules from CIDRs (the only kind this project writes).
    pub ingress: BTreeSet<IngressRule>,
    /// Inbound rules of any other shape, which this project never writes; kept to be revoked.
    pub foreign_ingress: Vec<IpPermission>,
    /// Outbound rules as AWS reports them.
    pub egress: Vec<IpPermission>,
    /// All tags.
    pub tags: BTreeMap<String, String>,
}

/// An endpoint service as `DescribeVpcEndpointServices` tells it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceView {
    /// The service name.
    pub name: String,
    /// The Availability Zones it is offered in.
    pub zones: Vec<String>,
    /// Whether the provider must accept each connection.
    pub acceptance_required: bool,
    /// The private DNS name, if the service has one.
    pub private_dns_name: Option<String>,
    /// `PrivateDnsNameVerificationState` (`verified`, `pendingVerification`...), if reported.
    pub private_dns_verification: Option<String>,
}

impl ServiceView {
    /// Whether Private DNS can be switched on for an endpoint to this service.
    pub fn has_verified_private_dns(&self) -> bool {
        self.private_dns_name.is_some()
            && self
                .private_dns_verification
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("verified"))
    }
}

/// A VPC endpoint as observed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointView {
    /// `vpce-...`
    pub id: String,
    /// The state as the API spells it (`pendingAcceptance`, `available`...).
    pub state: String,
    /// The service it connects to.
    pub service_name: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its subnets.
    pub subnet_ids: Vec<String>,
    /// Its security groups.
    pub group_ids: Vec<String>,
    /// Whether Private DNS is on.
    pub private_dns_enabled: bool,
    /// Its policy document.
    pub policy: Option<String>,
    /// Its DNS names, the regional one first as AWS lists them.
    pub dns_names: Vec<String>,
    /// Its network interfaces.
    pub network_interface_ids: Vec<String>,
    /// `ipv4`, `dualstack` or `ipv6`, if reported.
    pub ip_address_type: Option<String>,
    /// The Region of the service for cross-Region PrivateLink, if any.
    pub service_region: Option<String>,
    /// The endpoint's `LastError`, if any.
    pub last_error: Option<String>,
    /// All tags.
    pub tags: BTreeMap<String, String>,
}

impl EndpointView {
    /// Whether the state is `state`, compared as AWS's strings, case-insensitively (the SDK's
    /// enum has been seen to give `Unknown("available")`).
    pub fn is(&self, state: &str) -> bool {
        self.state.eq_ignore_ascii_case(state)
    }

    /// Whether the endpoint is gone or going.
    pub fn is_deleted(&self) -> bool {
        self.is("deleted") || self.is("deleting")
    }

    /// Whether the endpoint is deleted, going, or ended in a state it will not leave: it holds
    /// no working connection, and no name.
    pub fn is_finished(&self) -> bool {
        self.is_deleted() || ["rejected", "failed", "expired"].iter().any(|s| self.is(s))
    }
}

/// What a new endpoint should be.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEndpoint<'a> {
    /// The service name.
    pub service_name: &'a str,
    /// The VPC.
    pub vpc_id: &'a str,
    /// The subnets.
    pub subnet_ids: &'a [String],
    /// The security groups (none: the VPC's default group).
    pub group_ids: &'a [String],
    /// The policy document.
    pub policy: Option<&'a str>,
    /// Private DNS at creation.
    pub private_dns_enabled: bool,
    /// `ipv4`, `dualstack`, `ipv6`.
    pub ip_address_type: Option<&'a str>,
    /// Cross-Region service Region.
    pub service_region: Option<&'a str>,
    /// Idempotency token.
    pub client_token: &'a str,
    /// Tags, ours and the user's.
    pub tags: &'a [(String, String)],
}

/// An in-place change to an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointChange {
    /// Subnets to add.
    pub add_subnets: Vec<String>,
    /// Subnets to remove.
    pub remove_subnets: Vec<String>,
    /// Groups to add.
    pub add_groups: Vec<String>,
    /// Groups to remove.
    pub remove_groups: Vec<String>,
    /// A new policy document.
    pub policy: Option<String>,
    /// Restore the default (full access) policy.
    pub reset_policy: bool,
    /// Switch Private DNS on or off.
    pub private_dns_enabled: Option<bool>,
}

impl EndpointChange {
    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The connection events an endpoint's notification topic is told of. `Connect` comes first in
/// AWS's list, but happens while the endpoint is created, before a notification can exist.
pub const CONNECTION_EVENTS: [&str; 4] = ["Connect", "Accept", "Reject", "Delete"];

/// A VPC's DNS attributes, both needed for Private DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VpcDns {
    /// `enableDnsSupport`.
    pub support: bool,
    /// `enableDnsHostnames`.
    pub hostnames: bool,
}

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

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
        .collect()
}

fn owner_filters(stack_id: &str, logical_id: &str) -> [Filter; 2] {
    [
        Filter::builder().name(format!("tag:{TAG_STACK_ID}")).values(stack_id).build(),
        Filter::builder().name(format!("tag:{TAG_LOGICAL_ID}")).values(logical_id).build(),
    ]
}

fn group_view(group: &aws_sdk_ec2::types::SecurityGroup) -> GroupView {
    let mut ingress = BTreeSet::new();
    let mut foreign_ingress = Vec::new();
    for permission in group.ip_permissions() {
        let single_tcp_port =
            match (permission.ip_protocol(), permission.from_port(), permission.to_port()) {
                (Some("tcp" | "6"), Some(from), Some(to)) if from == to => u16::try_from(from).ok(),
                _ => None,
            };
        match single_tcp_port {
            Some(port)
                if permission.user_id_group_pairs().is_empty()
                    && permission.prefix_list_ids().is_empty() =>
            {
                let v4 = permission.ip_ranges().iter().filter_map(|r| r.cidr_ip());
                let v6 = permission.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6());
                for cidr in v4.chain(v6) {
                    ingress.insert(IngressRule { port, cidr: canonical_cidr(cidr) });
                }
            }
            _ => foreign_ingress.push(permission.clone()),
        }
    }
    GroupView {
        id: group.group_id().unwrap_or_default().to_owned(),
        name: group.group_name().unwrap_or_default().to_owned(),
        description: group.description().unwrap_or_default().to_owned(),
        vpc_id: group.vpc_id().unwrap_or_default().to_owned(),
        ingress,
        foreign_ingress,
        egress: group.ip_permissions_egress().to_vec(),
        tags: tag_map(group.tags()),
    }
}

fn endpoint_view(endpoint: &VpcEndpoint) -> EndpointView {
    EndpointView {
        id: endpoint.vpc_endpoint_id().unwrap_or_default().to_owned(),
        state: endpoint.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        service_name: endpoint.service_name().unwrap_or_default().to_owned(),
        vpc_id: endpoint.vpc_id().unwrap_or_default().to_owned(),
        subnet_ids: endpoint.subnet_ids().to_vec(),
        group_ids: endpoint
            .groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect(),
        private_dns_enabled: endpoint.private_dns_enabled().unwrap_or(false),
        policy: endpoint.policy_document().map(str::to_owned),
        dns_names: endpoint
            .dns_entries()
            .iter()
            .filter_map(|e| e.dns_name().map(str::to_owned))
            .collect(),
        network_interface_ids: endpoint.network_interface_ids().to_vec(),
        ip_address_type: endpoint.ip_address_type().map(|t| t.as_str().to_owned()),
        service_region: endpoint.service_region().map(str::to_owned),
        last_error: endpoint.last_error().map(|e| {
            format!("{}: {}", e.code().unwrap_or("error"), e.message().unwrap_or_default())
        }),
        tags: tag_map(endpoint.tags()),
    }
}

fn tcp_permission(port: u16, cidrs: &[&str], description: &str) -> IpPermission {
    let (v6, v4): (Vec<&str>, Vec<&str>) = cidrs.iter().partition(|c| c.contains(':'));
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(i32::from(port))
        .to_port(i32::from(port))
        .set_ip_ranges(Some(
            v4.into_iter()
                .map(|c| IpRange::builder().cidr_ip(c).description(description).build())
                .collect(),
        ))
        .set_ipv6_ranges(Some(
            v6.into_iter()
                .map(|c| Ipv6Range::builder().cidr_ipv6(c).description(description).build())
                .collect(),
        ))
        .build()
}

/// Groups rules by port, one permission per port, as EC2 takes them.
fn permissions(rules: &[IngressRule], description: &str) -> Vec<IpPermission> {
    let mut by_port: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for rule in rules {
        by_port.entry(rule.port).or_default().push(&rule.cidr);
    }
    by_port.into_iter().map(|(port, cidrs)| tcp_permission(port, &cidrs, description)).collect()
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
            zones: detail.availability_zones().to_vec(),
            acceptance_required: detail.acceptance_required().unwrap_or(false),
            private_dns_name: detail.private_dns_name().map(str::to_owned),
            private_dns_verification: detail
                .private_dns_name_verification_state()
                .map(|s| s.as_str().to_owned()),
        })
    }

    /// Each subnet's Availability Zone, in the order asked; a NotFound error names every
    /// subnet that does not exist, and only those. (Asked by filter: by id, EC2 refuses the
    /// whole call at the first unknown id.)
    pub async fn subnet_zones(&self, subnet_ids: &[String]) -> Ec2Result<Vec<(String, String)>> {
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
        let zones: BTreeMap<&str, &str> = out
            .subnets()
            .iter()
            .filter_map(|s| Some((s.subnet_id()?, s.availability_zone()?)))
            .collect();
        let missing: Vec<&str> =
            subnet_ids.iter().map(String::as_str).filter(|id| !zones.contains_key(id)).collect();
        if !missing.is_empty() {
            return Err(not_found(
                "DescribeSubnets",
                "InvalidSubnetID.NotFound",
                &missing.join(", "),
            ));
        }
        Ok(subnet_ids.iter().map(|id| (id.clone(), zones[id.as_str()].to_owned())).collect())
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
            .set_security_group_ids((!new.group_ids.is_empty()).then(|| new.group_ids.to_vec()))
            .set_policy_document(new.policy.map(str::to_owned))
            // Sent explicitly: the raw API's default is true, CloudFormation's is false.
            .private_dns_enabled(new.private_dns_enabled)
            .set_ip_address_type(new.ip_address_type.map(IpAddressType::from))
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

    /// Tells `topic_arn` of the endpoint's connection events (idempotent by `client_token`).
    pub async fn notify_connection_events(
        &self,
        endpoint_id: &str,
        topic_arn: &str,
        client_token: &str,
    ) -> Ec2Result<()> {
        self.client()
            .await
            .create_vpc_endpoint_connection_notification()
            .vpc_endpoint_id(endpoint_id)
            .connection_notification_arn(topic_arn)
            .set_connection_events(Some(
                CONNECTION_EVENTS.iter().map(|e| (*e).to_owned()).collect(),
            ))
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

    /// The private IPv4 and IPv6 addresses of network interfaces, in the order given; interfaces
    /// that are already gone are skipped.
    pub async fn interface_addresses(&self, interface_ids: &[String]) -> Ec2Result<Vec<String>> {
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
        let mut by_id: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for eni in out.network_interfaces() {
            let addresses =
                by_id.entry(eni.network_interface_id().unwrap_or_default()).or_default();
            addresses.extend(eni.private_ip_address().map(str::to_owned));
            addresses.extend(
                eni.ipv6_addresses().iter().filter_map(|a| a.ipv6_address().map(str::to_owned)),
            );
        }
        Ok(interface_ids
            .iter()
            .flat_map(|id| by_id.remove(id.as_str()).unwrap_or_default())
            .collect())
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
