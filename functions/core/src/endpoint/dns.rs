//! `DnsNames`: a Route 53 private hosted zone per name, associated with the endpoint's VPC and
//! each of `DnsVpcIds`, holding alias records to the endpoint: the name itself to its regional
//! DNS name (`A`, and `AAAA` for a dualstack or IPv6 endpoint), and `<zone>.<name>` to each
//! zone's own name, as the runbook's `dig` of each zone wants them.
//!
//! A zone is this resource's when its `CallerReference` carries the resource's prefix; among the
//! zones of a resource (a replacement shares its logical id), a zone belongs to the endpoint its
//! records alias. A Delete removes only the zones aliasing its endpoint (or nothing yet): when
//! another live endpoint of the resource remains (a replacement rolled back), they are pointed
//! back at it instead.

use std::collections::BTreeSet;

use crate::cfn::RequestContext;
use crate::ec2::{self, DnsEntry, Ec2, EndpointState, EndpointView, ServiceView};
use crate::error::{AwsErrorKind, Error, Result};
use crate::route53::{self, AliasRecord, Route53, ZoneView};
use crate::text::quoted;

use super::attributes::regional_dns_entry;
use super::EndpointSpec;

/// A zone of this resource, with its alias records.
#[derive(Debug, Clone)]
pub struct OwnZone {
    /// The zone.
    pub zone: ZoneView,
    /// Its alias records.
    pub aliases: Vec<AliasRecord>,
}

impl OwnZone {
    /// Whether the zone is `endpoint_id`'s: its records alias that endpoint, or nothing yet.
    fn is_for(&self, endpoint_id: &str) -> bool {
        self.aliases.is_empty() || self.aliases.iter().any(|a| aliases_endpoint(a, endpoint_id))
    }
}

fn aliases_endpoint(record: &AliasRecord, endpoint_id: &str) -> bool {
    record.target.starts_with(&format!("{endpoint_id}-"))
}

/// The zone of a zonal DNS name (`vpce-<id>-<suffix>-us-east-1a.vpce-svc-...`), if it is one.
fn zone_of(entry: &DnsEntry) -> Option<&str> {
    let label = entry.dns_name.split('.').next()?;
    let mut parts = label.splitn(4, '-');
    let (_, _, _, zone) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some(zone).filter(|z| !z.is_empty())
}

/// The alias records `name`'s zone holds for `endpoint`: the name to the regional DNS name,
/// `<zone>.<name>` to each zonal one; `A` unless the endpoint is IPv6 only, `AAAA` when it has
/// IPv6 addresses.
pub fn desired_aliases(name: &str, endpoint: &EndpointView) -> Vec<AliasRecord> {
    let address_type = endpoint.ip_address_type.as_deref().unwrap_or("ipv4");
    let families: Vec<bool> = match address_type {
        "ipv6" => vec![true],
        "dualstack" => vec![false, true],
        _ => vec![false],
    };
    let regional = regional_dns_entry(&endpoint.dns_entries);
    let mut records = Vec::new();
    for entry in &endpoint.dns_entries {
        let record_name = if Some(entry) == regional {
            name.to_owned()
        } else if let Some(zone) = zone_of(entry) {
            format!("{zone}.{name}")
        } else {
            continue;
        };
        for &ipv6 in &families {
            records.push(AliasRecord {
                name: record_name.clone(),
                ipv6,
                target: route53::plain_name(&entry.dns_name),
                target_zone: entry.hosted_zone_id.clone(),
            });
        }
    }
    records.sort();
    records
}

/// Every zone of this resource (made by any of its requests).
pub async fn own_zones(r53: &Route53, ctx: &RequestContext) -> Result<Vec<OwnZone>> {
    let prefix = route53::owner_prefix(&ctx.stack_id, &ctx.logical_id);
    let mut zones = Vec::new();
    for id in r53.zones_made_with(&prefix).await? {
        // Read one by one: a zone deleted meanwhile is simply not there.
        let Some(zone) = r53.zone(&id).await? else { continue };
        let aliases = r53.aliases(&id).await?;
        zones.push(OwnZone { zone, aliases });
    }
    Ok(zones)
}

/// What is refused before anything is made: a name the service's verified Private DNS already
/// answers, a VPC of `DnsVpcIds` not of this account and Region, a zone of a name already
/// associated with one of the VPCs that this resource did not make.
pub async fn check(
    r53: &Route53,
    ec2: &Ec2,
    ctx: &RequestContext,
    spec: &EndpointSpec,
    service: &ServiceView,
    private_dns: bool,
    region: &str,
) -> Result<()> {
    if let (true, Some(own)) = (private_dns, service.private_dns_name.as_deref()) {
        let own = route53::plain_name(own);
        for name in &spec.dns_names {
            let covered = *name == own
                || own
                    .strip_prefix("*.")
                    .is_some_and(|domain| name.ends_with(&format!(".{domain}")));
            if covered {
                return Err(Error::property(
                    "DnsNames",
                    format!("{} is answered by the service's own Private DNS name ({own}) in the VPC already: leave it out, or set PrivateDnsEnabled to false", quoted(name)),
                ));
            }
        }
    }
    for vpc in &spec.dns_vpc_ids {
        if let Err(err) = ec2.vpc_cidrs(vpc).await {
            return Err(match err.is_not_found() {
                true => Error::property(
                    "DnsVpcIds",
                    format!("{vpc} is not a VPC of this account in {region}: Route 53 associates another account's VPC only when that account does it itself, after an authorization: associate the zone from that account (its id is in HostedZoneIds)"),
                ),
                false => err.into(),
            });
        }
    }
    let prefix = route53::owner_prefix(&ctx.stack_id, &ctx.logical_id);
    let wanted: BTreeSet<&String> = spec.dns_names.iter().collect();
    for vpc in std::iter::once(&spec.vpc_id).chain(&spec.dns_vpc_ids) {
        for (id, name) in r53.zones_of_vpc(vpc, region).await? {
            if !wanted.contains(&name) {
                continue;
            }
            let ours =
                r53.zone(&id).await?.is_some_and(|z| z.caller_reference.starts_with(&prefix));
            if !ours {
                return Err(Error::property(
                    "DnsNames",
                    format!("{} already has a private hosted zone associated with {vpc} ({id}) that this resource did not make: a VPC takes one zone of a name; delete that zone, or leave the name out", quoted(&name)),
                ));
            }
        }
    }
    Ok(())
}

/// Makes the zones of `DnsNames` what they should be for `endpoint`, and removes the zones of
/// names no longer given that are this endpoint's. Returns the zones' ids, in `DnsNames`' order.
pub async fn reconcile(
    r53: &Route53,
    ctx: &RequestContext,
    spec: &EndpointSpec,
    endpoint: &EndpointView,
    region: &str,
) -> Result<Vec<String>> {
    let mut own = own_zones(r53, ctx).await?;
    let vpcs: Vec<&String> = std::iter::once(&spec.vpc_id).chain(&spec.dns_vpc_ids).collect();
    let mut ids = Vec::with_capacity(spec.dns_names.len());
    for name in &spec.dns_names {
        let found = own.iter().position(|z| z.zone.name == *name);
        let zone = match found {
            Some(index) => own.remove(index),
            None => make_zone(r53, ctx, name, &spec.vpc_id, region).await?,
        };
        for vpc in &vpcs {
            if !zone.zone.vpc_ids.contains(vpc) {
                r53.associate(&zone.zone.id, vpc, region).await?;
            }
        }
        for vpc in &zone.zone.vpc_ids {
            if !vpcs.contains(&vpc) {
                r53.disassociate(&zone.zone.id, vpc, region).await?;
            }
        }
        point(r53, &zone, name, endpoint).await?;
        ids.push(zone.zone.id);
    }
    for gone in own.into_iter().filter(|z| z.is_for(&endpoint.id)) {
        tracing::info!(zone = %gone.zone.id, name = %gone.zone.name, "deleting the zone of a name no longer in DnsNames");
        r53.delete_zone(&gone.zone.id).await?;
    }
    Ok(ids)
}

/// Makes the zone of `name`, associated with `vpc_id`. A retry of the same request finds the
/// zone its first try made (Route 53 refuses a second zone of one `CallerReference`).
async fn make_zone(
    r53: &Route53,
    ctx: &RequestContext,
    name: &str,
    vpc_id: &str,
    region: &str,
) -> Result<OwnZone> {
    let reference =
        route53::caller_reference(&ctx.stack_id, &ctx.logical_id, name, &ctx.request_id);
    let made = r53.create_zone(name, vpc_id, region, &reference).await;
    let id = match made {
        Ok(id) => id,
        Err(err) if err.kind == AwsErrorKind::Duplicate => {
            let again = own_zones(r53, ctx).await?;
            match again.into_iter().find(|z| z.zone.caller_reference == reference) {
                Some(zone) => return Ok(zone),
                None => return Err(err.into()),
            }
        }
        Err(err) if err.kind == AwsErrorKind::Conflict => {
            return Err(Error::property(
                "DnsNames",
                format!("{} already has a private hosted zone associated with {vpc_id} that this resource did not make ({})", quoted(name), err.message),
            ))
        }
        Err(err) => return Err(err.into()),
    };
    let zone = ZoneView {
        id,
        name: name.to_owned(),
        caller_reference: reference,
        vpc_ids: vec![vpc_id.to_owned()],
    };
    Ok(OwnZone { zone, aliases: Vec::new() })
}

/// Writes the alias records of `zone` for `endpoint`, removing the alias records it had that
/// are not wanted any more.
async fn point(r53: &Route53, zone: &OwnZone, name: &str, endpoint: &EndpointView) -> Result<()> {
    let desired = desired_aliases(name, endpoint);
    let upsert: Vec<AliasRecord> =
        desired.iter().filter(|d| !zone.aliases.contains(d)).cloned().collect();
    let stale: Vec<AliasRecord> = zone
        .aliases
        .iter()
        .filter(|a| !desired.iter().any(|d| d.name == a.name && d.ipv6 == a.ipv6))
        .cloned()
        .collect();
    r53.change_aliases(&zone.zone.id, &upsert, &stale).await?;
    Ok(())
}

/// On Delete: the zones of this resource that alias `endpoint_id` (or nothing) are deleted, or,
/// when another live endpoint of the resource remains, pointed at it.
pub async fn release(
    r53: &Route53,
    ec2: &Ec2,
    ctx: &RequestContext,
    endpoint_id: &str,
) -> Result<()> {
    let zones: Vec<OwnZone> =
        own_zones(r53, ctx).await?.into_iter().filter(|z| z.is_for(endpoint_id)).collect();
    if zones.is_empty() {
        return Ok(());
    }
    let other =
        ec2.endpoints_made_for(&ctx.stack_id, &ctx.logical_id).await?.into_iter().find(|e| {
            e.id != endpoint_id
                && !matches!(e.state, EndpointState::Deleted | EndpointState::Deleting)
                && !ec2::is_pending_takeover(&e.tags)
        });
    for zone in zones {
        match &other {
            Some(endpoint) => {
                tracing::info!(zone = %zone.zone.id, endpoint_id = %endpoint.id, "pointing a zone back at the resource's other endpoint");
                point(r53, &zone, &zone.zone.name, endpoint).await?;
            }
            None => r53.delete_zone(&zone.zone.id).await?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> DnsEntry {
        DnsEntry { dns_name: name.into(), hosted_zone_id: "Z7HUB22UULQXV".into() }
    }

    fn endpoint(address_type: &str) -> EndpointView {
        EndpointView {
            id: "vpce-1".into(),
            ip_address_type: Some(address_type.into()),
            dns_entries: vec![
                entry("vpce-1-abc.vpce-svc-1.us-east-1.vpce.amazonaws.com"),
                entry("vpce-1-abc-us-east-1a.vpce-svc-1.us-east-1.vpce.amazonaws.com"),
                entry("api.partner.com"),
            ],
            ..EndpointView::default()
        }
    }

    #[test]
    fn a_name_aliases_the_regional_name_and_each_zone_its_zonal_one_in_the_endpoints_families() {
        let records = desired_aliases("api.partner.example", &endpoint("ipv4"));
        let shown: Vec<(String, bool, String)> =
            records.iter().map(|r| (r.name.clone(), r.ipv6, r.target.clone())).collect();
        assert_eq!(
            shown,
            [
                (
                    "api.partner.example".into(),
                    false,
                    "vpce-1-abc.vpce-svc-1.us-east-1.vpce.amazonaws.com".into()
                ),
                (
                    "us-east-1a.api.partner.example".into(),
                    false,
                    "vpce-1-abc-us-east-1a.vpce-svc-1.us-east-1.vpce.amazonaws.com".into()
                ),
            ]
        );
        assert_eq!(desired_aliases("n.example", &endpoint("dualstack")).len(), 4);
        assert!(desired_aliases("n.example", &endpoint("ipv6")).iter().all(|r| r.ipv6));
        assert!(records
            .iter()
            .all(|r| aliases_endpoint(r, "vpce-1") && !aliases_endpoint(r, "vpce-12")));
    }
}
