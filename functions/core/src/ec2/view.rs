//! What EC2 tells, as plain values: the decisions read these, never the SDK's types. States and
//! enums are parsed here, once, from the strings the API sends.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{IpPermission, Tag, VpcEndpoint};

use super::rules::{IngressRule, PortRange, Source, Transport};

/// A CIDR block in its one canonical spelling (`2600:1F18:0::/56` is `2600:1f18::/56`), so
/// blocks compare equal however EC2 or a template wrote them; other text is kept as it is.
pub fn canonical_cidr(text: &str) -> String {
    text.trim().parse::<ipnet::IpNet>().map_or_else(|_| text.to_owned(), |net| net.to_string())
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
    /// Single-port TCP rules (the only kind this project writes).
    pub ingress: BTreeSet<IngressRule>,
    /// Inbound rules of any other shape, which this project never writes; kept to be revoked.
    pub foreign_ingress: Vec<IpPermission>,
    /// Every inbound rule as AWS reports it (with descriptions).
    pub raw_ingress: Vec<IpPermission>,
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
    /// The Region it is hosted in, when looked up across Regions.
    pub region: Option<String>,
    /// The Availability Zones it is offered in. A service in another Region lists none of this
    /// Region's: the zones it serves remotely are known only from CreateVpcEndpoint's refusal.
    pub zones: Vec<String>,
    /// Whether the provider must accept each connection.
    pub acceptance_required: bool,
    /// The private DNS name, if the service has one.
    pub private_dns_name: Option<String>,
    /// `PrivateDnsNameVerificationState` (`verified`, `pendingVerification`...), if reported.
    pub private_dns_verification: Option<String>,
    /// `VpcEndpointPolicySupported`, if reported.
    pub policy_supported: Option<bool>,
    /// `SupportedIpAddressTypes` (`ipv4`, `ipv6`); empty when not reported.
    pub ip_address_types: Vec<String>,
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

    /// Whether the service is in another Region than `local_region` (cross-Region PrivateLink).
    pub fn is_remote(&self, local_region: &str) -> bool {
        self.region.as_deref().is_some_and(|r| r != local_region)
    }

    /// Whether the service takes endpoints of `ip_address_type` (`ipv4`, `dualstack`,
    /// `ipv6`). A service that reports no types takes IPv4 only, as before AWS reported them.
    pub fn supports_ip_address_type(&self, ip_address_type: &str) -> bool {
        let has = |t: &str| {
            if self.ip_address_types.is_empty() {
                t == "ipv4"
            } else {
                self.ip_address_types.iter().any(|s| s.eq_ignore_ascii_case(t))
            }
        };
        match ip_address_type {
            "dualstack" => has("ipv4") && has("ipv6"),
            other => has(other),
        }
    }
}

/// A subnet as `DescribeSubnets` tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubnetView {
    /// `subnet-...`
    pub id: String,
    /// Its Availability Zone's name (`us-east-1a`), which differs between accounts.
    pub zone: String,
    /// Its Availability Zone's id (`use1-az1`), the same in every account.
    pub zone_id: String,
    /// Its IPv4 block.
    pub ipv4_cidr: Option<String>,
    /// Its IPv6 blocks.
    pub ipv6_cidrs: Vec<String>,
}

/// An endpoint's state, parsed once from the API's string, case-insensitively (the SDK's enum
/// has been seen to give `Unknown("available")`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EndpointState {
    /// Waiting for the provider to accept.
    PendingAcceptance,
    /// Accepted (or needing no acceptance), being set up.
    Pending,
    /// Working.
    Available,
    /// Being deleted.
    Deleting,
    /// Deleted.
    Deleted,
    /// Refused by the provider: final.
    Rejected,
    /// Failed: final.
    Failed,
    /// Not accepted in time: final.
    Expired,
    /// Working in some zones only.
    Partial,
    /// A state this code does not know, as the API spelled it.
    Other(String),
    /// No state reported.
    #[default]
    Unknown,
}

impl EndpointState {
    /// The state the API's string `text` names.
    pub fn parse(text: &str) -> Self {
        const KNOWN: [(&str, EndpointState); 9] = [
            ("pendingacceptance", EndpointState::PendingAcceptance),
            ("pending", EndpointState::Pending),
            ("available", EndpointState::Available),
            ("deleting", EndpointState::Deleting),
            ("deleted", EndpointState::Deleted),
            ("rejected", EndpointState::Rejected),
            ("failed", EndpointState::Failed),
            ("expired", EndpointState::Expired),
            ("partial", EndpointState::Partial),
        ];
        let lower = text.to_ascii_lowercase();
        KNOWN.into_iter().find(|(name, _)| *name == lower).map(|(_, state)| state).unwrap_or_else(
            || {
                if text.is_empty() {
                    Self::Unknown
                } else {
                    Self::Other(text.to_owned())
                }
            },
        )
    }

    /// The API's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::PendingAcceptance => "pendingAcceptance",
            Self::Pending => "pending",
            Self::Available => "available",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Partial => "partial",
            Self::Other(text) => text,
            Self::Unknown => "",
        }
    }

    /// Whether the endpoint waits for the provider (or for AWS after the provider accepted).
    pub fn is_waiting(&self) -> bool {
        matches!(self, Self::PendingAcceptance | Self::Pending)
    }

    /// Whether the endpoint is gone or going.
    pub fn is_deleted(&self) -> bool {
        matches!(self, Self::Deleting | Self::Deleted)
    }

    /// Whether the endpoint ended in a state it will not leave, other than deletion.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Rejected | Self::Failed | Self::Expired)
    }

    /// Whether the endpoint holds no working connection, and no name: deleted, going, or
    /// failed for good.
    pub fn is_finished(&self) -> bool {
        self.is_deleted() || self.is_failed()
    }
}

impl std::fmt::Display for EndpointState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An endpoint's `DnsOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsOptions {
    /// `DnsRecordIpType`: `ipv4`, `dualstack`, `ipv6` or `service-defined`.
    pub record_ip_type: Option<String>,
    /// `PrivateDnsOnlyForInboundResolverEndpoint`.
    pub only_inbound_resolver: Option<bool>,
}

impl DnsOptions {
    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One DNS entry of an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsEntry {
    /// The name.
    pub dns_name: String,
    /// The Route 53 hosted zone it is in (what an alias record needs).
    pub hosted_zone_id: String,
}

/// A fixed address for an endpoint's interface in one subnet (`SubnetConfigurations`).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct SubnetAddress {
    /// The subnet.
    pub subnet_id: String,
    /// The IPv4 address, if fixed.
    pub ipv4: Option<String>,
    /// The IPv6 address, if fixed.
    pub ipv6: Option<String>,
}

/// A network interface of an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceView {
    /// `eni-...`
    pub id: String,
    /// Its subnet.
    pub subnet_id: String,
    /// Its Availability Zone.
    pub zone: String,
    /// Its private IPv4 address.
    pub ipv4: Option<String>,
    /// Its IPv6 addresses.
    pub ipv6: Vec<String>,
}

impl InterfaceView {
    /// Its private addresses: the IPv4 one, then the IPv6 ones.
    pub fn addresses(&self) -> impl Iterator<Item = &String> + '_ {
        self.ipv4.iter().chain(&self.ipv6)
    }
}

/// A VPC endpoint as observed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointView {
    /// `vpce-...`
    pub id: String,
    /// Its state.
    pub state: EndpointState,
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
    /// Its DNS entries, the regional one first as AWS lists them.
    pub dns_entries: Vec<DnsEntry>,
    /// Its network interfaces.
    pub network_interface_ids: Vec<String>,
    /// `ipv4`, `dualstack` or `ipv6`, if reported.
    pub ip_address_type: Option<String>,
    /// Its DNS options.
    pub dns_options: DnsOptions,
    /// The Region of the service for cross-Region PrivateLink, if any.
    pub service_region: Option<String>,
    /// When it was made, as `CreationTimestamp` prints it in CloudFormation
    /// (`Fri Sep 28 23:34:36 UTC 2018`).
    pub creation_timestamp: Option<String>,
    /// The endpoint's `LastError`, if any.
    pub last_error: Option<String>,
    /// All tags.
    pub tags: BTreeMap<String, String>,
}

impl EndpointView {
    /// Its DNS names, in AWS's order.
    pub fn dns_names(&self) -> Vec<String> {
        self.dns_entries.iter().map(|e| e.dns_name.clone()).collect()
    }

    /// The address type, `ipv4` when not reported (as for endpoints made before AWS reported it).
    pub fn ip_address_type(&self) -> &str {
        self.ip_address_type.as_deref().unwrap_or("ipv4")
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
    /// Fixed addresses in some of the subnets.
    pub subnet_addresses: &'a [SubnetAddress],
    /// The security groups (none: the VPC's default group).
    pub group_ids: &'a [String],
    /// The policy document.
    pub policy: Option<&'a str>,
    /// Private DNS at creation.
    pub private_dns_enabled: bool,
    /// `ipv4`, `dualstack`, `ipv6`.
    pub ip_address_type: Option<&'a str>,
    /// DNS options.
    pub dns_options: &'a DnsOptions,
    /// Cross-Region service Region.
    pub service_region: Option<&'a str>,
    /// Idempotency token.
    pub client_token: &'a str,
    /// Tags, ours and the user's.
    pub tags: &'a [(String, String)],
}

/// An in-place change to an endpoint (`ModifyVpcEndpoint`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointChange {
    /// Subnets to add.
    pub add_subnets: Vec<String>,
    /// Subnets to remove.
    pub remove_subnets: Vec<String>,
    /// Fixed addresses, for added subnets or to move an interface to a new address.
    pub subnet_addresses: Vec<SubnetAddress>,
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
    /// A new address type.
    pub ip_address_type: Option<String>,
    /// New DNS options.
    pub dns_options: Option<DnsOptions>,
}

impl EndpointChange {
    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A VPC's DNS attributes, both needed for Private DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VpcDns {
    /// `enableDnsSupport`.
    pub support: bool,
    /// `enableDnsHostnames`.
    pub hostnames: bool,
}

pub(super) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
        .collect()
}

pub(super) fn group_view(group: &aws_sdk_ec2::types::SecurityGroup) -> GroupView {
    let mut ingress = BTreeSet::new();
    let mut foreign_ingress = Vec::new();
    for permission in group.ip_permissions() {
        // TCP or UDP ports, as this project writes them; anything else (ICMP, every protocol)
        // is a rule of another shape.
        let ports = match (permission.ip_protocol(), permission.from_port(), permission.to_port()) {
            (Some(protocol), Some(from), Some(to)) => Transport::from_ip_protocol(protocol)
                .and_then(|transport| {
                    let (from, to) = (u16::try_from(from).ok()?, u16::try_from(to).ok()?);
                    (from > 0 && from <= to).then_some(PortRange { transport, from, to })
                }),
            _ => None,
        };
        let Some(port) = ports else {
            foreign_ingress.push(permission.clone());
            continue;
        };
        let v4 = permission.ip_ranges().iter().filter_map(|r| r.cidr_ip());
        let v6 = permission.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6());
        for cidr in v4.chain(v6) {
            ingress.insert(IngressRule::from_cidr(port, cidr));
        }
        for pair in permission.user_id_group_pairs() {
            if let Some(id) = pair.group_id() {
                ingress.insert(IngressRule { port, source: Source::Group(id.to_owned()) });
            }
        }
        for list in permission.prefix_list_ids() {
            if let Some(id) = list.prefix_list_id() {
                ingress.insert(IngressRule { port, source: Source::PrefixList(id.to_owned()) });
            }
        }
    }
    GroupView {
        id: group.group_id().unwrap_or_default().to_owned(),
        name: group.group_name().unwrap_or_default().to_owned(),
        description: group.description().unwrap_or_default().to_owned(),
        vpc_id: group.vpc_id().unwrap_or_default().to_owned(),
        ingress,
        foreign_ingress,
        raw_ingress: group.ip_permissions().to_vec(),
        egress: group.ip_permissions_egress().to_vec(),
        tags: tag_map(group.tags()),
    }
}

/// `Fri, 28 Sep 2018 23:34:36 GMT` (HTTP date) as CloudFormation prints a `CreationTimestamp`:
/// `Fri Sep 28 23:34:36 UTC 2018`.
pub fn cloudformation_timestamp(http_date: &str) -> Option<String> {
    let parts: Vec<&str> = http_date.split_whitespace().collect();
    let [weekday, day, month, year, time, _zone] = parts.as_slice() else { return None };
    Some(format!("{} {month} {day} {time} UTC {year}", weekday.trim_end_matches(',')))
}

pub(super) fn endpoint_view(endpoint: &VpcEndpoint) -> EndpointView {
    use aws_sdk_ec2::primitives::DateTimeFormat as Format;
    EndpointView {
        id: endpoint.vpc_endpoint_id().unwrap_or_default().to_owned(),
        state: EndpointState::parse(endpoint.state().map(|s| s.as_str()).unwrap_or_default()),
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
        dns_entries: endpoint
            .dns_entries()
            .iter()
            .filter_map(|e| {
                Some(DnsEntry {
                    dns_name: e.dns_name()?.to_owned(),
                    hosted_zone_id: e.hosted_zone_id().unwrap_or_default().to_owned(),
                })
            })
            .collect(),
        network_interface_ids: endpoint.network_interface_ids().to_vec(),
        ip_address_type: endpoint.ip_address_type().map(|t| t.as_str().to_ascii_lowercase()),
        dns_options: endpoint
            .dns_options()
            .map(|o| DnsOptions {
                record_ip_type: o.dns_record_ip_type().map(|t| t.as_str().to_ascii_lowercase()),
                only_inbound_resolver: o.private_dns_only_for_inbound_resolver_endpoint(),
            })
            .unwrap_or_default(),
        service_region: endpoint.service_region().map(str::to_owned),
        creation_timestamp: endpoint
            .creation_timestamp()
            .and_then(|t| t.fmt(Format::HttpDate).ok())
            .and_then(|t| cloudformation_timestamp(&t)),
        last_error: endpoint.last_error().map(|e| {
            format!("{}: {}", e.code().unwrap_or("error"), e.message().unwrap_or_default())
        }),
        tags: tag_map(endpoint.tags()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_case_insensitively_and_keep_unknown_spellings() {
        assert_eq!(EndpointState::parse("available"), EndpointState::Available);
        assert_eq!(EndpointState::parse("PENDINGACCEPTANCE"), EndpointState::PendingAcceptance);
        assert_eq!(EndpointState::parse("Rejected"), EndpointState::Rejected);
        assert_eq!(EndpointState::parse("migrating"), EndpointState::Other("migrating".into()));
        assert_eq!(EndpointState::parse("migrating").as_str(), "migrating");
        assert_eq!(EndpointState::parse(""), EndpointState::Unknown);
        assert!(EndpointState::Pending.is_waiting() && !EndpointState::Available.is_waiting());
        assert!(EndpointState::Expired.is_finished() && EndpointState::Deleting.is_finished());
        assert!(!EndpointState::Partial.is_finished());
    }

    #[test]
    fn the_creation_timestamp_reads_as_cloudformation_prints_it() {
        assert_eq!(
            cloudformation_timestamp("Fri, 28 Sep 2018 23:34:36 GMT").as_deref(),
            Some("Fri Sep 28 23:34:36 UTC 2018")
        );
        assert_eq!(cloudformation_timestamp("garbage"), None);
    }

    #[test]
    fn dualstack_needs_both_families_and_an_unreported_list_means_ipv4() {
        let v4_only = ServiceView::default();
        assert!(v4_only.supports_ip_address_type("ipv4"));
        assert!(!v4_only.supports_ip_address_type("dualstack"));
        let both = ServiceView { ip_address_types: vec!["ipv4".into(), "ipv6".into()], ..v4_only };
        assert!(both.supports_ip_address_type("dualstack"));
        assert!(both.supports_ip_address_type("ipv6"));
    }
}
