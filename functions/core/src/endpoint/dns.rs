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

use aws_sdk_route53::types::ResourceRecordSet;

use crate::cfn::{RequestContext, StackArn};
use crate::ec2::{self, DnsEntry, Ec2, EndpointState, EndpointView, ServiceView};
use crate::error::{AwsErrorKind, Error, Result};
use crate::route53::{self, AliasRecord, Route53, ZoneView};
use crate::text::quoted;

use super::attributes::regional_dns_entry;
use super::EndpointSpec;

/// A zone of this resource, with its record sets.
#[derive(Debug, Clone)]
pub struct OwnZone {
    /// The zone.
    pub zone: ZoneView,
    /// Its record sets, as listed.
    pub records: Vec<ResourceRecordSet>,
}

impl OwnZone {
    /// Its plain alias records at the names this project writes (the name, `<zone>.<name>`).
    fn aliases(&self) -> Vec<(AliasRecord, &ResourceRecordSet)> {
        self.records
            .iter()
            .filter_map(|set| Some((AliasRecord::of(set)?, set)))
            .filter(|(alias, _)| {
                alias.name == self.zone.name
                    || alias.name.ends_with(&format!(".{}", self.zone.name))
            })
            .collect()
    }

    /// The endpoints its aliases target.
    fn targets(&self) -> BTreeSet<String> {
        self.aliases()
            .iter()
            .filter_map(|(a, _)| a.target.split('.').next())
            .filter_map(|label| {
                let mut parts = label.splitn(3, '-');
                Some(format!("{}-{}", parts.next()?, parts.next()?))
            })
            .collect()
    }

    /// Whether the zone is `endpoint_id`'s: its records alias that endpoint, or nothing yet.
    fn is_for(&self, endpoint_id: &str) -> bool {
        let targets = self.targets();
        targets.is_empty() || targets.contains(endpoint_id)
    }
}

/// The endpoint's own DNS entries (`vpce-<id>-...`): its regional name and its zonal names, not
/// the service's Private DNS name.
fn own_entries(endpoint: &EndpointView) -> Vec<&DnsEntry> {
    let prefix = format!("{}-", endpoint.id);
    endpoint.dns_entries.iter().filter(|e| e.dns_name.starts_with(&prefix)).collect()
}

/// The zone of a zonal DNS name of `endpoint_id` (`vpce-<id>-<suffix>-us-east-1a.vpce-svc-...`).
fn zone_of<'a>(entry: &'a DnsEntry, endpoint_id: &str) -> Option<&'a str> {
    let label = entry.dns_name.split('.').next()?;
    let rest = label.strip_prefix(endpoint_id)?.strip_prefix('-')?;
    rest.split_once('-').map(|(_, zone)| zone).filter(|z| !z.is_empty())
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
    let own: Vec<DnsEntry> = own_entries(endpoint).into_iter().cloned().collect();
    let regional = regional_dns_entry(&own);
    let mut records = Vec::new();
    for entry in &own {
        let record_name = if Some(entry) == regional {
            name.to_owned()
        } else if let Some(zone) = zone_of(entry, &endpoint.id) {
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

/// Whether this resource may have zones to look after: `DnsNames` given, or the endpoint's
/// tag says it had some (the tag is removed only once its zones are).
pub fn has_names(
    spec_names: &[String],
    endpoint_tags: &std::collections::BTreeMap<String, String>,
) -> bool {
    !spec_names.is_empty() || endpoint_tags.contains_key(ec2::TAG_DNS_NAMES)
}

/// Every zone of this resource (made by any of its requests).
pub async fn own_zones(r53: &Route53, ctx: &RequestContext) -> Result<Vec<OwnZone>> {
    let prefix = route53::owner_prefix(&ctx.stack_id, &ctx.logical_id);
    let mut zones = Vec::new();
    for id in r53.zones_made_with(&prefix).await? {
        // Read one by one: a zone deleted meanwhile is simply not there.
        let Some(zone) = r53.zone(&id).await? else { continue };
        let records = r53.records(&id).await?;
        zones.push(OwnZone { zone, records });
    }
    Ok(zones)
}

/// The live endpoints made for this resource.
async fn live_endpoints(ec2: &Ec2, ctx: &RequestContext) -> Result<Vec<EndpointView>> {
    Ok(ec2
        .endpoints_made_for(&ctx.stack_id, &ctx.logical_id)
        .await?
        .into_iter()
        .filter(|e| {
            !matches!(e.state, EndpointState::Deleted | EndpointState::Deleting)
                && !ec2::is_pending_takeover(&e.tags)
        })
        .collect())
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
                    format!("{vpc} is not a VPC of this account in {region}: Route 53 associates another account's VPC only when that account does it itself, after this account authorizes it (aws route53 create-vpc-association-authorization): leave it out, and associate the zone (its id is in HostedZoneIds) that way"),
                ),
                false => err.into(),
            });
        }
    }
    let prefix = route53::owner_prefix(&ctx.stack_id, &ctx.logical_id);
    let account = StackArn::parse(&ctx.stack_id).map(|s| s.account.to_owned());
    let wanted: BTreeSet<&String> = spec.dns_names.iter().collect();
    for vpc in std::iter::once(&spec.vpc_id).chain(&spec.dns_vpc_ids) {
        for found in r53.zones_of_vpc(vpc, region).await? {
            if !wanted.contains(&found.name) {
                continue;
            }
            // Another account's zone, or a service's, can't be this resource's (nor read here).
            let this_account = found.owning_account.is_some() && found.owning_account == account;
            let ours = this_account
                && r53
                    .zone(&found.id)
                    .await?
                    .is_some_and(|z| z.caller_reference.starts_with(&prefix));
            if !ours {
                return Err(Error::property(
                    "DnsNames",
                    format!("{} already has a private hosted zone associated with {vpc} ({}) that this resource did not make: a VPC takes one zone of a name; delete that zone, or leave the name out", quoted(&found.name), found.id),
                ));
            }
        }
    }
    Ok(())
}

/// Makes the zones of `DnsNames` what they should be for `endpoint`, and removes the zones of
/// names no longer given that are this endpoint's (or no live endpoint's). Returns the zones'
/// ids, in `DnsNames`' order.
pub async fn reconcile(
    r53: &Route53,
    ec2: &Ec2,
    ctx: &RequestContext,
    spec: &EndpointSpec,
    endpoint: &EndpointView,
    region: &str,
) -> Result<Vec<String>> {
    let mut own = own_zones(r53, ctx).await?;
    let mut vpcs: Vec<&String> = vec![&spec.vpc_id];
    vpcs.extend(spec.dns_vpc_ids.iter().filter(|v| **v != spec.vpc_id));
    let mut ids = Vec::with_capacity(spec.dns_names.len());
    for name in &spec.dns_names {
        let found = own.iter().position(|z| z.zone.name == *name);
        let zone = match found {
            Some(index) => own.remove(index),
            None => make_zone(r53, ctx, name, &spec.vpc_id, region).await?,
        };
        let associated: Vec<&String> = zone.zone.vpcs.iter().map(|(id, _)| id).collect();
        for vpc in &vpcs {
            if !associated.contains(vpc) {
                r53.associate(&zone.zone.id, vpc, region).await?;
            }
        }
        // Only what this resource would have associated goes: VPCs of this account and Region
        // (one associated by hand from another account, after an authorization, stays).
        for (vpc, vpc_region) in &zone.zone.vpcs {
            if !vpcs.contains(&vpc) && vpc_region == region && ec2.vpc_cidrs(vpc).await.is_ok() {
                r53.disassociate(&zone.zone.id, vpc, region).await?;
            }
        }
        point(r53, &zone, name, endpoint).await?;
        ids.push(zone.zone.id);
    }
    if !own.is_empty() {
        let live: BTreeSet<String> =
            live_endpoints(ec2, ctx).await?.into_iter().map(|e| e.id).collect();
        for gone in own {
            let orphan = gone.targets().iter().all(|t| !live.contains(t));
            if gone.is_for(&endpoint.id) || orphan {
                tracing::info!(zone = %gone.zone.id, name = %gone.zone.name, "deleting the zone of a name no longer in DnsNames");
                r53.delete_zone(&gone.zone.id).await?;
            }
        }
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
        vpcs: vec![(vpc_id.to_owned(), region.to_owned())],
    };
    Ok(OwnZone { zone, records: Vec::new() })
}

/// Writes the alias records of `zone` for `endpoint`, removing those of its names that are not
/// wanted any more (exactly as listed).
async fn point(r53: &Route53, zone: &OwnZone, name: &str, endpoint: &EndpointView) -> Result<()> {
    let desired = desired_aliases(name, endpoint);
    let current = zone.aliases();
    let upsert: Vec<AliasRecord> =
        desired.iter().filter(|d| !current.iter().any(|(c, _)| c == *d)).cloned().collect();
    let stale: Vec<ResourceRecordSet> = current
        .iter()
        .filter(|(c, _)| !desired.iter().any(|d| d.name == c.name && d.ipv6 == c.ipv6))
        .map(|(_, set)| (*set).clone())
        .collect();
    r53.change(&zone.zone.id, &upsert, &stale).await?;
    Ok(())
}

/// On Delete (or when an endpoint is given back): the zones of this resource that alias
/// `endpoint_id` (or nothing) are deleted, unless another live endpoint of the resource still
/// has their name in its `DnsNames` (a replacement rolled back): then they point at it.
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
    let others: Vec<EndpointView> =
        live_endpoints(ec2, ctx).await?.into_iter().filter(|e| e.id != endpoint_id).collect();
    for zone in zones {
        let keeper = others.iter().find(|e| {
            e.tags
                .get(ec2::TAG_DNS_NAMES)
                .is_some_and(|names| names.split_whitespace().any(|n| n == zone.zone.name))
        });
        match keeper {
            Some(endpoint) => {
                tracing::info!(zone = %zone.zone.id, endpoint_id = %endpoint.id, "pointing a zone back at the resource's other endpoint");
                point(r53, &zone, &zone.zone.name, endpoint).await?;
            }
            None => r53.delete_zone(&zone.zone.id).await?,
        }
    }
    Ok(())
}

/// When the resource is deleted: any zone of it that aliases no live endpoint of the resource
/// (left by a replacement that failed, or an endpoint deleted another way) is deleted too.
pub async fn sweep(r53: &Route53, ec2: &Ec2, ctx: &RequestContext) -> Result<()> {
    let zones = own_zones(r53, ctx).await?;
    if zones.is_empty() {
        return Ok(());
    }
    let live: BTreeSet<String> =
        live_endpoints(ec2, ctx).await?.into_iter().map(|e| e.id).collect();
    for zone in zones.into_iter().filter(|z| z.targets().iter().all(|t| !live.contains(t))) {
        tracing::info!(zone = %zone.zone.id, name = %zone.zone.name, "deleting a zone no live endpoint of the resource uses");
        r53.delete_zone(&zone.zone.id).await?;
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
                entry("my-partner-api-v2.example.com"),
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
        // The service's Private DNS name (even one with many hyphens) is not an endpoint zone's.
        assert!(records.iter().all(|r| r.target.starts_with("vpce-1-")));
    }
}
