//! A security group's rules one by one, to put a group taken over back as it was found.
//!
//! EC2 reports rules grouped (`IpPermission`: a protocol and port range, with any number of
//! CIDR blocks, groups and prefix lists), and takes them grouped or one by one. A rule here is
//! one protocol, port range and source; two rules are the same rule whatever their
//! descriptions, as EC2 judges a duplicate.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::IpPermission;

/// What a rule is, for comparing: protocol, ports, and its one source.
type RuleKey = (String, Option<i32>, Option<i32>, String);

/// Each rule of `permissions` on its own, by what it is.
fn single_rules(permissions: &[IpPermission]) -> BTreeMap<RuleKey, IpPermission> {
    let mut rules = BTreeMap::new();
    for permission in permissions {
        let protocol = permission.ip_protocol().unwrap_or("-1").to_owned();
        let (from, to) = (permission.from_port(), permission.to_port());
        let key = |source: &str| (protocol.clone(), from, to, source.to_owned());
        let base = || {
            IpPermission::builder()
                .ip_protocol(protocol.clone())
                .set_from_port(from)
                .set_to_port(to)
        };
        for range in permission.ip_ranges() {
            let source = range.cidr_ip().unwrap_or_default();
            rules.insert(key(source), base().ip_ranges(range.clone()).build());
        }
        for range in permission.ipv6_ranges() {
            let source = range.cidr_ipv6().unwrap_or_default();
            rules.insert(key(source), base().ipv6_ranges(range.clone()).build());
        }
        for pair in permission.user_id_group_pairs() {
            let source = pair.group_id().unwrap_or_default();
            rules.insert(key(source), base().user_id_group_pairs(pair.clone()).build());
        }
        for list in permission.prefix_list_ids() {
            let source = list.prefix_list_id().unwrap_or_default();
            rules.insert(key(source), base().prefix_list_ids(list.clone()).build());
        }
    }
    rules
}

/// The rules to revoke and to authorize to turn the rules `now` back into the rules `found`:
/// every rule not found is revoked, every rule found and gone is authorized again, with the
/// description it had.
pub fn restoration(
    now: &[IpPermission],
    found: &[IpPermission],
) -> (Vec<IpPermission>, Vec<IpPermission>) {
    let (now, found) = (single_rules(now), single_rules(found));
    let revoke = now.iter().filter(|(k, _)| !found.contains_key(*k)).map(|(_, r)| r.clone());
    let authorize = found.iter().filter(|(k, _)| !now.contains_key(*k)).map(|(_, r)| r.clone());
    (revoke.collect(), authorize.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{IpRange, Ipv6Range, PrefixListId, UserIdGroupPair};

    /// A rule for tests: `protocol` `from`-`to` from `cidr` (`sg-...` and `pl-...` name a group and
    /// a prefix list), with `description`.
    pub fn rule(
        protocol: &str,
        from: i32,
        to: i32,
        source: &str,
        description: &str,
    ) -> IpPermission {
        let builder = IpPermission::builder().ip_protocol(protocol).from_port(from).to_port(to);
        let builder = match source {
            s if s.starts_with("sg-") => builder.user_id_group_pairs(
                UserIdGroupPair::builder().group_id(s).description(description).build(),
            ),
            s if s.starts_with("pl-") => builder.prefix_list_ids(
                PrefixListId::builder().prefix_list_id(s).description(description).build(),
            ),
            s if s.contains(':') => builder
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6(s).description(description).build()),
            s => builder.ip_ranges(IpRange::builder().cidr_ip(s).description(description).build()),
        };
        builder.build()
    }

    #[test]
    fn a_group_is_put_back_rule_by_rule_with_the_descriptions_it_had() {
        let mut grouped = rule("tcp", 443, 443, "10.0.0.0/16", "office");
        grouped
            .ip_ranges
            .get_or_insert_with(Vec::new)
            .push(IpRange::builder().cidr_ip("10.1.0.0/16").description("lab").build());
        let found = vec![
            grouped,
            rule("tcp", 22, 22, "sg-admin", "bastion"),
            rule("-1", -1, -1, "0.0.0.0/0", ""),
        ];
        let now = vec![
            rule("tcp", 443, 443, "10.0.0.0/16", "Allow from my VPC (privatelink-lambdas)"),
            rule("tcp", 443, 443, "pl-1", "Allow from my VPC (privatelink-lambdas)"),
        ];
        let (revoke, authorize) = restoration(&now, &found);
        // What the takeover added goes; the block both have stays (one rule, whatever its
        // description); what it removed comes back as it was.
        assert_eq!(
            revoke,
            [rule("tcp", 443, 443, "pl-1", "Allow from my VPC (privatelink-lambdas)")]
        );
        assert_eq!(
            authorize,
            [
                rule("-1", -1, -1, "0.0.0.0/0", ""),
                rule("tcp", 22, 22, "sg-admin", "bastion"),
                rule("tcp", 443, 443, "10.1.0.0/16", "lab"),
            ]
        );
        assert_eq!(restoration(&found, &found), (vec![], vec![]));
    }
}
