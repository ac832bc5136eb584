//! `Custom::PrivateLinkSecurityGroup`'s properties, typed and validated: every bad property
//! named in one reason, before anything is made.

use ipnet::IpNet;
use serde_json::Value;

use crate::ec2::{PortRange, PORT_FORMS};
use crate::error::Result;
use crate::properties::{PropertyReader, Tag};
use crate::text;

const DEFAULT_DESCRIPTION: &str = "Allow from my VPC";

/// The resource's properties, typed and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// `VpcId`.
    pub vpc_id: String,
    /// `Ports`, default TCP 443: TCP or UDP ports and ranges.
    pub ports: Vec<PortRange>,
    /// `SourceCidrs`; `None`: the VPC's own blocks, read again on every Update, unless other
    /// sources are given.
    pub source_cidrs: Option<Vec<String>>,
    /// `SourceSecurityGroupIds`: groups whose interfaces may connect (the application's).
    pub source_group_ids: Vec<String>,
    /// `SourcePrefixListIds`: managed prefix lists that may connect.
    pub source_prefix_lists: Vec<String>,
    /// `ExistingGroupId`: a group made by hand (the console runbook's) that a Create takes over.
    pub existing_group_id: Option<String>,
    /// `GroupName`; `None`: derived from the stack and logical id.
    pub group_name: Option<String>,
    /// `Description`.
    pub description: String,
    /// `Tags`.
    pub tags: Vec<Tag>,
}

impl GroupSpec {
    /// Reads and validates `ResourceProperties`, naming every bad property.
    pub fn parse(properties: &Value) -> Result<Self> {
        let mut r = PropertyReader::new(properties)?;
        let spec = Self::read(&mut r);
        r.finish(spec)
    }

    /// Reads the properties with `r`, recording every problem there.
    pub fn read(r: &mut PropertyReader<'_>) -> Self {
        let vpc_id = r.required_id("VpcId", "vpc-");
        let ports = match r.optional_list("Ports") {
            None => vec![PortRange::tcp(443)],
            Some(items) if items.is_empty() => {
                r.problem("Ports", "must not be empty");
                vec![]
            }
            Some(items) => {
                let bad: Vec<String> = items
                    .iter()
                    .filter(|p| p.parse::<PortRange>().is_err())
                    .map(|p| text::quoted(p))
                    .collect();
                if !bad.is_empty() {
                    r.problem(
                        "Ports",
                        format!("{} is not one of the forms {PORT_FORMS}", bad.join(", ")),
                    );
                }
                let mut ports: Vec<PortRange> =
                    items.iter().filter_map(|p| p.parse().ok()).collect();
                // `443` and `tcp/443` are one rule.
                let mut seen = std::collections::BTreeSet::new();
                ports.retain(|p| seen.insert(*p));
                ports
            }
        };
        let allow_any_source = r.optional_bool("AllowAnySource").unwrap_or(false);
        let source_cidrs = r.optional_list("SourceCidrs").map(|cidrs| {
            if cidrs.is_empty() {
                r.problem(
                    "SourceCidrs",
                    "must not be empty (leave it out to use the VPC's CIDR blocks)",
                );
            }
            let mut canonical = Vec::with_capacity(cidrs.len());
            for cidr in &cidrs {
                match check_source(cidr, allow_any_source) {
                    Ok(block) => canonical.push(block),
                    Err(problem) => r.problem("SourceCidrs", problem),
                }
            }
            canonical.dedup();
            canonical
        });
        let source_group_ids = match r.optional_list("SourceSecurityGroupIds") {
            Some(list) if !list.is_empty() => r.id_list("SourceSecurityGroupIds", "sg-"),
            _ => None,
        };
        let source_prefix_lists = match r.optional_list("SourcePrefixListIds") {
            Some(list) if !list.is_empty() => r.id_list("SourcePrefixListIds", "pl-"),
            _ => None,
        };
        let existing_group_id = r.optional_id("ExistingGroupId", "sg-");
        let group_name = r.optional_string("GroupName");
        if group_name.is_some() && existing_group_id.is_some() {
            r.problem("GroupName", "can't be set with ExistingGroupId: a group keeps its name");
        }
        if let Some(name) = &group_name {
            if name.len() > 255 || name.to_ascii_lowercase().starts_with("sg-") {
                r.problem("GroupName", "must be 1-255 characters and must not start with sg-");
            }
        }
        let description =
            r.optional_string("Description").unwrap_or_else(|| DEFAULT_DESCRIPTION.to_owned());
        if description.len() > 255 || !description.chars().all(is_description_char) {
            r.problem(
                "Description",
                "must be at most 255 characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*",
            );
        }
        let tags = r.tags("Tags");
        Self {
            vpc_id: vpc_id.unwrap_or_default(),
            ports,
            source_cidrs,
            source_group_ids: source_group_ids.unwrap_or_default(),
            source_prefix_lists: source_prefix_lists.unwrap_or_default(),
            existing_group_id,
            group_name,
            description,
            tags,
        }
    }
}

pub(super) fn is_description_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c)
}

/// A `SourceCidrs` item, canonical, or why it can't be one: not a block, host bits set
/// (`10.0.0.1/8` admits what `10.0.0.0/8` does, and hides a typo), or every address without
/// the `AllowAnySource` opt-in (the runbook admits only the VPC's own).
pub fn check_source(text: &str, allow_any_source: bool) -> std::result::Result<String, String> {
    let shown = text::quoted(text);
    let net: IpNet =
        text.trim().parse().map_err(|_| format!("{shown} is not an IPv4 or IPv6 CIDR block"))?;
    if net.addr() != net.network() {
        return Err(format!("{shown} has host bits set: did you mean {}?", net.trunc()));
    }
    if net.prefix_len() == 0 && !allow_any_source {
        return Err(format!(
            "{shown} admits every address; the endpoint should admit only your networks (set AllowAnySource to \"true\" if you mean it)"
        ));
    }
    Ok(net.to_string())
}

impl GroupSpec {
    /// Whether the VPC's own blocks are the CIDR sources: `SourceCidrs` left out, and no other
    /// source given (a group source alone means only that group may connect).
    pub fn defaults_to_vpc_cidrs(&self) -> bool {
        self.source_cidrs.is_none()
            && self.source_group_ids.is_empty()
            && self.source_prefix_lists.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::Transport;
    use serde_json::json;

    fn problems(properties: Value) -> String {
        GroupSpec::parse(&properties).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_port_443_from_the_vpc_with_the_runbook_description() {
        let spec = GroupSpec::parse(&json!({"VpcId": "vpc-1", "ServiceToken": "arn"})).unwrap();
        assert_eq!(spec.ports, [PortRange::tcp(443)]);
        assert_eq!(spec.source_cidrs, None);
        assert_eq!(spec.description, "Allow from my VPC");
    }

    #[test]
    fn ports_arrive_as_strings_and_are_range_checked() {
        let spec = GroupSpec::parse(&json!({"VpcId": "vpc-1", "Ports": ["443", "8443"]})).unwrap();
        assert_eq!(spec.ports, [PortRange::tcp(443), PortRange::tcp(8443)]);
        for bad in ["0", "65536", "https", "-1", "8100-8000", "icmp/8", "udp/", "tcp/1-", "1-2-3"] {
            let reason = problems(json!({"VpcId": "vpc-1", "Ports": [bad]}));
            let says = format!("Ports: \"{bad}\" is not one of the forms 443, 8000-8100, tcp/443");
            assert!(reason.contains(&says), "{reason}");
        }
    }

    #[test]
    fn ports_take_ranges_and_udp_and_are_kept_once_in_their_canonical_spelling() {
        let given = ["8000-8100", "tcp/443", "443", "UDP/53", "udp/5000-5010", " 22 "];
        let spec = GroupSpec::parse(&json!({"VpcId": "vpc-1", "Ports": given})).unwrap();
        let spelled: Vec<String> = spec.ports.iter().map(ToString::to_string).collect();
        assert_eq!(spelled, ["8000-8100", "443", "udp/53", "udp/5000-5010", "22"]);
        let udp = spec.ports[2];
        assert_eq!((udp.transport, udp.from, udp.to), (Transport::Udp, 53, 53));
    }

    #[test]
    fn bad_values_of_every_property_are_named() {
        let reason = problems(json!({
            "VpcId": "subnet-1",
            "Ports": [],
            "SourceCidrs": ["10.0.0.0/33", "10.0.0.0"],
            "GroupName": "sg-mine",
            "Description": "naïve ✓",
            "Tags": "team=a"
        }));
        for property in ["VpcId", "Ports", "SourceCidrs", "GroupName", "Description", "Tags"] {
            assert!(reason.contains(&format!("{property}:")), "{property} not named in: {reason}");
        }
    }

    #[test]
    fn a_missing_vpc_is_named() {
        assert!(problems(json!({})).contains("VpcId: is required"));
    }

    #[test]
    fn source_blocks_of_both_families_are_accepted_in_their_canonical_spelling() {
        assert_eq!(check_source("10.0.0.0/16", false).unwrap(), "10.0.0.0/16");
        assert_eq!(check_source(" 2600:1F18:ABCD:0::/56", false).unwrap(), "2600:1f18:abcd::/56");
        assert!(check_source("10.0.0.0/40", false)
            .unwrap_err()
            .contains("is not an IPv4 or IPv6 CIDR block"));
        assert!(check_source("vpc-1", false).is_err());
    }

    #[test]
    fn host_bits_and_every_address_are_refused_unless_opted_in() {
        let host_bits = check_source("10.0.0.1/8", false).unwrap_err();
        assert!(
            host_bits.contains("\"10.0.0.1/8\" has host bits set: did you mean 10.0.0.0/8?"),
            "{host_bits}"
        );
        for any in ["0.0.0.0/0", "::/0"] {
            assert!(check_source(any, false).unwrap_err().contains("AllowAnySource"), "{any}");
            assert_eq!(check_source(any, true).unwrap(), any);
        }
        let spec = GroupSpec::parse(
            &json!({"VpcId": "vpc-1", "SourceCidrs": ["0.0.0.0/0"], "AllowAnySource": "true"}),
        )
        .unwrap();
        assert_eq!(spec.source_cidrs.unwrap(), ["0.0.0.0/0"]);
    }
}
