//! What the resource answers for `Fn::GetAtt`, named and shaped as CloudFormation's own
//! `AWS::EC2::VPCEndpoint` gives them where it has them, so templates port unchanged.

use crate::cfn::{Outcome, StackArn};
use crate::ec2::{DnsEntry, EndpointView, InterfaceView};
use crate::error::{AwsError, Error};

/// The regional DNS entry: AWS lists it first, as `vpce-<id>-<suffix>.vpce-svc-...`; zonal
/// ones carry the zone (`vpce-<id>-<suffix>-us-east-1a.vpce-svc-...`).
pub fn regional_dns_entry(entries: &[DnsEntry]) -> Option<&DnsEntry> {
    entries
        .iter()
        .find(|e| e.dns_name.split('.').next().is_some_and(|label| label.split('-').count() == 3))
        .or_else(|| entries.first())
}

/// The `Data` of an answer, every list comma-joined:
/// - `DnsEntries`: `HostedZoneId:DnsName` items, as `AWS::EC2::VPCEndpoint` gives them (an
///   alias record needs the zone); `DnsName`: the regional name alone;
/// - `SubnetAddresses`: `subnet=address` pairs, one per address (a dualstack interface has two);
/// - `SkippedSubnetIds`: the subnets `SkipUnsupportedZones` left out;
/// - `Arn`: the endpoint's ARN (what Route 53 Profiles and RAM take), in the stack's partition,
///   Region and account, where the endpoint is made;
/// - `HostedZoneIds`: the private hosted zones of `DnsNames`, in their order.
pub fn endpoint_attributes(
    stack_id: &str,
    endpoint: &EndpointView,
    interfaces: &[InterfaceView],
    private_dns_name: Option<&str>,
    skipped_subnets: &[String],
    hosted_zone_ids: &[String],
) -> Outcome {
    Outcome::new(&endpoint.id)
        .with("VpcEndpointId", &endpoint.id)
        .with("Arn", endpoint_arn(stack_id, &endpoint.id).unwrap_or_default())
        .with("State", endpoint.state.as_str())
        .with(
            "DnsName",
            regional_dns_entry(&endpoint.dns_entries)
                .map(|e| e.dns_name.clone())
                .unwrap_or_default(),
        )
        .with(
            "DnsEntries",
            endpoint
                .dns_entries
                .iter()
                .map(|e| format!("{}:{}", e.hosted_zone_id, e.dns_name))
                .collect::<Vec<_>>()
                .join(","),
        )
        .with("NetworkInterfaceIds", endpoint.network_interface_ids.join(","))
        .with(
            "PrivateIpAddresses",
            interfaces
                .iter()
                .flat_map(InterfaceView::addresses)
                .cloned()
                .collect::<Vec<_>>()
                .join(","),
        )
        .with(
            "SubnetAddresses",
            interfaces
                .iter()
                .flat_map(|i| i.addresses().map(move |a| format!("{}={a}", i.subnet_id)))
                .collect::<Vec<_>>()
                .join(","),
        )
        .with("PrivateDnsName", private_dns_name.unwrap_or_default())
        .with("SecurityGroupIds", endpoint.group_ids.join(","))
        .with("IpAddressType", endpoint.ip_address_type())
        .with("CreationTimestamp", endpoint.creation_timestamp.clone().unwrap_or_default())
        .with("SkippedSubnetIds", skipped_subnets.join(","))
        .with("HostedZoneIds", hosted_zone_ids.join(","))
}

/// `arn:<partition>:ec2:<region>:<account>:vpc-endpoint/<id>` (the Service Authorization
/// Reference's `vpc-endpoint` resource type), from the stack's ARN
/// (`arn:<partition>:cloudformation:<region>:<account>:stack/...`).
pub fn endpoint_arn(stack_id: &str, endpoint_id: &str) -> Option<String> {
    let StackArn { partition, region, account } = StackArn::parse(stack_id)?;
    Some(format!("arn:{partition}:ec2:{region}:{account}:vpc-endpoint/{endpoint_id}"))
}

/// Turns AWS's "conflicting DNS domain" refusal into a reason a person can act on.
pub fn explain(err: AwsError, vpc_id: &str) -> Error {
    if err.message.contains("conflicting DNS domain") {
        Error::PrivateDnsConflict { vpc: vpc_id.to_owned(), detail: err.message }
    } else {
        err.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::EndpointState;

    fn entry(name: &str) -> DnsEntry {
        DnsEntry { dns_name: name.into(), hosted_zone_id: "Z7HUB22UULQXV".into() }
    }

    #[test]
    fn the_regional_dns_name_is_the_one_without_a_zone() {
        let entries = [
            entry("vpce-0abc-1x2y3z4w-us-east-1a.vpce-svc-1.us-east-1.vpce.amazonaws.com"),
            entry("vpce-0abc-1x2y3z4w.vpce-svc-1.us-east-1.vpce.amazonaws.com"),
        ];
        assert_eq!(regional_dns_entry(&entries).unwrap(), &entries[1]);
    }

    #[test]
    fn attributes_read_as_cloudformations_own_endpoint_gives_them() {
        let endpoint = EndpointView {
            id: "vpce-1".into(),
            state: EndpointState::Available,
            dns_entries: vec![entry("vpce-1-abc.vpce-svc-1.us-east-1.vpce.amazonaws.com")],
            creation_timestamp: Some("Fri Sep 28 23:34:36 UTC 2018".into()),
            ip_address_type: Some("dualstack".into()),
            ..EndpointView::default()
        };
        let interfaces = [InterfaceView {
            id: "eni-1".into(),
            subnet_id: "subnet-a".into(),
            zone: "us-east-1a".into(),
            ipv4: Some("10.0.1.10".into()),
            ipv6: vec!["2600::10".into()],
        }];
        let data = endpoint_attributes(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
            &endpoint,
            &interfaces,
            Some("api.partner.com"),
            &["subnet-c".into()],
            &["Z1".into(), "Z2".into()],
        )
        .data;
        assert_eq!(
            data["DnsEntries"],
            "Z7HUB22UULQXV:vpce-1-abc.vpce-svc-1.us-east-1.vpce.amazonaws.com"
        );
        assert_eq!(data["DnsName"], "vpce-1-abc.vpce-svc-1.us-east-1.vpce.amazonaws.com");
        assert_eq!(data["CreationTimestamp"], "Fri Sep 28 23:34:36 UTC 2018");
        assert_eq!(data["PrivateIpAddresses"], "10.0.1.10,2600::10");
        assert_eq!(data["SubnetAddresses"], "subnet-a=10.0.1.10,subnet-a=2600::10");
        assert_eq!(data["SkippedSubnetIds"], "subnet-c");
        assert_eq!(data["HostedZoneIds"], "Z1,Z2");
        assert_eq!(data["IpAddressType"], "dualstack");
        assert_eq!(data["Arn"], "arn:aws:ec2:us-east-1:123456789012:vpc-endpoint/vpce-1");
    }

    #[test]
    fn the_arn_is_in_the_stacks_partition_region_and_account() {
        let stack = "arn:aws-cn:cloudformation:cn-north-1:111122223333:stack/s/1";
        assert_eq!(
            endpoint_arn(stack, "vpce-9").as_deref(),
            Some("arn:aws-cn:ec2:cn-north-1:111122223333:vpc-endpoint/vpce-9")
        );
        assert_eq!(endpoint_arn("not-an-arn", "vpce-9"), None);
    }
}
