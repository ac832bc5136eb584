//! What the validator reads of an endpoint (`EndpointId`): its addresses, its zones (each
//! zone's own DNS name and its interface's addresses), and how it drifted from what it was made
//! as (its `privatelink-lambdas:made-with` tag). CloudFormation has no drift detection for
//! custom resources: this is it.

use std::net::IpAddr;

use super::{Target, ZoneTarget};
use crate::ec2::{Ec2, EndpointState, EndpointView, InterfaceView, MadeWith, TAG_MADE_WITH};
use crate::error::Result;

/// The zone a zonal DNS name is for: `vpce-<id>-<suffix>-us-east-1a.vpce-svc-...` is for
/// `us-east-1a`; the regional name (`vpce-<id>-<suffix>.vpce-svc-...`) is for none.
pub fn zone_of_dns_name(name: &str) -> Option<&str> {
    let label = name.split('.').next()?;
    let mut parts = label.splitn(4, '-');
    let (_vpce, _id, _suffix) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next().filter(|zone| !zone.is_empty())
}

/// The endpoint's zones: every zone it has an interface in, with that interface's addresses
/// and the zone's own DNS name when the endpoint lists one.
pub fn zones(endpoint: &EndpointView, interfaces: &[InterfaceView]) -> Vec<ZoneTarget> {
    let mut zones: Vec<ZoneTarget> = Vec::new();
    for interface in interfaces {
        let addresses = interface.addresses().filter_map(|a| a.parse::<IpAddr>().ok());
        match zones.iter_mut().find(|z| z.zone == interface.zone) {
            Some(zone) => zone.addresses.extend(addresses),
            None => zones.push(ZoneTarget {
                zone: interface.zone.clone(),
                dns_name: endpoint
                    .dns_entries
                    .iter()
                    .find(|e| zone_of_dns_name(&e.dns_name) == Some(interface.zone.as_str()))
                    .map(|e| e.dns_name.clone()),
                addresses: addresses.collect(),
            }),
        }
    }
    zones
}

/// How the endpoint differs from what it was made as, in words for the report (empty: no
/// drift). `endpoint`: `None` when it no longer exists.
pub fn drift(
    endpoint_id: &str,
    endpoint: Option<&EndpointView>,
    interfaces: &[InterfaceView],
) -> Vec<String> {
    let Some(endpoint) = endpoint else {
        return vec![format!("endpoint {endpoint_id} no longer exists")];
    };
    let last_error = endpoint.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
    match &endpoint.state {
        EndpointState::Available => {}
        EndpointState::Deleted | EndpointState::Deleting => {
            return vec![format!("endpoint {endpoint_id} is {}: it was deleted", endpoint.state)]
        }
        EndpointState::Rejected => {
            return vec![format!(
                "endpoint {endpoint_id} is rejected: the provider rejected (or closed) the connection{last_error}"
            )]
        }
        // Still waiting for the provider: not drift, but nothing to compare yet either.
        EndpointState::PendingAcceptance | EndpointState::Pending => return Vec::new(),
        other => {
            return vec![format!("endpoint {endpoint_id} is {other}, not available{last_error}")]
        }
    }
    let Some(made) = endpoint.tags.get(TAG_MADE_WITH).and_then(|v| MadeWith::parse(v)) else {
        // Not made by privatelink-lambdas (or before it recorded this): nothing to compare.
        return Vec::new();
    };
    let mut found = Vec::new();
    if made.private_dns && !endpoint.private_dns_enabled {
        found.push(format!(
            "Private DNS of {endpoint_id} was switched off (it was made with it on): the name no longer resolves to the endpoint"
        ));
    }
    let has: Vec<&str> = interfaces.iter().map(|i| i.zone.as_str()).collect();
    for zone in &made.zones {
        if !has.contains(&zone.as_str()) {
            found.push(format!(
                "endpoint {endpoint_id} has no interface in {zone} (it was made with {})",
                made.zones.join(", ")
            ));
        }
    }
    for zone in &has {
        if !made.zones.iter().any(|z| z == zone) {
            found.push(format!(
                "endpoint {endpoint_id} has an interface in {zone}, which it was not made with ({})",
                made.zones.join(", ")
            ));
        }
    }
    let mut groups = endpoint.group_ids.clone();
    let mut wanted = made.groups.clone();
    groups.sort();
    wanted.sort();
    if !wanted.is_empty() && groups != wanted {
        found.push(format!(
            "the security groups of {endpoint_id} are {}, not {} (what it was made with)",
            groups.join(", "),
            wanted.join(", ")
        ));
    }
    found
}

/// A future boxed, as the validator's calls that several places make are: one copy of each
/// state machine in the binary, not one per caller (the zip's 3 MB of `make bench`).
type Boxed<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>>;

/// Reads the target's endpoint: its addresses (unless given), zones and drift.
pub fn read<'a>(ec2: &'a Ec2, target: &'a mut Target) -> Boxed<'a> {
    Box::pin(async move {
        let Some(id) = target.endpoint_id.clone() else { return Ok(()) };
        let endpoint = ec2.endpoint(&id).await?;
        fill(ec2, target, &id, endpoint.as_ref()).await
    })
}

/// Fills in the target from its endpoint `id`, already read (`None`: it does not exist): the
/// interfaces are read, then the addresses (unless given), zones and drift follow.
pub fn fill<'a>(
    ec2: &'a Ec2,
    target: &'a mut Target,
    id: &'a str,
    endpoint: Option<&'a EndpointView>,
) -> Boxed<'a> {
    Box::pin(fill_target(ec2, target, id, endpoint))
}

async fn fill_target(
    ec2: &Ec2,
    target: &mut Target,
    id: &str,
    endpoint: Option<&EndpointView>,
) -> Result<()> {
    let interfaces = match endpoint {
        Some(e) => ec2.interfaces(&e.network_interface_ids).await?,
        None => Vec::new(),
    };
    if target.expected.is_empty() {
        target.expected = interfaces
            .iter()
            .flat_map(InterfaceView::addresses)
            .filter_map(|a| a.parse().ok())
            .collect();
    }
    target.zones = endpoint.map(|e| zones(e, &interfaces)).unwrap_or_default();
    target.drift = drift(id, endpoint, &interfaces);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::DnsEntry;

    fn interface(zone: &str, ip: &str) -> InterfaceView {
        InterfaceView {
            id: format!("eni-{zone}"),
            subnet_id: format!("subnet-{zone}"),
            zone: zone.into(),
            ipv4: Some(ip.into()),
            ipv6: vec![],
        }
    }

    fn endpoint(made_with: &str) -> EndpointView {
        EndpointView {
            id: "vpce-1".into(),
            state: EndpointState::Available,
            private_dns_enabled: true,
            group_ids: vec!["sg-1".into()],
            dns_entries: vec![
                DnsEntry {
                    dns_name: "vpce-1-abc.vpce-svc-1.us-east-1.vpce.amazonaws.com".into(),
                    hosted_zone_id: "Z".into(),
                },
                DnsEntry {
                    dns_name: "vpce-1-abc-us-east-1a.vpce-svc-1.us-east-1.vpce.amazonaws.com"
                        .into(),
                    hosted_zone_id: "Z".into(),
                },
                DnsEntry {
                    dns_name: "vpce-1-abc-us-east-1b.vpce-svc-1.us-east-1.vpce.amazonaws.com"
                        .into(),
                    hosted_zone_id: "Z".into(),
                },
            ],
            tags: [(TAG_MADE_WITH.to_owned(), made_with.to_owned())].into(),
            ..EndpointView::default()
        }
    }

    const MADE: &str = "private-dns=on;zones=us-east-1a,us-east-1b;groups=sg-1";

    #[test]
    fn a_zonal_name_names_its_zone_and_the_regional_one_none() {
        assert_eq!(
            zone_of_dns_name("vpce-1-abc-us-east-1a.vpce-svc-1.us-east-1.vpce.amazonaws.com"),
            Some("us-east-1a")
        );
        assert_eq!(zone_of_dns_name("vpce-1-abc.vpce-svc-1.us-east-1.vpce.amazonaws.com"), None);
    }

    #[test]
    fn each_zone_has_its_own_name_and_its_interfaces_addresses() {
        let found = zones(
            &endpoint(MADE),
            &[interface("us-east-1a", "10.0.1.4"), interface("us-east-1b", "10.0.2.4")],
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].zone, "us-east-1b");
        assert!(found[1].dns_name.as_deref().unwrap().contains("-us-east-1b."));
        assert_eq!(found[1].addresses, ["10.0.2.4".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn drift_is_each_way_the_endpoint_left_what_it_was_made_as() {
        let both = [interface("us-east-1a", "10.0.1.4"), interface("us-east-1b", "10.0.2.4")];
        assert!(drift("vpce-1", Some(&endpoint(MADE)), &both).is_empty());
        let gone = drift("vpce-1", None, &[]);
        assert!(gone[0].contains("no longer exists"));
        let rejected = EndpointView { state: EndpointState::Rejected, ..endpoint(MADE) };
        assert!(drift("vpce-1", Some(&rejected), &both)[0].contains("the provider rejected"));
        let dns_off = EndpointView { private_dns_enabled: false, ..endpoint(MADE) };
        assert!(drift("vpce-1", Some(&dns_off), &both)[0]
            .contains("Private DNS of vpce-1 was switched off"));
        let one_zone = drift("vpce-1", Some(&endpoint(MADE)), &both[..1]);
        assert_eq!(one_zone, ["endpoint vpce-1 has no interface in us-east-1b (it was made with us-east-1a, us-east-1b)"]);
        let other_groups = EndpointView { group_ids: vec!["sg-9".into()], ..endpoint(MADE) };
        assert!(drift("vpce-1", Some(&other_groups), &both)[0].contains("are sg-9, not sg-1"));
        // Waiting for the provider is not drift; an endpoint without the tag has nothing to compare.
        let pending = EndpointView { state: EndpointState::PendingAcceptance, ..endpoint(MADE) };
        assert!(drift("vpce-1", Some(&pending), &[]).is_empty());
        let untagged =
            EndpointView { tags: Default::default(), private_dns_enabled: false, ..endpoint(MADE) };
        assert!(drift("vpce-1", Some(&untagged), &both[..1]).is_empty());
    }
}
