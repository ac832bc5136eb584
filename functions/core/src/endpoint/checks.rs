//! Refusing before anything is made: what the service, the subnets and the VPC must offer for
//! the options asked, each refusal naming the property and what to do. Pure.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use super::spec::EndpointSpec;
use crate::ec2::{self, EndpointView, ServiceView, SubnetView, VpcDns};
use crate::error::{Error, Result};

/// What the service must offer for the options asked: endpoint policies, the address type.
pub fn check_service_options(spec: &EndpointSpec, service: &ServiceView) -> Result<()> {
    if spec.policy.is_some() && service.policy_supported == Some(false) {
        return Err(Error::property(
            "PolicyDocument",
            format!(
                "endpoint service {} does not support endpoint policies: remove PolicyDocument",
                service.name
            ),
        ));
    }
    let address_type = spec.ip_address_type();
    if !service.supports_ip_address_type(address_type) {
        let offered = if service.ip_address_types.is_empty() {
            "ipv4".to_owned()
        } else {
            service.ip_address_types.join(", ")
        };
        return Err(Error::property(
            "IpAddressType",
            format!(
                "{address_type} is not supported by endpoint service {}, which supports {offered}",
                service.name
            ),
        ));
    }
    Ok(())
}

/// The subnets to use and the ones `SkipUnsupportedZones` leaves out: one per zone (compared by
/// zone id, the same in every account), each in a zone the service offers. A service in another
/// Region lists none of this Region's zones: its refusal at creation is read instead
/// ([`remote_zone_refusal`]).
pub fn select_subnets(
    spec: &EndpointSpec,
    service: &ServiceView,
    subnets: &[SubnetView],
    region: &str,
) -> Result<(Vec<String>, Vec<String>)> {
    for (i, subnet) in subnets.iter().enumerate() {
        let same_zone = |other: &&SubnetView| {
            if subnet.zone_id.is_empty() || other.zone_id.is_empty() {
                other.zone == subnet.zone
            } else {
                other.zone_id == subnet.zone_id
            }
        };
        if let Some(other) = subnets[..i].iter().find(same_zone) {
            return Err(Error::SubnetsShareZone {
                first: other.id.clone(),
                second: subnet.id.clone(),
                zone: subnet.zone.clone(),
            });
        }
    }
    if service.is_remote(region) && service.zones.is_empty() {
        return Ok((subnets.iter().map(|s| s.id.clone()).collect(), Vec::new()));
    }
    let (offered, unoffered): (Vec<&SubnetView>, Vec<&SubnetView>) =
        subnets.iter().partition(|s| service.zones.contains(&s.zone));
    if let Some(first) = unoffered.first().filter(|_| !spec.skip_unsupported_zones) {
        return Err(Error::ZoneNotOffered {
            subnet: first.id.clone(),
            zone: first.zone.clone(),
            service: service.name.clone(),
            offered: service.zones.join(", "),
        });
    }
    if offered.is_empty() {
        return Err(Error::property(
            "SubnetIds",
            format!(
                "none of them is in a zone endpoint service {} offers ({})",
                service.name,
                service.zones.join(", ")
            ),
        ));
    }
    Ok((
        offered.iter().map(|s| s.id.clone()).collect(),
        unoffered.iter().map(|s| s.id.clone()).collect(),
    ))
}

/// The zone ids in AWS's refusal of subnets for a service in another Region ("Only the
/// following availability zones are supported for remote access: use1-az1, use1-az2").
pub fn remote_access_zone_ids(message: &str) -> Option<Vec<String>> {
    let (_, list) = message.split_once("supported for remote access:")?;
    let ids: Vec<String> = list
        .split(',')
        .map(|id| id.trim().trim_end_matches('.').to_owned())
        .filter(|id| !id.is_empty())
        .collect();
    (!ids.is_empty()).then_some(ids)
}

/// After AWS refused subnets of a remote service, allowing only `allowed` zone ids: the
/// subnets to try again with (and those skipped) when `skip` (`SkipUnsupportedZones`), else
/// the reason.
pub fn remote_zone_refusal(
    skip: bool,
    service: &ServiceView,
    subnets: &[SubnetView],
    allowed: &[String],
) -> Result<(Vec<String>, Vec<String>)> {
    let (kept, refused): (Vec<&SubnetView>, Vec<&SubnetView>) =
        subnets.iter().partition(|s| allowed.contains(&s.zone_id));
    if refused.is_empty() || (skip && !kept.is_empty()) {
        return Ok((
            kept.iter().map(|s| s.id.clone()).collect(),
            refused.iter().map(|s| s.id.clone()).collect(),
        ));
    }
    Err(Error::ZonesNotOfferedRemotely {
        service: service.name.clone(),
        region: service.region.clone().unwrap_or_default(),
        subnets: refused
            .iter()
            .map(|s| format!("{} ({})", s.id, s.zone_id))
            .collect::<Vec<_>>()
            .join(", "),
        allowed: allowed.join(", "),
    })
}

/// What the subnets must have for the options asked: IPv6 blocks for an endpoint with IPv6,
/// and fixed addresses inside their subnet, not among the five AWS reserves.
pub fn check_subnets(spec: &EndpointSpec, all: &[SubnetView], used: &[String]) -> Result<()> {
    let address_type = spec.ip_address_type();
    let subnets: Vec<&SubnetView> = all.iter().filter(|s| used.contains(&s.id)).collect();
    if address_type != "ipv4" {
        let without: Vec<&str> =
            subnets.iter().filter(|s| s.ipv6_cidrs.is_empty()).map(|s| s.id.as_str()).collect();
        if !without.is_empty() {
            return Err(Error::property(
                "SubnetIds",
                format!("{} has no IPv6 block, which an {address_type} endpoint needs in every subnet: associate one, or use IpAddressType ipv4", without.join(", ")),
            ));
        }
    }
    let mut problems = Vec::new();
    for address in &spec.subnet_addresses {
        let Some(subnet) = subnets.iter().find(|s| s.id == address.subnet_id) else { continue };
        if let Some(ip) = &address.ipv4 {
            let block = subnet.ipv4_cidr.as_deref().and_then(|c| c.parse::<IpNet>().ok());
            if let Some(problem) = address_problem(ip, block.as_slice()) {
                problems.push(format!("{ip} for {} {problem}", subnet.id));
            }
        }
        if let Some(ip) = &address.ipv6 {
            let blocks: Vec<IpNet> =
                subnet.ipv6_cidrs.iter().filter_map(|c| c.parse().ok()).collect();
            if let Some(problem) = address_problem(ip, &blocks) {
                problems.push(format!("{ip} for {} {problem}", subnet.id));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::property("SubnetConfigurations", problems.join("; ")))
    }
}

/// Why `ip` can't be an interface's address in a subnet of `blocks`, if it can't. AWS reserves
/// the first four addresses and the last one of every IPv4 block (VPC User Guide, "Subnet CIDR
/// blocks"), and the first four and the last of an IPv6 subnet's /64.
fn address_problem(ip: &str, blocks: &[IpNet]) -> Option<String> {
    let ip: IpAddr = ip.parse().ok()?;
    let Some(block) = blocks.iter().find(|b| b.contains(&ip)) else {
        let shown: Vec<String> = blocks.iter().map(ToString::to_string).collect();
        return Some(format!("is outside the subnet ({})", shown.join(", ")));
    };
    let reserved = match (block.network(), block.broadcast(), ip) {
        (IpAddr::V4(first), IpAddr::V4(last), IpAddr::V4(ip)) => {
            let (first, last, ip) = (u32::from(first), u32::from(last), u32::from(ip));
            ip < first.saturating_add(4) || ip == last
        }
        (IpAddr::V6(first), IpAddr::V6(last), IpAddr::V6(ip)) => {
            let (first, last, ip) = (u128::from(first), u128::from(last), u128::from(ip));
            ip < first.saturating_add(4) || ip == last
        }
        _ => false,
    };
    reserved.then(|| format!("is one of the addresses AWS reserves in {block}"))
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
/// Private DNS on, and not this resource's (`mine`: its current, earlier or adopted ones).
pub fn name_holder_candidates<'a>(
    endpoints: &'a [EndpointView],
    mine: &BTreeSet<String>,
    stack_id: &str,
    logical_id: &str,
) -> Vec<&'a EndpointView> {
    endpoints
        .iter()
        .filter(|e| e.private_dns_enabled && !e.state.is_finished())
        .filter(|e| !mine.contains(&e.id))
        .filter(|e| !ec2::is_owned_by(&e.tags, stack_id, logical_id))
        .collect()
}
