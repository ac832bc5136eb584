//! The decision: from the request, the spec, the target ([`super::target`]) and what was
//! observed, the calls to make and when to answer, once [`super::checks`] found nothing to
//! refuse. Pure: no AWS here, unit tested as a table.

use super::checks::{
    check_service_options, check_subnets, private_dns_wanted, select_subnets, vpc_dns_problem,
};
use super::spec::EndpointSpec;
use super::target::{Operation, Origin, Target};
use crate::ec2::{
    self, EndpointChange, EndpointState, EndpointView, InterfaceView, MadeWith, ServiceView,
    SubnetAddress, SubnetView, VpcDns, TAG_MADE_WITH,
};
use crate::error::{Error, Result};
use crate::properties::tag_changes;

/// Everything the plan reads, observed before anything is changed.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The Region the client calls.
    pub region: String,
    /// The service, looked up in its Region.
    pub service: ServiceView,
    /// The subnets of `SubnetIds`, in that order.
    pub subnets: Vec<SubnetView>,
    /// The VPC's DNS attributes, read when Private DNS is wanted.
    pub vpc_dns: Option<VpcDns>,
    /// Another live endpoint of the VPC that holds the service's private DNS name: its id and
    /// service.
    pub name_holder: Option<(String, String)>,
    /// The interfaces of the target endpoint.
    pub interfaces: Vec<InterfaceView>,
    /// The target endpoint's connection notifications: (id, topic).
    pub notifications: Vec<(String, String)>,
}

/// One call of the plan, made in order on the target endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// `CreateVpcEndpoint` with the plan's subnets.
    Create {
        /// Private DNS at creation: off while the provider has to accept (switched on after).
        private_dns_enabled: bool,
    },
    /// `ModifyVpcEndpoint`.
    Modify(EndpointChange),
    /// `CreateTags` and `DeleteTags`.
    Tag {
        /// Tags to write.
        set: Vec<(String, String)>,
        /// Tag keys to remove.
        unset: Vec<String>,
    },
    /// Connection notifications: remove these, then add one for the topic.
    Notify {
        /// Notification ids to remove.
        remove: Vec<String>,
        /// The topic to notify, when it has no notification yet.
        add: Option<String>,
    },
}

/// When CloudFormation is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Now.
    Now,
    /// Now, and a background loop switches Private DNS on once the provider accepts.
    NowAndWatch,
    /// Later, by the acceptance loop, once the provider accepts.
    Later,
}

/// The plan for a Create or an Update.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The endpoint acted on.
    pub target: Target,
    /// The subnets the endpoint ends up in.
    pub subnets: Vec<String>,
    /// The fixed addresses among them.
    pub subnet_addresses: Vec<SubnetAddress>,
    /// Subnets left out by `SkipUnsupportedZones`.
    pub skipped_subnets: Vec<String>,
    /// Whether Private DNS ends up on.
    pub private_dns: bool,
    /// The calls, in order.
    pub calls: Vec<Call>,
    /// When to answer, judged from the state the endpoint is expected in after the calls; the
    /// apply step judges again with [`answer_for`] from the state it sees.
    pub answer: Answer,
}

/// When to answer for an endpoint in `state`: only an endpoint waiting for the provider is
/// handed to the acceptance loop, which answers later while CloudFormation waits on a Create
/// (with `WaitForAcceptance`), and otherwise only switches Private DNS on after acceptance.
pub fn answer_for(
    operation: Operation,
    wait_for_acceptance: bool,
    private_dns: bool,
    state: &EndpointState,
) -> Answer {
    match (state, operation) {
        (EndpointState::PendingAcceptance, Operation::Create) if wait_for_acceptance => {
            Answer::Later
        }
        (EndpointState::PendingAcceptance, _) if private_dns => Answer::NowAndWatch,
        _ => Answer::Now,
    }
}

/// Plans a Create or an Update of `target`. `claim_tags`: the tags that claim a hand-made
/// endpoint for this resource ([`ec2::claim_tags`]).
pub fn plan(
    operation: Operation,
    spec: &EndpointSpec,
    target: Target,
    observed: &Observed,
    claim_tags: &[(String, String)],
) -> Result<Plan> {
    let service = &observed.service;
    check_service_options(spec, service)?;
    let (subnets, skipped_subnets) =
        select_subnets(spec, service, &observed.subnets, &observed.region)?;
    check_subnets(spec, &observed.subnets, &subnets)?;
    let subnet_addresses: Vec<SubnetAddress> =
        spec.subnet_addresses.iter().filter(|a| subnets.contains(&a.subnet_id)).cloned().collect();
    let private_dns = private_dns_wanted(spec, service)?;
    if private_dns {
        if let Some(problem) = observed.vpc_dns.and_then(|dns| vpc_dns_problem(&spec.vpc_id, dns)) {
            return Err(problem);
        }
        if let Some((holder, holder_service)) = &observed.name_holder {
            return Err(Error::PrivateDnsConflict {
                vpc: spec.vpc_id.clone(),
                detail: format!(
                    "{holder} of {holder_service} holds {}",
                    service.private_dns_name.as_deref().unwrap_or_default()
                ),
            });
        }
    } else if spec.dns_options.only_inbound_resolver == Some(true) {
        return Err(Error::property(
            "DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint",
            "needs Private DNS, which this endpoint will not have",
        ));
    }
    let mut calls = Vec::new();
    let expected_state = match &target {
        Target::New { .. } => {
            calls.push(Call::Create {
                private_dns_enabled: private_dns && !service.acceptance_required,
            });
            if let Some(topic) = &spec.connection_topic {
                calls.push(Call::Notify { remove: vec![], add: Some(topic.clone()) });
            }
            if service.acceptance_required {
                EndpointState::PendingAcceptance
            } else {
                EndpointState::Available
            }
        }
        Target::Endpoint { endpoint, origin } => {
            // An endpoint taken over is first tagged as this resource's, with those tags alone:
            // the role may change only endpoints so tagged, and may tag others only that way.
            if *origin == Origin::Adopted {
                let claim: Vec<(String, String)> = claim_tags
                    .iter()
                    .filter(|(k, v)| endpoint.tags.get(k) != Some(v))
                    .cloned()
                    .collect();
                if !claim.is_empty() {
                    calls.push(Call::Tag { set: claim, unset: vec![] });
                }
            }
            let old_policy_given =
                matches!(operation, Operation::Update { old_policy_given: true, .. });
            let change = endpoint_change(
                endpoint,
                spec,
                &subnets,
                &subnet_addresses,
                &observed.interfaces,
                private_dns,
                old_policy_given,
            );
            if !change.is_empty() {
                calls.push(Call::Modify(change));
            }
            let made = made_with(spec, &observed.subnets, &subnets, private_dns).to_tag_value();
            calls.extend(tag_call(&endpoint.tags, spec, made));
            let old_topic_given =
                matches!(operation, Operation::Update { old_topic_given: true, .. });
            if spec.connection_topic.is_some() || old_topic_given {
                let wanted = spec.connection_topic.as_deref();
                // A hand-made endpoint's own notifications are the user's: a takeover adds its
                // topic beside them (and removes only that if it fails).
                let remove: Vec<String> = observed
                    .notifications
                    .iter()
                    .filter(|(_, topic)| Some(topic.as_str()) != wanted)
                    .filter(|_| *origin != Origin::Adopted)
                    .map(|(id, _)| id.clone())
                    .collect();
                let add = wanted
                    .filter(|w| !observed.notifications.iter().any(|(_, have)| have == w))
                    .map(str::to_owned);
                if !remove.is_empty() || add.is_some() {
                    calls.push(Call::Notify { remove, add });
                }
            }
            endpoint.state.clone()
        }
    };
    let answer = answer_for(operation, spec.wait_for_acceptance, private_dns, &expected_state);
    Ok(Plan { target, subnets, subnet_addresses, skipped_subnets, private_dns, calls, answer })
}

/// The tags an endpoint should have and doesn't (or has and shouldn't): the user's, what it is
/// made as (`made`, [`TAG_MADE_WITH`]) and its `DnsNames` ([`ec2::TAG_DNS_NAMES`]).
fn tag_call(
    tags: &std::collections::BTreeMap<String, String>,
    spec: &EndpointSpec,
    made: String,
) -> Option<Call> {
    let (mut set, unset) = tag_changes(tags, &spec.tags, ec2::is_managed_tag);
    if tags.get(TAG_MADE_WITH) != Some(&made) {
        set.push((TAG_MADE_WITH.to_owned(), made));
    }
    // Names given are tagged before their zones are made; without names, the tag is removed
    // only once the zones are (the answer step does it).
    let names = spec.dns_names.join(" ");
    if !names.is_empty() && tags.get(ec2::TAG_DNS_NAMES) != Some(&names) {
        set.push((ec2::TAG_DNS_NAMES.to_owned(), names));
    }
    (!set.is_empty() || !unset.is_empty()).then_some(Call::Tag { set, unset })
}

/// What the endpoint is made as, for its [`TAG_MADE_WITH`] tag: Private DNS, the zones of
/// `subnets`, the security groups asked for.
pub fn made_with(
    spec: &EndpointSpec,
    observed_subnets: &[SubnetView],
    subnets: &[String],
    private_dns: bool,
) -> MadeWith {
    MadeWith {
        private_dns,
        zones: observed_subnets
            .iter()
            .filter(|s| subnets.contains(&s.id))
            .map(|s| s.zone.clone())
            .collect(),
        groups: spec.group_ids.clone(),
    }
}

/// The in-place change from the observed endpoint to the spec, in `subnets` with
/// `subnet_addresses`. `old_policy_given`: the previous properties had a policy (removing it
/// restores the default one).
pub fn endpoint_change(
    current: &EndpointView,
    spec: &EndpointSpec,
    subnets: &[String],
    subnet_addresses: &[SubnetAddress],
    interfaces: &[InterfaceView],
    private_dns: bool,
    old_policy_given: bool,
) -> EndpointChange {
    let missing = |have: &[String], want: &[String]| -> Vec<String> {
        want.iter().filter(|w| !have.contains(w)).cloned().collect()
    };
    let add_subnets = missing(&current.subnet_ids, subnets);
    // A fixed address is sent for a subnet being added, or to move an interface whose address
    // differs (AWS replaces that interface).
    let moved = |a: &&SubnetAddress| {
        if add_subnets.contains(&a.subnet_id) {
            return true;
        }
        let Some(interface) = interfaces.iter().find(|i| i.subnet_id == a.subnet_id) else {
            return false;
        };
        a.ipv4.as_ref().is_some_and(|ip| interface.ipv4.as_ref() != Some(ip))
            || a.ipv6.as_ref().is_some_and(|ip| !interface.ipv6.contains(ip))
    };
    let (add_groups, remove_groups) = if spec.group_ids.is_empty() {
        // Without SecurityGroupIds the endpoint keeps whatever group it has (AWS gave it the
        // VPC's default group at creation): an endpoint can't be left with none.
        (vec![], vec![])
    } else {
        (missing(&current.group_ids, &spec.group_ids), missing(&spec.group_ids, &current.group_ids))
    };
    let same_policy = |a: &str, b: &str| {
        serde_json::from_str::<serde_json::Value>(a).ok()
            == serde_json::from_str::<serde_json::Value>(b).ok()
    };
    let policy = spec
        .policy
        .clone()
        .filter(|p| !current.policy.as_deref().is_some_and(|c| same_policy(c, p)));
    // Private DNS waits for acceptance: switching it on before the endpoint works is an outage.
    let private_dns_enabled = (current.state != EndpointState::PendingAcceptance
        && current.private_dns_enabled != private_dns)
        .then_some(private_dns);
    let ip_address_type = spec
        .ip_address_type
        .clone()
        .filter(|wanted| !wanted.eq_ignore_ascii_case(current.ip_address_type()));
    let have = &current.dns_options;
    let wanted = &spec.dns_options;
    let dns_differs =
        wanted.record_ip_type.as_ref().is_some_and(|t| have.record_ip_type.as_ref() != Some(t))
            || wanted.only_inbound_resolver.is_some_and(|o| have.only_inbound_resolver != Some(o));
    EndpointChange {
        remove_subnets: missing(subnets, &current.subnet_ids),
        subnet_addresses: subnet_addresses.iter().filter(moved).cloned().collect(),
        add_subnets,
        add_groups,
        remove_groups,
        reset_policy: spec.policy.is_none() && old_policy_given,
        policy,
        private_dns_enabled,
        ip_address_type,
        dns_options: dns_differs.then(|| wanted.clone()),
    }
}

/// The in-place change that undoes `change`, made on the endpoint `found` (whose interfaces
/// were `interfaces`): what a failed takeover gives back. Subnets removed come back with the
/// addresses their interfaces had, interfaces moved go back to theirs, and every other setting
/// the change touched returns to what `found` had.
pub fn undo_change(
    found: &EndpointView,
    interfaces: &[InterfaceView],
    change: &EndpointChange,
) -> EndpointChange {
    let moved: Vec<&String> = change
        .subnet_addresses
        .iter()
        .map(|a| &a.subnet_id)
        .filter(|s| !change.add_subnets.contains(s))
        .collect();
    let subnet_addresses = interfaces
        .iter()
        .filter(|i| change.remove_subnets.contains(&i.subnet_id) || moved.contains(&&i.subnet_id))
        .map(|i| SubnetAddress {
            subnet_id: i.subnet_id.clone(),
            ipv4: i.ipv4.clone(),
            ipv6: i.ipv6.first().cloned(),
        })
        .collect();
    let policy_changed = change.policy.is_some() || change.reset_policy;
    EndpointChange {
        add_subnets: change.remove_subnets.clone(),
        remove_subnets: change.add_subnets.clone(),
        subnet_addresses,
        add_groups: change.remove_groups.clone(),
        remove_groups: change.add_groups.clone(),
        policy: found.policy.clone().filter(|_| policy_changed),
        reset_policy: policy_changed && found.policy.is_none(),
        private_dns_enabled: change.private_dns_enabled.map(|_| found.private_dns_enabled),
        ip_address_type: change
            .ip_address_type
            .as_ref()
            .map(|_| found.ip_address_type().to_owned()),
        dns_options: change.dns_options.as_ref().map(|_| found.dns_options.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::checks::{
        name_holder_candidates, remote_access_zone_ids, remote_zone_refusal,
    };
    use super::super::target::{choose_target, Found};
    use super::*;
    use serde_json::{json, Value};
    use std::collections::BTreeSet;

    #[test]
    fn a_takeovers_change_is_undone_to_what_was_found() {
        let found = EndpointView {
            subnet_ids: vec!["subnet-a".into(), "subnet-c".into()],
            group_ids: vec!["sg-hand".into()],
            policy: Some(r#"{"Statement":[]}"#.into()),
            private_dns_enabled: true,
            ip_address_type: Some("ipv4".into()),
            ..EndpointView::default()
        };
        let interfaces = [
            InterfaceView {
                subnet_id: "subnet-a".into(),
                ipv4: Some("10.0.1.9".into()),
                ..InterfaceView::default()
            },
            InterfaceView {
                subnet_id: "subnet-c".into(),
                ipv4: Some("10.0.3.7".into()),
                ..InterfaceView::default()
            },
        ];
        let change = EndpointChange {
            add_subnets: vec!["subnet-b".into()],
            remove_subnets: vec!["subnet-c".into()],
            subnet_addresses: vec![
                SubnetAddress {
                    subnet_id: "subnet-b".into(),
                    ipv4: Some("10.0.2.5".into()),
                    ipv6: None,
                },
                SubnetAddress {
                    subnet_id: "subnet-a".into(),
                    ipv4: Some("10.0.1.5".into()),
                    ipv6: None,
                },
            ],
            add_groups: vec!["sg-app".into()],
            remove_groups: vec!["sg-hand".into()],
            policy: Some(r#"{"Statement":[{"Effect":"Deny"}]}"#.into()),
            ip_address_type: Some("dualstack".into()),
            ..EndpointChange::default()
        };
        let undo = undo_change(&found, &interfaces, &change);
        assert_eq!(undo.add_subnets, ["subnet-c"]);
        assert_eq!(undo.remove_subnets, ["subnet-b"]);
        // subnet-c comes back at its old address, and subnet-a's moved interface goes back.
        assert_eq!(
            undo.subnet_addresses,
            [
                SubnetAddress {
                    subnet_id: "subnet-a".into(),
                    ipv4: Some("10.0.1.9".into()),
                    ipv6: None
                },
                SubnetAddress {
                    subnet_id: "subnet-c".into(),
                    ipv4: Some("10.0.3.7".into()),
                    ipv6: None
                },
            ]
        );
        assert_eq!(
            (undo.add_groups, undo.remove_groups),
            (vec!["sg-hand".into()], vec!["sg-app".into()])
        );
        assert_eq!(undo.policy, found.policy);
        assert!(!undo.reset_policy);
        assert_eq!(undo.ip_address_type.as_deref(), Some("ipv4"));
        assert_eq!(undo.private_dns_enabled, None);
        // Nothing changed, nothing to undo.
        assert!(undo_change(&found, &interfaces, &EndpointChange::default()).is_empty());
    }

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1";
    const LOGICAL: &str = "Endpoint";
    const SERVICE: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";

    fn props(extra: Value) -> Value {
        let mut props = json!({
            "ServiceName": SERVICE,
            "VpcId": "vpc-1",
            "SubnetIds": ["subnet-a", "subnet-b"]
        });
        for (k, v) in extra.as_object().unwrap() {
            props[k] = v.clone();
        }
        props
    }

    fn spec(extra: Value) -> EndpointSpec {
        EndpointSpec::parse(&props(extra)).unwrap()
    }

    fn service() -> ServiceView {
        ServiceView {
            name: SERVICE.into(),
            zones: vec!["us-east-1a".into(), "us-east-1b".into()],
            acceptance_required: true,
            private_dns_name: Some("api.partner.com".into()),
            private_dns_verification: Some("verified".into()),
            ..ServiceView::default()
        }
    }

    fn subnet(id: &str, zone: char) -> SubnetView {
        let n = zone as u8 - b'a' + 1;
        SubnetView {
            id: id.into(),
            zone: format!("us-east-1{zone}"),
            zone_id: format!("use1-az{n}"),
            ipv4_cidr: Some(format!("10.0.{n}.0/24")),
            ipv6_cidrs: vec![],
        }
    }

    fn observed() -> Observed {
        Observed {
            region: "us-east-1".into(),
            service: service(),
            subnets: vec![subnet("subnet-a", 'a'), subnet("subnet-b", 'b')],
            vpc_dns: Some(VpcDns { support: true, hostnames: true }),
            ..Observed::default()
        }
    }

    fn mine() -> BTreeMap<String, String> {
        ec2::owner_tags(STACK, LOGICAL).into_iter().collect()
    }

    /// The tags of an endpoint this resource made with the defaults (in us-east-1a and b,
    /// Private DNS on).
    fn made_by_this_resource() -> BTreeMap<String, String> {
        let mut tags = mine();
        tags.insert(TAG_MADE_WITH.into(), "private-dns=on;zones=us-east-1a,us-east-1b".into());
        tags
    }

    fn endpoint(state: EndpointState) -> EndpointView {
        EndpointView {
            id: "vpce-1".into(),
            state,
            service_name: SERVICE.into(),
            vpc_id: "vpc-1".into(),
            subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
            group_ids: vec!["sg-1".into()],
            private_dns_enabled: true,
            policy: Some(r#"{"Statement": []}"#.into()),
            tags: made_by_this_resource(),
            ..EndpointView::default()
        }
    }

    fn existing(endpoint: EndpointView, origin: Origin) -> Target {
        Target::Endpoint { endpoint: Box::new(endpoint), origin }
    }

    fn plan_of(
        operation: Operation,
        spec: &EndpointSpec,
        target: Target,
        observed: &Observed,
    ) -> Result<Plan> {
        plan(operation, spec, target, observed, &ec2::claim_tags(STACK, LOGICAL, "r-1"))
    }

    const UPDATE: Operation = Operation::Update { old_policy_given: false, old_topic_given: false };

    use std::collections::BTreeMap;

    /// The table: request, spec, what exists -> the calls and when to answer.
    #[test]
    #[allow(clippy::too_many_lines)] // A table, one row per case: longer is more cases.
    fn plans_as_a_table() {
        struct Row {
            name: &'static str,
            operation: Operation,
            spec: Value,
            target: Target,
            service: ServiceView,
            calls: Vec<Call>,
            answer: Answer,
        }
        let change = |c: EndpointChange| Call::Modify(c);
        let no_acceptance = ServiceView { acceptance_required: false, ..service() };
        let rows = vec![
            Row {
                name: "a Create of a service that accepts waits for the provider, Private DNS off until then",
                operation: Operation::Create,
                spec: json!({}),
                target: Target::New { replacing: false },
                service: service(),
                calls: vec![Call::Create { private_dns_enabled: false }],
                answer: Answer::Later,
            },
            Row {
                name: "a Create without the wait answers now and watches for acceptance",
                operation: Operation::Create,
                spec: json!({"WaitForAcceptance": "false"}),
                target: Target::New { replacing: false },
                service: service(),
                calls: vec![Call::Create { private_dns_enabled: false }],
                answer: Answer::NowAndWatch,
            },
            Row {
                name: "a Create of a service without acceptance has Private DNS from the start",
                operation: Operation::Create,
                spec: json!({}),
                target: Target::New { replacing: false },
                service: no_acceptance.clone(),
                calls: vec![Call::Create { private_dns_enabled: true }],
                answer: Answer::Now,
            },
            Row {
                name: "a Create with a topic adds the notification after the endpoint",
                operation: Operation::Create,
                spec: json!({"ConnectionNotificationArn": "arn:aws:sns:us-east-1:1:t", "PrivateDnsEnabled": "false"}),
                target: Target::New { replacing: false },
                service: no_acceptance.clone(),
                calls: vec![
                    Call::Create { private_dns_enabled: false },
                    Call::Notify { remove: vec![], add: Some("arn:aws:sns:us-east-1:1:t".into()) },
                ],
                answer: Answer::Now,
            },
            Row {
                name: "a redelivered Create keeps the endpoint an earlier delivery made",
                operation: Operation::Create,
                spec: json!({"PolicyDocument": {"Statement": []}}),
                target: existing(endpoint(EndpointState::PendingAcceptance), Origin::MadeBefore),
                service: service(),
                calls: vec![],
                answer: Answer::Later,
            },
            Row {
                name: "an Update that matches changes nothing",
                operation: UPDATE,
                spec: json!({"PolicyDocument": "{\"Statement\":[]}"}),
                target: existing(endpoint(EndpointState::Available), Origin::Current),
                service: service(),
                calls: vec![],
                answer: Answer::Now,
            },
            Row {
                name: "subnets, groups, policy and Private DNS change in place",
                operation: UPDATE,
                spec: json!({"SubnetIds": ["subnet-b"], "SecurityGroupIds": ["sg-2"], "PrivateDnsEnabled": "false", "PolicyDocument": {"Statement": [{"Effect": "Allow"}]}}),
                target: existing(endpoint(EndpointState::Available), Origin::Current),
                service: service(),
                calls: vec![
                    change(EndpointChange {
                        remove_subnets: vec!["subnet-a".into()],
                        add_groups: vec!["sg-2".into()],
                        remove_groups: vec!["sg-1".into()],
                        policy: Some(r#"{"Statement":[{"Effect":"Allow"}]}"#.into()),
                        private_dns_enabled: Some(false),
                        ..EndpointChange::default()
                    }),
                    Call::Tag {
                        set: vec![(
                            TAG_MADE_WITH.into(),
                            "private-dns=off;zones=us-east-1b;groups=sg-2".into(),
                        )],
                        unset: vec![],
                    },
                ],
                answer: Answer::Now,
            },
            Row {
                name: "the address type and DNS options change in place",
                operation: UPDATE,
                spec: json!({"IpAddressType": "dualstack", "DnsOptions": {"DnsRecordIpType": "dualstack"}}),
                target: existing(endpoint(EndpointState::Available), Origin::Current),
                service: ServiceView { ip_address_types: vec!["ipv4".into(), "ipv6".into()], ..service() },
                calls: vec![change(EndpointChange {
                    ip_address_type: Some("dualstack".into()),
                    dns_options: Some(DnsOptionsOf::record("dualstack")),
                    ..EndpointChange::default()
                })],
                answer: Answer::Now,
            },
            Row {
                name: "a removed policy is reset to the default",
                operation: Operation::Update { old_policy_given: true, old_topic_given: false },
                spec: json!({}),
                target: existing(endpoint(EndpointState::Available), Origin::Current),
                service: service(),
                calls: vec![change(EndpointChange { reset_policy: true, ..EndpointChange::default() })],
                answer: Answer::Now,
            },
            Row {
                name: "Private DNS is not switched on while acceptance is pending; a loop does it",
                operation: UPDATE,
                spec: json!({"PolicyDocument": {"Statement": []}}),
                target: existing(
                    EndpointView { private_dns_enabled: false, ..endpoint(EndpointState::PendingAcceptance) },
                    Origin::Current,
                ),
                service: service(),
                calls: vec![],
                answer: Answer::NowAndWatch,
            },
            Row {
                name: "a replacement is a new endpoint, answered now",
                operation: UPDATE,
                spec: json!({}),
                target: Target::New { replacing: true },
                service: no_acceptance.clone(),
                calls: vec![Call::Create { private_dns_enabled: true }],
                answer: Answer::Now,
            },
            Row {
                name: "a hand-made endpoint is tagged as this resource's and keeps its name",
                operation: Operation::Create,
                spec: json!({"PolicyDocument": {"Statement": []}, "Tags": [{"Key": "team", "Value": "net"}]}),
                target: existing(
                    EndpointView { tags: BTreeMap::new(), ..endpoint(EndpointState::Available) },
                    Origin::Adopted,
                ),
                service: service(),
                calls: vec![
                    Call::Tag { set: ec2::claim_tags(STACK, LOGICAL, "r-1"), unset: vec![] },
                    Call::Tag {
                        set: vec![
                            ("team".into(), "net".into()),
                            (TAG_MADE_WITH.into(), "private-dns=on;zones=us-east-1a,us-east-1b".into()),
                        ],
                        unset: vec![],
                    },
                ],
                answer: Answer::Now,
            },
            Row {
                name: "a dropped topic removes the notification",
                operation: Operation::Update { old_policy_given: false, old_topic_given: true },
                spec: json!({"PolicyDocument": {"Statement": []}}),
                target: existing(endpoint(EndpointState::Available), Origin::Current),
                service: service(),
                calls: vec![Call::Notify { remove: vec!["vpce-nfn-1".into()], add: None }],
                answer: Answer::Now,
            },
        ];
        for row in rows {
            let spec = spec(row.spec);
            // Dual-stack subnets: every address type is possible.
            let subnets = observed()
                .subnets
                .into_iter()
                .filter(|s| spec.subnet_ids.contains(&s.id))
                .map(|s| SubnetView {
                    ipv6_cidrs: vec![format!("2600:1f18:0:{}::/64", s.id.len())],
                    ..s
                })
                .collect();
            let observed = Observed {
                service: row.service,
                subnets,
                notifications: vec![("vpce-nfn-1".into(), "arn:aws:sns:us-east-1:1:old".into())],
                ..observed()
            };
            let plan = plan_of(row.operation, &spec, row.target, &observed)
                .unwrap_or_else(|e| panic!("{}: {e}", row.name));
            assert_eq!(plan.calls, row.calls, "{}", row.name);
            assert_eq!(plan.answer, row.answer, "{}", row.name);
        }
    }

    struct DnsOptionsOf;
    impl DnsOptionsOf {
        fn record(kind: &str) -> crate::ec2::DnsOptions {
            crate::ec2::DnsOptions {
                record_ip_type: Some(kind.into()),
                only_inbound_resolver: None,
            }
        }
    }

    /// The table of refusals: each is named before anything is made.
    #[test]
    fn refuses_before_anything_is_made_as_a_table() {
        let v6 = |s: SubnetView| SubnetView { ipv6_cidrs: vec!["2600:1f18::/64".into()], ..s };
        let cases: Vec<(&str, Value, ServiceView, Vec<SubnetView>, &str)> = vec![
            (
                "policy",
                json!({"PolicyDocument": {"Statement": []}}),
                ServiceView { policy_supported: Some(false), ..service() },
                observed().subnets,
                "PolicyDocument: endpoint service",
            ),
            (
                "address type",
                json!({"IpAddressType": "dualstack"}),
                service(),
                observed().subnets,
                "IpAddressType: dualstack is not supported by endpoint service",
            ),
            (
                "no ipv6 block",
                json!({"IpAddressType": "ipv6"}),
                ServiceView { ip_address_types: vec!["ipv6".into()], ..service() },
                vec![v6(subnet("subnet-a", 'a')), subnet("subnet-b", 'b')],
                "SubnetIds: subnet-b has no IPv6 block",
            ),
            (
                "zone",
                json!({}),
                service(),
                vec![subnet("subnet-a", 'a'), subnet("subnet-b", 'c')],
                "Subnet subnet-b is in us-east-1c",
            ),
            (
                "shared zone",
                json!({}),
                service(),
                vec![
                    subnet("subnet-a", 'a'),
                    SubnetView { id: "subnet-b".into(), ..subnet("x", 'a') },
                ],
                "same Availability Zone",
            ),
            (
                "address outside",
                json!({"SubnetConfigurations": [{"SubnetId": "subnet-a", "Ipv4": "10.9.0.10"}]}),
                service(),
                observed().subnets,
                "SubnetConfigurations: 10.9.0.10 for subnet-a is outside the subnet (10.0.1.0/24)",
            ),
            (
                "reserved address",
                json!({"SubnetConfigurations": [{"SubnetId": "subnet-a", "Ipv4": "10.0.1.3"}]}),
                service(),
                observed().subnets,
                "is one of the addresses AWS reserves",
            ),
            (
                "unverified name",
                json!({"PrivateDnsEnabled": "true"}),
                ServiceView {
                    private_dns_verification: Some("pendingVerification".into()),
                    ..service()
                },
                observed().subnets,
                "pendingVerification",
            ),
            (
                "inbound resolver without private dns",
                json!({"DnsOptions": {"PrivateDnsOnlyForInboundResolverEndpoint": "true"}}),
                ServiceView { private_dns_name: None, ..service() },
                observed().subnets,
                "DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint",
            ),
        ];
        for (name, extra, service, subnets, said) in cases {
            let observed = Observed { service, subnets, ..observed() };
            let reason = plan_of(
                Operation::Create,
                &spec(extra),
                Target::New { replacing: false },
                &observed,
            )
            .map(|p| format!("planned {:?}", p.calls))
            .unwrap_or_else(|e| e.to_string());
            assert!(reason.contains(said), "{name}: {reason}");
        }
    }

    #[test]
    fn skip_unsupported_zones_keeps_the_offered_subnets_and_names_the_others() {
        let observed = Observed {
            subnets: vec![subnet("subnet-a", 'a'), subnet("subnet-c", 'c')],
            ..observed()
        };
        let spec =
            spec(json!({"SubnetIds": ["subnet-a", "subnet-c"], "SkipUnsupportedZones": "true"}));
        let plan =
            plan_of(Operation::Create, &spec, Target::New { replacing: false }, &observed).unwrap();
        assert_eq!(plan.subnets, ["subnet-a"]);
        assert_eq!(plan.skipped_subnets, ["subnet-c"]);
        let only_c = Observed { subnets: vec![subnet("subnet-c", 'c')], ..observed };
        let spec = EndpointSpec { subnet_ids: vec!["subnet-c".into()], ..spec };
        let reason = plan_of(Operation::Create, &spec, Target::New { replacing: false }, &only_c)
            .unwrap_err()
            .to_string();
        assert!(reason.contains("SubnetIds: none of them is in a zone"), "{reason}");
    }

    #[test]
    fn a_remote_service_is_checked_by_the_zone_ids_its_refusal_names() {
        let remote = ServiceView { region: Some("us-west-2".into()), zones: vec![], ..service() };
        let spec_strict = spec(json!({"ServiceRegion": "us-west-2"}));
        let subnets = observed().subnets;
        // Nothing to check locally: the service lists none of this Region's zones.
        let (kept, _) = select_subnets(&spec_strict, &remote, &subnets, "us-east-1").unwrap();
        assert_eq!(kept, ["subnet-a", "subnet-b"]);
        let message = "Only the following availability zones are supported for remote access: use1-az1, use1-az6.";
        let allowed = remote_access_zone_ids(message).unwrap();
        assert_eq!(allowed, ["use1-az1", "use1-az6"]);
        let reason =
            remote_zone_refusal(false, &remote, &subnets, &allowed).unwrap_err().to_string();
        assert!(reason.contains("subnet-b (use1-az2)"), "{reason}");
        assert!(reason.contains("use1-az1, use1-az6"), "{reason}");
        let (kept, skipped) = remote_zone_refusal(true, &remote, &subnets, &allowed).unwrap();
        assert_eq!((kept, skipped), (vec!["subnet-a".to_owned()], vec!["subnet-b".to_owned()]));
        assert_eq!(
            remote_access_zone_ids(
                "The VPC endpoint service does not support the availability zone"
            ),
            None
        );
    }

    #[test]
    fn a_fixed_address_moves_only_an_interface_whose_address_differs() {
        let spec = spec(
            json!({"SubnetIds": ["subnet-a", "subnet-b", "subnet-c"], "SubnetConfigurations": [
                {"SubnetId": "subnet-a", "Ipv4": "10.0.1.10"},
                {"SubnetId": "subnet-b", "Ipv4": "10.0.2.20"},
                {"SubnetId": "subnet-c", "Ipv4": "10.0.3.30"}
            ]}),
        );
        let interfaces = vec![
            InterfaceView {
                subnet_id: "subnet-a".into(),
                ipv4: Some("10.0.1.10".into()),
                ..InterfaceView::default()
            },
            InterfaceView {
                subnet_id: "subnet-b".into(),
                ipv4: Some("10.0.2.99".into()),
                ..InterfaceView::default()
            },
        ];
        let change = endpoint_change(
            &endpoint(EndpointState::Available),
            &spec,
            &spec.subnet_ids,
            &spec.subnet_addresses,
            &interfaces,
            true,
            false,
        );
        assert_eq!(change.add_subnets, ["subnet-c"]);
        let moved: Vec<&str> =
            change.subnet_addresses.iter().map(|a| a.subnet_id.as_str()).collect();
        assert_eq!(moved, ["subnet-b", "subnet-c"]);
    }

    #[test]
    fn the_target_is_the_current_endpoint_an_earlier_one_or_a_new_one() {
        let found = |current: Option<EndpointView>, made_before: Vec<EndpointView>| Found {
            region: "us-east-1".into(),
            current,
            made_before,
            ..Found::default()
        };
        let target = |op, spec: &EndpointSpec, found: &Found| {
            choose_target(op, spec, found, STACK, LOGICAL).map(|t| match t {
                Target::Endpoint { endpoint, origin } => format!("{} {origin:?}", endpoint.id),
                Target::New { replacing } => format!("new replacing={replacing}"),
            })
        };
        let same = spec(json!({}));
        let live = endpoint(EndpointState::Available);
        assert_eq!(
            target(Operation::Create, &same, &found(None, vec![])).unwrap(),
            "new replacing=false"
        );
        assert_eq!(
            target(Operation::Create, &same, &found(None, vec![live.clone()])).unwrap(),
            "vpce-1 MadeBefore"
        );
        let rejected = endpoint(EndpointState::Rejected);
        assert_eq!(
            target(Operation::Create, &same, &found(None, vec![rejected])).unwrap(),
            "new replacing=false"
        );
        assert_eq!(
            target(UPDATE, &same, &found(Some(live.clone()), vec![])).unwrap(),
            "vpce-1 Current"
        );
        assert_eq!(target(UPDATE, &same, &found(None, vec![])).unwrap(), "new replacing=true");
        // ServiceName, VpcId and ServiceRegion need a new endpoint; IpAddressType does not.
        for extra in [
            json!({"VpcId": "vpc-2"}),
            json!({"ServiceRegion": "us-west-2"}),
            json!({"ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-other"}),
        ] {
            let other = spec(extra.clone());
            assert_eq!(
                target(UPDATE, &other, &found(Some(live.clone()), vec![live.clone()])).unwrap(),
                "new replacing=true",
                "{extra}"
            );
        }
        let dualstack = spec(json!({"IpAddressType": "dualstack"}));
        assert_eq!(
            target(UPDATE, &dualstack, &found(Some(live.clone()), vec![])).unwrap(),
            "vpce-1 Current"
        );
        // A rollback returns to the endpoint the replacement replaced.
        let new_one = EndpointView { id: "vpce-2".into(), vpc_id: "vpc-2".into(), ..live.clone() };
        assert_eq!(
            target(UPDATE, &same, &found(Some(new_one), vec![live.clone()])).unwrap(),
            "vpce-1 MadeBefore"
        );
        // Another resource's endpoint is never acted on.
        let foreign = EndpointView { tags: BTreeMap::new(), ..live };
        assert!(matches!(
            choose_target(UPDATE, &same, &found(Some(foreign), vec![]), STACK, LOGICAL),
            Err(Error::NotOwned { .. })
        ));
    }

    #[test]
    fn a_hand_made_endpoint_is_taken_over_only_if_it_is_what_is_asked_and_no_ones() {
        let spec = spec(json!({"ExistingVpcEndpointId": "vpce-1"}));
        let found = |existing: Option<EndpointView>| Found {
            region: "us-east-1".into(),
            existing,
            ..Found::default()
        };
        let hand_made =
            EndpointView { tags: BTreeMap::new(), ..endpoint(EndpointState::Available) };
        let chosen = choose_target(
            Operation::Create,
            &spec,
            &found(Some(hand_made.clone())),
            STACK,
            LOGICAL,
        )
        .unwrap();
        assert!(matches!(chosen, Target::Endpoint { origin: Origin::Adopted, .. }));
        let elsewhere = EndpointView { vpc_id: "vpc-9".into(), ..hand_made.clone() };
        let reason =
            choose_target(Operation::Create, &spec, &found(Some(elsewhere)), STACK, LOGICAL)
                .unwrap_err()
                .to_string();
        assert!(
            reason.contains(
                "ExistingVpcEndpointId: vpce-1 can't be taken over: its VpcId is vpc-9, not vpc-1"
            ),
            "{reason}"
        );
        let reason = choose_target(Operation::Create, &spec, &found(None), STACK, LOGICAL)
            .unwrap_err()
            .to_string();
        assert!(reason.contains("vpce-1 does not exist"), "{reason}");
        let others: BTreeMap<String, String> =
            ec2::owner_tags("other-stack", LOGICAL).into_iter().collect();
        let taken = EndpointView { tags: others, ..hand_made };
        assert!(matches!(
            choose_target(Operation::Create, &spec, &found(Some(taken)), STACK, LOGICAL),
            Err(Error::NotOwned { .. })
        ));
    }

    #[test]
    fn private_dns_needs_both_vpc_dns_attributes_and_says_how_to_turn_them_on() {
        let on = VpcDns { support: true, hostnames: true };
        assert!(vpc_dns_problem("vpc-1", on).is_none());
        let no_hostnames = vpc_dns_problem("vpc-1", VpcDns { hostnames: false, ..on }).unwrap();
        assert!(no_hostnames.to_string().contains(
            "Private DNS needs enableDnsHostnames on vpc-1, which it has off: turn it on (aws ec2 modify-vpc-attribute --vpc-id vpc-1 --enable-dns-hostnames)"
        ), "{no_hostnames}");
        let neither =
            vpc_dns_problem("vpc-1", VpcDns { support: false, hostnames: false }).unwrap();
        assert!(
            neither.to_string().contains("enableDnsSupport and enableDnsHostnames"),
            "{neither}"
        );
    }

    #[test]
    fn only_live_foreign_endpoints_with_private_dns_can_hold_the_name() {
        let view = |id: &str, state: &str, private_dns: bool| EndpointView {
            id: id.into(),
            state: EndpointState::parse(state),
            private_dns_enabled: private_dns,
            ..EndpointView::default()
        };
        let endpoints = vec![
            view("vpce-holder", "available", true),
            view("vpce-pending", "pendingAcceptance", true),
            view("vpce-off", "available", false),
            view("vpce-deleted", "deleted", true),
            view("vpce-rejected", "rejected", true),
            view("vpce-updated", "available", true),
            EndpointView { tags: mine(), ..view("vpce-mine", "available", true) },
        ];
        let updating: BTreeSet<String> = ["vpce-updated".to_owned()].into();
        let ids: Vec<&str> = name_holder_candidates(&endpoints, &updating, STACK, LOGICAL)
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(ids, ["vpce-holder", "vpce-pending"]);
    }

    #[test]
    fn private_dns_defaults_on_only_for_a_verified_name() {
        let default = spec(json!({}));
        assert!(private_dns_wanted(&default, &service()).unwrap());
        let unverified = ServiceView {
            private_dns_verification: Some("pendingVerification".into()),
            ..service()
        };
        assert!(!private_dns_wanted(&default, &unverified).unwrap());
        let no_name = ServiceView { private_dns_name: None, ..service() };
        let asked = spec(json!({"PrivateDnsEnabled": "true"}));
        assert!(private_dns_wanted(&asked, &no_name)
            .unwrap_err()
            .to_string()
            .contains("no private DNS name"));
    }
}
