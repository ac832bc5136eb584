//! The resource's properties, typed and validated: every bad value is named before anything is
//! looked up or made.

use std::net::IpAddr;

use serde_json::Value;

use super::acceptance;
use crate::ec2::{DnsOptions, SubnetAddress};
use crate::error::Result;
use crate::properties::{PropertyReader, Tag};

/// Default of `AcceptanceTimeoutSeconds` while CloudFormation waits: under its default hour.
pub const DEFAULT_ACCEPTANCE_TIMEOUT_SECS: u64 = 3300;

/// The address types an endpoint can have.
pub const IP_ADDRESS_TYPES: [&str; 3] = ["ipv4", "dualstack", "ipv6"];
/// The DNS record types an endpoint can have.
pub const DNS_RECORD_IP_TYPES: [&str; 4] = ["ipv4", "dualstack", "ipv6", "service-defined"];

/// The resource's properties, typed and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSpec {
    /// `ServiceName`.
    pub service_name: String,
    /// `VpcId`.
    pub vpc_id: String,
    /// `SubnetIds`, at most one per Availability Zone.
    pub subnet_ids: Vec<String>,
    /// `SubnetConfigurations`: fixed interface addresses in some of the subnets.
    pub subnet_addresses: Vec<SubnetAddress>,
    /// `SkipUnsupportedZones`: keep only the subnets in zones the service offers.
    pub skip_unsupported_zones: bool,
    /// `SecurityGroupIds`; empty: the VPC's default group.
    pub group_ids: Vec<String>,
    /// `PolicyDocument`, compact JSON.
    pub policy: Option<String>,
    /// `PrivateDnsEnabled`; `None`: on when the service has a verified private DNS name.
    pub private_dns: Option<bool>,
    /// `IpAddressType`.
    pub ip_address_type: Option<String>,
    /// `DnsOptions`.
    pub dns_options: DnsOptions,
    /// `ServiceRegion` (cross-Region PrivateLink).
    pub service_region: Option<String>,
    /// `Tags`.
    pub tags: Vec<Tag>,
    /// `WaitForAcceptance`, default true: CloudFormation waits until the provider accepts.
    pub wait_for_acceptance: bool,
    /// `AcceptanceTimeoutSeconds`; `None`: 3300 while CloudFormation waits, 7 days otherwise.
    pub acceptance_timeout_secs: Option<u64>,
    /// `AcceptancePollIntervalSeconds`; `None`: 15 while CloudFormation waits, 360 otherwise.
    pub acceptance_poll_secs: Option<u64>,
    /// `ServiceTimeout`, CloudFormation's own wait for this resource, if the template set one.
    pub service_timeout_secs: Option<u64>,
    /// `ConnectionNotificationArn`: an SNS topic told of the endpoint's connection events.
    pub connection_topic: Option<String>,
    /// `ExistingVpcEndpointId`: an endpoint made by hand (the console runbook) that a Create
    /// takes over instead of making a new one.
    pub existing_endpoint_id: Option<String>,
    /// `DnsNames`: names of the consumer's own, each a private hosted zone aliased to the
    /// endpoint (lowercase, without the final dot).
    pub dns_names: Vec<String>,
    /// `DnsVpcIds`: more VPCs (of this account and Region) whose resolvers answer `DnsNames`.
    pub dns_vpc_ids: Vec<String>,
}

impl EndpointSpec {
    /// Reads and validates `ResourceProperties`, naming every bad property.
    pub fn parse(properties: &Value) -> Result<Self> {
        let mut r = PropertyReader::new(properties)?;
        let spec = Self::read(&mut r);
        r.finish(spec)
    }

    /// Reads the properties with `r`, recording every problem there.
    // One reading per property, in the order of the reference: longer is more properties.
    #[allow(clippy::too_many_lines)]
    pub fn read(r: &mut PropertyReader<'_>) -> Self {
        let service_name = r.required_string("ServiceName");
        if let Some(name) = &service_name {
            if name.contains(char::is_whitespace) || name.len() > 255 {
                r.problem(
                    "ServiceName",
                    format!(
                        "{} is not a service name (com.amazonaws.vpce.<region>.vpce-svc-...)",
                        crate::text::quoted(name)
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
        let ip_address_type = one_of(r, "IpAddressType", &IP_ADDRESS_TYPES);
        let dns_options = r.optional_object("DnsOptions", read_dns_options).unwrap_or_default();
        // Without IpAddressType the endpoint is IPv4 (AWS's default).
        if let Some(record) = &dns_options.record_ip_type {
            let address = ip_address_type.as_deref().unwrap_or("ipv4");
            if let Some(problem) = record_type_problem(address, record) {
                r.problem("DnsOptions.DnsRecordIpType", problem);
            }
        }
        if dns_options.only_inbound_resolver == Some(true) && private_dns == Some(false) {
            r.problem(
                "DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint",
                "needs Private DNS; it is off (PrivateDnsEnabled: false)",
            );
        }
        let subnet_addresses = r
            .optional_object_list("SubnetConfigurations", read_subnet_address)
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        if let Some(subnets) = &subnet_ids {
            let address_type = ip_address_type.as_deref().unwrap_or("ipv4");
            for problem in subnet_address_problems(&subnet_addresses, subnets, address_type) {
                r.problem("SubnetConfigurations", problem);
            }
        }
        let skip_unsupported_zones = r.optional_bool("SkipUnsupportedZones").unwrap_or(false);
        let service_region = r.optional_string("ServiceRegion");
        if let Some(region) = &service_region {
            let looks_like_region = region.split('-').count() >= 3
                && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !looks_like_region {
                r.problem(
                    "ServiceRegion",
                    format!(
                        "{} is not a Region name such as us-east-1",
                        crate::text::quoted(region)
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
                        crate::text::quoted(topic)
                    ),
                );
            }
        }
        let existing_endpoint_id = r.optional_id("ExistingVpcEndpointId", "vpce-");
        let dns_names = read_dns_names(r);
        let dns_vpc_ids = match r.optional_list("DnsVpcIds") {
            Some(list) if !list.is_empty() => r.id_list("DnsVpcIds", "vpc-").unwrap_or_default(),
            _ => Vec::new(),
        };
        if !dns_vpc_ids.is_empty() && dns_names.is_empty() {
            r.problem("DnsVpcIds", "needs DnsNames: it says which VPCs answer them");
        }
        if dns_names.join(" ").len() > 256 {
            r.problem(
                "DnsNames",
                "holds more than 256 characters in all (they are kept in a tag of the endpoint)",
            );
        }
        if !dns_names.is_empty() && tags.len() >= crate::properties::MAX_USER_TAGS {
            r.problem(
                "Tags",
                format!(
                    "has {} tags; at most {} with DnsNames (the names take a tag of the endpoint)",
                    tags.len(),
                    crate::properties::MAX_USER_TAGS - 1
                ),
            );
        }
        Self {
            service_name: service_name.unwrap_or_default(),
            vpc_id: vpc_id.unwrap_or_default(),
            subnet_ids: subnet_ids.unwrap_or_default(),
            subnet_addresses,
            skip_unsupported_zones,
            group_ids: group_ids.unwrap_or_default(),
            policy,
            private_dns,
            ip_address_type,
            dns_options,
            service_region,
            tags,
            wait_for_acceptance,
            acceptance_timeout_secs,
            acceptance_poll_secs,
            service_timeout_secs,
            connection_topic,
            existing_endpoint_id,
            dns_names,
            dns_vpc_ids,
        }
    }

    /// The address type asked for, `ipv4` when not given (AWS's default).
    pub fn ip_address_type(&self) -> &str {
        self.ip_address_type.as_deref().unwrap_or("ipv4")
    }
}

/// `DnsNames`: each a DNS name of at least two labels, kept once, lowercase.
fn read_dns_names(r: &mut PropertyReader<'_>) -> Vec<String> {
    let Some(given) = r.optional_list("DnsNames") else { return Vec::new() };
    let mut names: Vec<String> = Vec::with_capacity(given.len());
    for name in given {
        let plain = crate::route53::plain_name(&name);
        match dns_name_problem(&plain) {
            Some(problem) => {
                r.problem("DnsNames", format!("{} {problem}", crate::text::quoted(&name)));
            }
            None if names.contains(&plain) => {}
            None => names.push(plain),
        }
    }
    names
}

/// Why `name` (lowercase, no final dot) can't be a private hosted zone's name, if it can't.
fn dns_name_problem(name: &str) -> Option<&'static str> {
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if name.len() > 253 || !labels.iter().all(label_ok) {
        Some("is not a DNS name (labels of a-z, 0-9 and -, at most 253 characters)")
    } else if labels.len() < 2 {
        Some("is a single label: give a name such as api.partner.example")
    } else {
        None
    }
}

/// A string property that must be one of `allowed` (any case; returned in AWS's spelling).
fn one_of(r: &mut PropertyReader<'_>, key: &str, allowed: &[&str]) -> Option<String> {
    let value = r.optional_string(key)?;
    match allowed.iter().find(|a| a.eq_ignore_ascii_case(&value)) {
        Some(known) => Some((*known).to_owned()),
        None => {
            r.problem(
                key,
                format!("{} is not one of {}", crate::text::quoted(&value), allowed.join(", ")),
            );
            None
        }
    }
}

fn read_dns_options(r: &mut PropertyReader<'_>) -> DnsOptions {
    let record_ip_type = one_of(r, "DnsRecordIpType", &DNS_RECORD_IP_TYPES);
    // CloudFormation's own resource spells it as an enum, the API as a boolean: both port.
    let key = "PrivateDnsOnlyForInboundResolverEndpoint";
    let only_inbound_resolver = match one_of(
        r,
        key,
        &["true", "false", "OnlyInboundResolver", "AllResolvers", "NotSpecified"],
    )
    .as_deref()
    {
        Some("true" | "OnlyInboundResolver") => Some(true),
        Some("false" | "AllResolvers") => Some(false),
        _ => None,
    };
    DnsOptions { record_ip_type, only_inbound_resolver }
}

fn read_subnet_address(r: &mut PropertyReader<'_>) -> Option<SubnetAddress> {
    let subnet_id = r.required_id("SubnetId", "subnet-");
    let mut address = |key: &str, v6: bool| {
        let text = r.optional_string(key)?;
        match text.parse::<IpAddr>() {
            Ok(ip) if ip.is_ipv6() == v6 => Some(ip.to_string()),
            _ => {
                let family = if v6 { "IPv6" } else { "IPv4" };
                r.problem(
                    key,
                    format!("{} is not an {family} address", crate::text::quoted(&text)),
                );
                None
            }
        }
    };
    let ipv4 = address("Ipv4", false);
    let ipv6 = address("Ipv6", true);
    Some(SubnetAddress { subnet_id: subnet_id?, ipv4, ipv6 })
}

/// Why a DNS record type can't go with an address type, if it can't.
pub fn record_type_problem(address_type: &str, record_type: &str) -> Option<String> {
    let fits = match address_type {
        "ipv4" => matches!(record_type, "ipv4" | "service-defined"),
        "ipv6" => matches!(record_type, "ipv6" | "service-defined"),
        _ => true,
    };
    (!fits).then(|| {
        format!("{record_type} records need an endpoint with those addresses; IpAddressType is {address_type}")
    })
}

/// What is wrong with fixed addresses for the subnets `subnets` of an endpoint of
/// `address_type`: each names one of the subnets, once, with every address family the type has
/// (AWS: "You must provide an IPv4 address if the VPC endpoint supports IPv4") and no other.
pub fn subnet_address_problems(
    addresses: &[SubnetAddress],
    subnets: &[String],
    address_type: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    let (wants_v4, wants_v6) = match address_type {
        "ipv6" => (false, true),
        "dualstack" => (true, true),
        _ => (true, false),
    };
    for (i, address) in addresses.iter().enumerate() {
        let subnet = &address.subnet_id;
        if !subnets.contains(subnet) {
            problems.push(format!("{subnet} is not one of SubnetIds"));
        }
        if addresses[..i].iter().any(|a| &a.subnet_id == subnet) {
            problems.push(format!("{subnet} is configured twice"));
        }
        for (family, wanted, given) in
            [("Ipv4", wants_v4, address.ipv4.is_some()), ("Ipv6", wants_v6, address.ipv6.is_some())]
        {
            if wanted && !given {
                problems.push(format!("{subnet} needs {family}: the endpoint is {address_type}"));
            }
            if !wanted && given {
                problems.push(format!(
                    "{subnet} has {family}, which an {address_type} endpoint has not"
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn valid() -> Value {
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
        assert!(!spec.skip_unsupported_zones);
        assert!(spec.dns_options.is_empty() && spec.subnet_addresses.is_empty());
        assert_eq!(spec.ip_address_type(), "ipv4");
    }

    #[test]
    fn string_typed_values_are_typed() {
        let mut props = with("PrivateDnsEnabled", json!("false"));
        props["WaitForAcceptance"] = json!("false");
        props["AcceptanceTimeoutSeconds"] = json!("600");
        props["ServiceTimeout"] = json!("900");
        props["SkipUnsupportedZones"] = json!("TRUE");
        props["IpAddressType"] = json!("DualStack");
        let spec = EndpointSpec::parse(&props).unwrap();
        assert_eq!(spec.private_dns, Some(false));
        assert!(!spec.wait_for_acceptance);
        assert_eq!(spec.acceptance_timeout_secs, Some(600));
        assert_eq!(spec.service_timeout_secs, Some(900));
        assert!(spec.skip_unsupported_zones);
        assert_eq!(spec.ip_address_type(), "dualstack");
    }

    #[test]
    fn dns_options_take_the_api_and_the_cloudformation_spellings() {
        let spec = EndpointSpec::parse(&with(
            "DnsOptions",
            json!({"DnsRecordIpType": "service-defined", "PrivateDnsOnlyForInboundResolverEndpoint": "OnlyInboundResolver"}),
        ))
        .unwrap();
        assert_eq!(spec.dns_options.record_ip_type.as_deref(), Some("service-defined"));
        assert_eq!(spec.dns_options.only_inbound_resolver, Some(true));
        let spec = EndpointSpec::parse(&with(
            "DnsOptions",
            json!({"PrivateDnsOnlyForInboundResolverEndpoint": "false"}),
        ))
        .unwrap();
        assert_eq!(spec.dns_options.only_inbound_resolver, Some(false));
    }

    #[test]
    fn a_record_type_the_address_type_lacks_is_refused() {
        let mut props = with("IpAddressType", json!("ipv4"));
        props["DnsOptions"] = json!({"DnsRecordIpType": "ipv6"});
        let reason = EndpointSpec::parse(&props).unwrap_err().to_string();
        assert!(reason.contains("DnsOptions.DnsRecordIpType: ipv6 records"), "{reason}");
        props["IpAddressType"] = json!("dualstack");
        assert!(EndpointSpec::parse(&props).is_ok());
    }

    #[test]
    fn subnet_configurations_must_fit_the_subnets_and_the_address_type() {
        let config = |v: Value| with("SubnetConfigurations", v);
        let spec =
            EndpointSpec::parse(&config(json!([{"SubnetId": "subnet-a", "Ipv4": "10.0.1.10"}])))
                .unwrap();
        assert_eq!(
            spec.subnet_addresses,
            [SubnetAddress {
                subnet_id: "subnet-a".into(),
                ipv4: Some("10.0.1.10".into()),
                ipv6: None
            }]
        );
        for (bad, said) in [
            (
                json!([{"SubnetId": "subnet-z", "Ipv4": "10.0.1.10"}]),
                "subnet-z is not one of SubnetIds",
            ),
            (json!([{"SubnetId": "subnet-a"}]), "subnet-a needs Ipv4"),
            (
                json!([{"SubnetId": "subnet-a", "Ipv4": "10.0.1.10", "Ipv6": "2600::1"}]),
                "which an ipv4 endpoint has not",
            ),
            (
                json!([{"SubnetId": "subnet-a", "Ipv4": "not-an-ip"}]),
                "SubnetConfigurations[0].Ipv4: \"not-an-ip\" is not an IPv4 address",
            ),
            (
                json!([{"SubnetId": "subnet-a", "Ipv4": "10.0.1.10"}, {"SubnetId": "subnet-a", "Ipv4": "10.0.1.11"}]),
                "configured twice",
            ),
            (
                json!([{"SubnetId": "subnet-a", "Ipv4": "10.0.1.10", "Port": 1}]),
                "SubnetConfigurations[0].Port: is not a property",
            ),
        ] {
            let reason = EndpointSpec::parse(&config(bad.clone())).unwrap_err().to_string();
            assert!(reason.contains(said), "{bad}: {reason}");
        }
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
            ("DnsOptions", json!({"DnsRecordIpType": "ipv5"})),
            ("DnsOptions", json!("ipv4")),
            ("SubnetConfigurations", json!({"SubnetId": "subnet-a"})),
            ("SkipUnsupportedZones", json!("sometimes")),
            ("ServiceRegion", json!("Virginia")),
            ("Tags", json!([{"Key": "aws:x", "Value": "y"}])),
            ("WaitForAcceptance", json!("maybe")),
            ("AcceptanceTimeoutSeconds", json!("0")),
            ("AcceptancePollIntervalSeconds", json!("fast")),
            ("ExistingVpcEndpointId", json!("sg-1")),
        ];
        for (key, value) in cases {
            let reason = EndpointSpec::parse(&with(key, value.clone())).unwrap_err().to_string();
            assert!(reason.contains(key), "{key}={value} gave: {reason}");
        }
        for key in ["ServiceName", "VpcId", "SubnetIds"] {
            let mut props = valid();
            props.as_object_mut().unwrap().remove(key);
            let reason = EndpointSpec::parse(&props).unwrap_err().to_string();
            assert!(reason.contains(&format!("{key}: is required")), "{reason}");
        }
    }
}
