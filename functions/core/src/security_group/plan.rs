//! The decisions of `Custom::PrivateLinkSecurityGroup`, pure: the calls that turn the group
//! observed into the one the spec asks for ([`plan`]) or give a group taken over back as it was
//! found ([`give_back`]), the group's name, when a new group is needed, whether a hand-made
//! group can be taken over, and the answer.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::IpPermission;

use super::spec::{is_description_char, GroupSpec};
use crate::cfn::{Outcome, RequestContext};
use crate::ec2::{self, permissions, GroupView, IngressRule, PortRange, Source};
use crate::error::{Error, Result};
use crate::properties::tag_changes;
use crate::text::sha256_hex;

/// One call of a plan, made in order on the group.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// `RevokeSecurityGroupEgress` of these rules, exactly as described.
    RevokeEgress(Vec<IpPermission>),
    /// `AuthorizeSecurityGroupIngress` of these rules, each with the description.
    AuthorizeIngress {
        /// The rules to add.
        rules: Vec<IngressRule>,
        /// What each rule says of itself ([`rule_description`]).
        description: String,
    },
    /// `RevokeSecurityGroupIngress` of these rules and of rules of another shape.
    RevokeIngress {
        /// TCP or UDP port rules, as this project writes them.
        rules: Vec<IngressRule>,
        /// Rules of any other shape, exactly as described.
        foreign: Vec<IpPermission>,
    },
    /// `AuthorizeSecurityGroupIngress` or `...Egress` of rules exactly as described (putting
    /// back what a failed takeover removed).
    Restore {
        /// The rules, with their descriptions.
        permissions: Vec<IpPermission>,
        /// Outbound rules, else inbound.
        outbound: bool,
    },
    /// `CreateTags`, then `DeleteTags`.
    Tag {
        /// Tags to write.
        set: Vec<(String, String)>,
        /// Tag keys to remove, after the writes (the owner tags go last: the role may change
        /// only what they mark).
        unset: Vec<String>,
    },
}

/// The calls that make the group `current` what `spec` asks for, admitting `cidrs` (given, or
/// the VPC's) besides its groups and prefix lists: no outbound rule (endpoint interfaces only
/// answer, and security groups are stateful), the inbound rules asked for and no other, the
/// user's tags. Nothing for what is already so.
pub fn plan(current: &GroupView, spec: &GroupSpec, cidrs: &[String]) -> Vec<Call> {
    let desired = desired_rules(&spec.ports, &sources(spec, cidrs));
    let (add, remove) = rule_changes(&current.ingress, &desired);
    let (set, unset) = tag_changes(&current.tags, &spec.tags, ec2::is_managed_tag);
    let mut calls = vec![
        Call::RevokeEgress(current.egress.clone()),
        Call::AuthorizeIngress { rules: add, description: rule_description(&spec.description) },
        Call::RevokeIngress { rules: remove, foreign: current.foreign_ingress.clone() },
        Call::Tag { set, unset },
    ];
    calls.retain(|call| !call.is_empty());
    calls
}

/// The calls that give a group taken over back: its rules and the user's tags as `found` had
/// them (when known; else only the tags of this project removed). Rules are put back before
/// the ones added are revoked, so the group never admits less than it did in between.
pub fn give_back(now: &GroupView, found: Option<&GroupView>) -> Vec<Call> {
    let mut calls = Vec::new();
    if let Some(found) = found {
        let (revoke, authorize) = permissions::restoration(&now.raw_ingress, &found.raw_ingress);
        calls.push(Call::Restore { permissions: authorize, outbound: false });
        calls.push(Call::RevokeIngress { rules: Vec::new(), foreign: revoke });
        let (revoke, authorize) = permissions::restoration(&now.egress, &found.egress);
        calls.push(Call::Restore { permissions: authorize, outbound: true });
        calls.push(Call::RevokeEgress(revoke));
    }
    let (set, unset) = ec2::give_back_tags(&now.tags, found.map_or(&now.tags, |f| &f.tags));
    calls.push(Call::Tag { set, unset });
    calls.retain(|call| !call.is_empty());
    calls
}

impl Call {
    /// Whether the call would change nothing.
    fn is_empty(&self) -> bool {
        match self {
            Call::RevokeEgress(permissions) | Call::Restore { permissions, .. } => {
                permissions.is_empty()
            }
            Call::AuthorizeIngress { rules, .. } => rules.is_empty(),
            Call::RevokeIngress { rules, foreign } => rules.is_empty() && foreign.is_empty(),
            Call::Tag { set, unset } => set.is_empty() && unset.is_empty(),
        }
    }
}

/// The inbound rules that admit `sources` on `ports`.
pub fn desired_rules(ports: &[PortRange], sources: &[Source]) -> BTreeSet<IngressRule> {
    ports
        .iter()
        .flat_map(|port| {
            sources.iter().map(move |source| IngressRule { port: *port, source: source.clone() })
        })
        .collect()
}

/// Every source of the spec: `cidrs` (given, or the VPC's), then groups, then prefix lists.
pub fn sources(spec: &GroupSpec, cidrs: &[String]) -> Vec<Source> {
    cidrs
        .iter()
        .map(|c| Source::Cidr(ec2::canonical_cidr(c)))
        .chain(spec.source_group_ids.iter().cloned().map(Source::Group))
        .chain(spec.source_prefix_lists.iter().cloned().map(Source::PrefixList))
        .collect()
}

/// Rules to authorize and rules to revoke to turn `current` into `desired`.
pub fn rule_changes(
    current: &BTreeSet<IngressRule>,
    desired: &BTreeSet<IngressRule>,
) -> (Vec<IngressRule>, Vec<IngressRule>) {
    (desired.difference(current).cloned().collect(), current.difference(desired).cloned().collect())
}

/// The group name used when `GroupName` is not given: readable (stack and logical id), unique
/// per resource, and different when the VPC or description changes, because those need a new
/// group and a group name is unique per VPC.
pub fn default_group_name(ctx: &RequestContext, vpc_id: &str, description: &str) -> String {
    let digest =
        sha256_hex(format!("{}\n{}\n{vpc_id}\n{description}", ctx.stack_id, ctx.logical_id));
    let suffix = &digest[..10];
    // Only the characters EC2 allows in a group name (a hand-made event may hold any): all
    // ASCII, so cutting by bytes is safe.
    let mut base: String = format!("{}-{}", ctx.stack_name(), ctx.logical_id)
        .chars()
        .filter(|c| is_description_char(*c))
        .collect();
    base.truncate(255 - suffix.len() - 1);
    format!("{base}-{suffix}")
}

/// Whether the observed group can't become the desired one in place. A group taken over
/// (`taken_over`) keeps its own name and description: only its VPC counts.
pub fn needs_replacement(
    current: &GroupView,
    vpc_id: &str,
    name: &str,
    description: &str,
    taken_over: bool,
) -> bool {
    current.vpc_id != vpc_id
        || (!taken_over && (current.name != name || current.description != description))
}

/// An error unless a hand-made group can be taken over: another resource's, or in another VPC.
pub fn check_takeover(
    group: &GroupView,
    spec: &GroupSpec,
    stack_id: &str,
    logical_id: &str,
) -> Result<()> {
    ec2::check_claimable(&group.id, &group.tags, stack_id, logical_id)?;
    if group.vpc_id != spec.vpc_id {
        return Err(Error::property(
            "ExistingGroupId",
            format!("{} is in {}, not in {}", group.id, group.vpc_id, spec.vpc_id),
        ));
    }
    Ok(())
}

/// What every rule of the group says of itself: its description, marked as this project's.
pub fn rule_description(description: &str) -> String {
    // `Description` is validated to EC2's characters, all ASCII: cutting by bytes is safe.
    let mut text = format!("{description} (privatelink-lambdas)");
    text.truncate(255);
    text
}

/// The answer: the group's id, the ports and the sources it admits, for `Fn::GetAtt`.
pub fn outcome(group_id: &str, spec: &GroupSpec, cidrs: &[String]) -> Outcome {
    let ports: Vec<String> = spec.ports.iter().map(ToString::to_string).collect();
    Outcome::new(group_id)
        .with("GroupId", group_id)
        .with("Ports", ports.join(","))
        .with("SourceCidrs", cidrs.join(","))
        .with("SourceSecurityGroupIds", spec.source_group_ids.join(","))
        .with("SourcePrefixListIds", spec.source_prefix_lists.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::IpRange;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn spec(properties: serde_json::Value) -> GroupSpec {
        let mut all = json!({"VpcId": "vpc-1", "Description": "d"});
        all.as_object_mut().unwrap().extend(properties.as_object().unwrap().clone());
        GroupSpec::parse(&all).unwrap()
    }

    fn any_ipv4_out() -> IpPermission {
        IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build()
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// A group as it is observed: `rules` on 10.0.0.0/16, the owner tags, `extra` tags.
    fn group(ports: &[u16], egress: bool, extra: &[(&str, &str)]) -> GroupView {
        let mut all = tags(extra);
        all.extend(ec2::owner_tags("stack", "Group"));
        GroupView {
            id: "sg-1".into(),
            vpc_id: "vpc-1".into(),
            ingress: ports.iter().map(|p| IngressRule::from_cidr(*p, "10.0.0.0/16")).collect(),
            egress: if egress { vec![any_ipv4_out()] } else { vec![] },
            tags: all,
            ..GroupView::default()
        }
    }

    fn kinds(calls: &[Call]) -> Vec<&'static str> {
        calls
            .iter()
            .map(|call| match call {
                Call::RevokeEgress(_) => "revoke egress",
                Call::AuthorizeIngress { .. } => "authorize ingress",
                Call::RevokeIngress { .. } => "revoke ingress",
                Call::Restore { outbound: false, .. } => "restore ingress",
                Call::Restore { outbound: true, .. } => "restore egress",
                Call::Tag { .. } => "tag",
            })
            .collect()
    }

    #[test]
    fn the_plan_makes_only_the_calls_that_change_something() {
        let cidrs = ["10.0.0.0/16".to_owned()];
        let cases: Vec<(&str, GroupView, GroupSpec, Vec<&str>)> = vec![
            (
                "a new group: AWS's default outbound rule goes, the rule comes",
                group(&[], true, &[]),
                spec(json!({})),
                vec!["revoke egress", "authorize ingress"],
            ),
            ("a group as asked: nothing", group(&[443], false, &[]), spec(json!({})), vec![]),
            (
                "another port: the new rule comes, the old goes",
                group(&[443], false, &[]),
                spec(json!({"Ports": ["8443"]})),
                vec!["authorize ingress", "revoke ingress"],
            ),
            (
                "a tag asked for",
                group(&[443], false, &[]),
                spec(json!({"Tags": [{"Key": "team", "Value": "net"}]})),
                vec!["tag"],
            ),
            (
                "a tag no longer asked for",
                group(&[443], false, &[("team", "net")]),
                spec(json!({})),
                vec!["tag"],
            ),
        ];
        for (case, current, spec, expected) in cases {
            assert_eq!(kinds(&plan(&current, &spec, &cidrs)), expected, "{case}");
        }
    }

    #[test]
    fn the_plan_revokes_rules_of_another_shape_and_keeps_the_owner_tags() {
        let mut current = group(&[443], false, &[("team", "net")]);
        current.foreign_ingress = vec![any_ipv4_out()];
        let calls = plan(&current, &spec(json!({})), &["10.0.0.0/16".to_owned()]);
        assert_eq!(
            calls,
            [
                Call::RevokeIngress { rules: vec![], foreign: vec![any_ipv4_out()] },
                Call::Tag { set: vec![], unset: vec!["team".into()] },
            ]
        );
    }

    #[test]
    fn the_plan_describes_each_rule_it_adds_as_this_projects() {
        let calls = plan(&group(&[], false, &[]), &spec(json!({})), &["10.0.0.0/16".to_owned()]);
        assert_eq!(
            calls,
            [Call::AuthorizeIngress {
                rules: vec![IngressRule::from_cidr(443, "10.0.0.0/16")],
                description: "d (privatelink-lambdas)".into(),
            }]
        );
    }

    #[test]
    fn giving_back_puts_rules_back_before_revoking_and_removes_our_tags_last() {
        let found = GroupView {
            raw_ingress: vec![any_ipv4_out()],
            egress: vec![any_ipv4_out()],
            tags: tags(&[("team", "net")]),
            ..GroupView::default()
        };
        let mut now = group(&[443], false, &[("team", "changed")]);
        now.raw_ingress = vec![IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443)
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/16").build())
            .build()];
        let calls = give_back(&now, Some(&found));
        assert_eq!(kinds(&calls), ["restore ingress", "revoke ingress", "restore egress", "tag"]);
        let Some(Call::Tag { set, unset }) = calls.last() else { panic!("{calls:?}") };
        assert_eq!(set, &[("team".to_owned(), "net".to_owned())]);
        assert!(unset.iter().all(|key| ec2::is_managed_tag(key)), "{unset:?}");
        assert!(!unset.is_empty());
    }

    #[test]
    fn giving_back_without_what_was_found_only_removes_our_tags() {
        let now = group(&[443], false, &[("team", "net")]);
        let calls = give_back(&now, None);
        let [Call::Tag { set, unset }] = calls.as_slice() else { panic!("{calls:?}") };
        assert!(set.is_empty());
        assert!(!unset.is_empty() && unset.iter().all(|key| ec2::is_managed_tag(key)));
    }

    #[test]
    fn a_non_ascii_stack_name_makes_a_name_cut_on_a_character_boundary() {
        let mut ctx = RequestContext::for_test(Duration::from_secs(1));
        ctx.stack_id = format!("arn:aws:cloudformation:us-east-1:1:stack/{}/g", "é".repeat(200));
        let name = default_group_name(&ctx, "vpc-1", "Allow from my VPC");
        assert!(name.len() <= 255, "{}", name.len());
    }

    #[test]
    fn rule_changes_authorize_what_is_new_and_revoke_what_is_gone() {
        let cidr = |c: &str| Source::Cidr(c.into());
        let current = desired_rules(&[443.into()], &[cidr("10.0.0.0/16"), cidr("10.1.0.0/16")]);
        let desired = desired_rules(&[443.into(), 8443.into()], &[cidr("10.0.0.0/16")]);
        let (add, remove) = rule_changes(&current, &desired);
        assert_eq!(add, [IngressRule::from_cidr(8443, "10.0.0.0/16")]);
        assert_eq!(remove, [IngressRule::from_cidr(443, "10.1.0.0/16")]);
    }

    #[test]
    fn the_default_name_is_readable_and_changes_with_vpc_and_description() {
        let ctx = RequestContext::for_test(Duration::from_secs(1));
        let name = default_group_name(&ctx, "vpc-1", "Allow from my VPC");
        assert!(name.starts_with("test-Resource-"), "{name}");
        assert_eq!(name, default_group_name(&ctx, "vpc-1", "Allow from my VPC"));
        assert_ne!(name, default_group_name(&ctx, "vpc-2", "Allow from my VPC"));
        assert_ne!(name, default_group_name(&ctx, "vpc-1", "Other"));
    }

    #[test]
    fn a_new_vpc_name_or_description_needs_a_new_group() {
        let current = GroupView {
            vpc_id: "vpc-1".into(),
            name: "n".into(),
            description: "d".into(),
            ..GroupView::default()
        };
        assert!(!needs_replacement(&current, "vpc-1", "n", "d", false));
        assert!(needs_replacement(&current, "vpc-2", "n", "d", false));
        assert!(needs_replacement(&current, "vpc-1", "m", "d", false));
        assert!(needs_replacement(&current, "vpc-1", "n", "e", false));
        // A group taken over keeps its own name and description.
        assert!(!needs_replacement(&current, "vpc-1", "m", "e", true));
        assert!(needs_replacement(&current, "vpc-2", "n", "d", true));
    }
}
