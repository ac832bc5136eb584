//! The decisions of `Custom::PrivateLinkSecurityGroup`, pure: the rules a spec asks for, the
//! changes from the rules observed, the group's name, when a new group is needed, whether a
//! hand-made group can be taken over, and the answer.

use std::collections::BTreeSet;

use super::spec::{is_description_char, GroupSpec};
use crate::cfn::{Outcome, RequestContext};
use crate::ec2::{self, GroupView, IngressRule, Source};
use crate::error::{Error, Result};
use crate::text::sha256_hex;

/// The inbound rules that admit `sources` on `ports`.
pub fn desired_rules(ports: &[u16], sources: &[Source]) -> BTreeSet<IngressRule> {
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

/// The answer: the group's id and the sources it admits, for `Fn::GetAtt`.
pub fn outcome(group_id: &str, spec: &GroupSpec, cidrs: &[String]) -> Outcome {
    Outcome::new(group_id)
        .with("GroupId", group_id)
        .with("SourceCidrs", cidrs.join(","))
        .with("SourceSecurityGroupIds", spec.source_group_ids.join(","))
        .with("SourcePrefixListIds", spec.source_prefix_lists.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        let current = desired_rules(&[443], &[cidr("10.0.0.0/16"), cidr("10.1.0.0/16")]);
        let desired = desired_rules(&[443, 8443], &[cidr("10.0.0.0/16")]);
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
