//! Route 53 private hosted zones for an endpoint's own DNS names (`DnsNames`): made, found,
//! associated with VPCs, given alias records, deleted. Whose a zone is is told by its
//! `CallerReference`, which Route 53 keeps with the zone for good: a zone made for a resource
//! carries the resource's prefix ([`owner_prefix`]), so a Delete finds what a cut-off Create made
//! even before anything else was written on it.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, HostedZoneConfig, ResourceRecordSet, RrType,
    Vpc, VpcRegion,
};
use aws_sdk_route53::Client;

use crate::aws::LazyClient;
use crate::error::AwsError;
use crate::text::sha256_hex;

type Route53Result<T> = Result<T, AwsError>;

/// A private hosted zone as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneView {
    /// The zone's id, without the `/hostedzone/` prefix.
    pub id: String,
    /// Its name, lowercase, without the final dot.
    pub name: String,
    /// The `CallerReference` it was made with.
    pub caller_reference: String,
    /// The VPCs it is associated with: (id, Region).
    pub vpcs: Vec<(String, String)>,
}

/// A zone associated with a VPC, as ListHostedZonesByVPC tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcZone {
    /// The zone's id.
    pub id: String,
    /// Its name, lowercase, without the final dot.
    pub name: String,
    /// The account that owns it, when an account does (else an AWS service does).
    pub owning_account: Option<String>,
}

/// One alias record: `name` (`A` or `AAAA`) to `target` in the zone `target_zone`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AliasRecord {
    /// The record's name, without the final dot.
    pub name: String,
    /// `A` or `AAAA`.
    pub ipv6: bool,
    /// The endpoint's DNS name it points to.
    pub target: String,
    /// The hosted zone of that DNS name (as EC2 reports it).
    pub target_zone: String,
}

/// The prefix of the `CallerReference` of every zone made for one resource.
pub fn owner_prefix(stack_id: &str, logical_id: &str) -> String {
    format!("plk-{}-", &sha256_hex(format!("{stack_id}\n{logical_id}").as_bytes())[..16])
}

/// The `CallerReference` of the zone for `name` made by one request: the same on a retry of
/// that request (Route 53 refuses the second: no second zone), new for a later request (a name
/// removed and given again gets a new zone). At most 128 characters, as Route 53 takes.
pub fn caller_reference(stack_id: &str, logical_id: &str, name: &str, request_id: &str) -> String {
    let request = &sha256_hex(format!("{name}\n{request_id}").as_bytes())[..32];
    format!("{}{request}", owner_prefix(stack_id, logical_id))
}

/// A name as Route 53 compares names: lowercase, no final dot.
pub fn plain_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// A VPC as Route 53 names one: its id and Region.
fn vpc(vpc_id: &str, region: &str) -> Vpc {
    Vpc::builder().vpc_id(vpc_id).vpc_region(VpcRegion::from(region)).build()
}

fn zone_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_owned()
}

/// Route 53 operations for the zones of this project.
#[derive(Debug, Clone)]
pub struct Route53 {
    client: LazyClient<Client>,
}

impl Route53 {
    /// Operations over `client`.
    pub fn new(client: Client) -> Self {
        Self { client: LazyClient::ready(client) }
    }

    /// Operations over a client made on first use ([`LazyClient`]): an endpoint without
    /// `DnsNames` never makes one.
    pub fn lazy() -> Self {
        Self { client: LazyClient::default() }
    }

    async fn client(&self) -> &Client {
        self.client.get(Client::new).await
    }

    /// The private zones associated with `vpc_id`.
    pub async fn zones_of_vpc(&self, vpc_id: &str, region: &str) -> Route53Result<Vec<VpcZone>> {
        let mut zones = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client()
                .await
                .list_hosted_zones_by_vpc()
                .vpc_id(vpc_id)
                .vpc_region(VpcRegion::from(region))
                .set_next_token(next.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListHostedZonesByVPC", e))?;
            for zone in out.hosted_zone_summaries() {
                zones.push(VpcZone {
                    id: zone_id(zone.hosted_zone_id()),
                    name: plain_name(zone.name()),
                    owning_account: zone
                        .owner()
                        .and_then(|o| o.owning_account())
                        .map(str::to_owned),
                });
            }
            next = out.next_token().map(str::to_owned).filter(|t| !t.is_empty());
            if next.is_none() {
                return Ok(zones);
            }
        }
    }

    /// The ids of the account's zones whose `CallerReference` starts with `prefix` (the zones of
    /// one resource, [`owner_prefix`]).
    pub async fn zones_made_with(&self, prefix: &str) -> Route53Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client()
                .await
                .list_hosted_zones()
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListHostedZones", e))?;
            ids.extend(
                out.hosted_zones()
                    .iter()
                    .filter(|z| z.caller_reference().starts_with(prefix))
                    .map(|z| zone_id(z.id())),
            );
            marker = out.next_marker().map(str::to_owned).filter(|m| !m.is_empty());
            if !out.is_truncated() || marker.is_none() {
                return Ok(ids);
            }
        }
    }

    /// The zone `id`, or `None` when it is gone.
    pub async fn zone(&self, id: &str) -> Route53Result<Option<ZoneView>> {
        match self.client().await.get_hosted_zone().id(id).send().await {
            Ok(out) => Ok(out.hosted_zone().map(|zone| ZoneView {
                id: zone_id(zone.id()),
                name: plain_name(zone.name()),
                caller_reference: zone.caller_reference().to_owned(),
                vpcs: out
                    .vpcs()
                    .iter()
                    .filter_map(|v| {
                        let region =
                            v.vpc_region().map(|r| r.as_str().to_owned()).unwrap_or_default();
                        Some((v.vpc_id()?.to_owned(), region))
                    })
                    .collect(),
            })),
            Err(e) => AwsError::from_sdk("GetHostedZone", e).none_if_not_found(),
        }
    }

    /// Makes the private zone `name` associated with `vpc_id`; returns its id.
    pub async fn create_zone(
        &self,
        name: &str,
        vpc_id: &str,
        region: &str,
        caller_reference: &str,
    ) -> Route53Result<String> {
        let out = self
            .client()
            .await
            .create_hosted_zone()
            .name(name)
            .caller_reference(caller_reference)
            .hosted_zone_config(
                HostedZoneConfig::builder()
                    .private_zone(true)
                    .comment("privatelink-lambdas: DnsNames of an interface endpoint")
                    .build(),
            )
            .vpc(vpc(vpc_id, region))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateHostedZone", e))?;
        Ok(out.hosted_zone().map(|z| zone_id(z.id())).unwrap_or_default())
    }

    /// Associates the zone with another VPC of this account.
    pub async fn associate(&self, zone: &str, vpc_id: &str, region: &str) -> Route53Result<()> {
        self.client()
            .await
            .associate_vpc_with_hosted_zone()
            .hosted_zone_id(zone)
            .vpc(vpc(vpc_id, region))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("AssociateVPCWithHostedZone", e))?;
        Ok(())
    }

    /// Ends the zone's association with a VPC.
    pub async fn disassociate(&self, zone: &str, vpc_id: &str, region: &str) -> Route53Result<()> {
        self.client()
            .await
            .disassociate_vpc_from_hosted_zone()
            .hosted_zone_id(zone)
            .vpc(vpc(vpc_id, region))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DisassociateVPCFromHostedZone", e))?;
        Ok(())
    }

    /// The zone's record sets, all of them (SOA and NS included), as Route 53 lists them.
    pub async fn records(&self, zone: &str) -> Route53Result<Vec<ResourceRecordSet>> {
        let mut records = Vec::new();
        let mut next: Option<(String, RrType, Option<String>)> = None;
        loop {
            let mut list = self.client().await.list_resource_record_sets().hosted_zone_id(zone);
            if let Some((name, kind, identifier)) = next.take() {
                list = list
                    .start_record_name(name)
                    .start_record_type(kind)
                    .set_start_record_identifier(identifier);
            }
            let out =
                list.send().await.map_err(|e| AwsError::from_sdk("ListResourceRecordSets", e))?;
            records.extend(out.resource_record_sets().iter().cloned());
            match (out.is_truncated(), out.next_record_name(), out.next_record_type()) {
                (true, Some(name), Some(kind)) => {
                    let identifier = out.next_record_identifier().map(str::to_owned);
                    next = Some((name.to_owned(), kind.clone(), identifier));
                }
                _ => return Ok(records),
            }
        }
    }

    /// Writes `upsert` and removes `delete` (record sets exactly as listed: Route 53 deletes
    /// only an exact match), in one change batch.
    pub async fn change(
        &self,
        zone: &str,
        upsert: &[AliasRecord],
        delete: &[ResourceRecordSet],
    ) -> Route53Result<()> {
        if upsert.is_empty() && delete.is_empty() {
            return Ok(());
        }
        let change = |action: ChangeAction, set: ResourceRecordSet| {
            Change::builder()
                .action(action)
                .resource_record_set(set)
                .build()
                .expect("a change has its action and record set")
        };
        let changes = delete
            .iter()
            .map(|set| change(ChangeAction::Delete, set.clone()))
            .chain(upsert.iter().map(|r| change(ChangeAction::Upsert, r.to_record_set())))
            .collect();
        self.client()
            .await
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(
                ChangeBatch::builder()
                    .set_changes(Some(changes))
                    .build()
                    .expect("a change batch has its changes"),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ChangeResourceRecordSets", e))?;
        Ok(())
    }

    /// Deletes the zone and every record in it but its own SOA and NS (Route 53 deletes only an
    /// empty zone). A zone already gone is deleted.
    pub async fn delete_zone(&self, zone: &str) -> Route53Result<()> {
        let records = match self.records(zone).await {
            Ok(records) => records,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        let apex = records
            .iter()
            .find(|r| r.r#type() == &RrType::Soa)
            .map(|r| plain_name(r.name()))
            .unwrap_or_default();
        let contents: Vec<ResourceRecordSet> = records
            .into_iter()
            .filter(|r| {
                !(matches!(r.r#type(), RrType::Soa | RrType::Ns) && plain_name(r.name()) == apex)
            })
            .collect();
        self.change(zone, &[], &contents).await?;
        match self.client().await.delete_hosted_zone().id(zone).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let error = AwsError::from_sdk("DeleteHostedZone", e);
                if error.is_not_found() {
                    Ok(())
                } else {
                    Err(error)
                }
            }
        }
    }
}

impl AliasRecord {
    /// The alias record a record set is, when it is a plain alias `A` or `AAAA` (no routing
    /// policy: this project writes no other).
    pub fn of(set: &ResourceRecordSet) -> Option<Self> {
        let alias = set.alias_target()?;
        let ipv6 = match set.r#type() {
            RrType::A => false,
            RrType::Aaaa => true,
            _ => return None,
        };
        if set.set_identifier().is_some() {
            return None;
        }
        Some(AliasRecord {
            name: plain_name(set.name()),
            ipv6,
            target: plain_name(alias.dns_name()),
            target_zone: alias.hosted_zone_id().to_owned(),
        })
    }

    fn to_record_set(&self) -> ResourceRecordSet {
        ResourceRecordSet::builder()
            .name(&self.name)
            .r#type(if self.ipv6 { RrType::Aaaa } else { RrType::A })
            .alias_target(
                AliasTarget::builder()
                    .dns_name(&self.target)
                    .hosted_zone_id(&self.target_zone)
                    .evaluate_target_health(false)
                    .build()
                    .expect("every field of an alias target is set"),
            )
            .build()
            .expect("a record set has its name and type")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zones_caller_reference_names_its_resource_and_request_within_route53s_limit() {
        let stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1";
        let first = caller_reference(stack, "Endpoint", "api.partner.example", "req-1");
        assert!(first.starts_with(&owner_prefix(stack, "Endpoint")) && first.len() <= 128);
        assert_eq!(first, caller_reference(stack, "Endpoint", "api.partner.example", "req-1"));
        assert_ne!(first, caller_reference(stack, "Endpoint", "api.partner.example", "req-2"));
        assert_ne!(first, caller_reference(stack, "Endpoint", "eu.partner.example", "req-1"));
        assert!(!first.starts_with(&owner_prefix(stack, "Other")));
        assert_eq!(plain_name("API.Partner.Example."), "api.partner.example");
    }
}
