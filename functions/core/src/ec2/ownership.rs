//! Ownership tags: which stack's logical resource made (or adopted) an EC2 resource. Every
//! mutation checks them first, since an event can name any id.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::properties::{tag_changes, Tag};

/// The tag that ties a resource to its stack.
pub const TAG_STACK_ID: &str = "privatelink-lambdas:stack-id";
/// The tag that ties a resource to its logical id in the stack.
pub const TAG_LOGICAL_ID: &str = "privatelink-lambdas:logical-id";

/// The tag that marks a resource as taken over (`ExistingGroupId`, `ExistingVpcEndpointId`),
/// not made: `pending:<request id>` until the takeover's Create answers SUCCESS, then
/// `answered:<request id>`. A pending takeover is given back (owner tags removed), never
/// deleted: by the Create that fails, and by any Delete.
pub const TAG_TAKEN_OVER: &str = "privatelink-lambdas:taken-over";

/// The [`TAG_TAKEN_OVER`] tag of a takeover whose Create is answering SUCCESS.
pub fn answered_takeover(request_id: &str) -> (String, String) {
    (TAG_TAKEN_OVER.to_owned(), format!("answered:{request_id}"))
}

/// Whether `tags` mark a resource taken over whose Create never answered SUCCESS: not ours.
pub fn is_pending_takeover(tags: &BTreeMap<String, String>) -> bool {
    tags.get(TAG_TAKEN_OVER).is_some_and(|v| !v.starts_with("answered:"))
}

/// The tag that records what an endpoint was made as ([`MadeWith`]), which the validator
/// compares it with: CloudFormation has no drift detection for custom resources.
pub const TAG_MADE_WITH: &str = "privatelink-lambdas:made-with";

/// The tag that holds an endpoint's `DnsNames` (space-separated), where the validator's
/// discovery reads them.
pub const TAG_DNS_NAMES: &str = "privatelink-lambdas:dns-names";

/// The tag that says which version of this project made a resource (never changed after).
pub const TAG_VERSION: &str = "privatelink-lambdas:version";

/// What an endpoint was made as, in its [`TAG_MADE_WITH`] tag:
/// `private-dns=on;zones=us-east-1a,us-east-1b;groups=sg-1,sg-2`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MadeWith {
    /// Private DNS on (once the provider accepted).
    pub private_dns: bool,
    /// The zones of its interfaces.
    pub zones: Vec<String>,
    /// Its security groups (empty: the VPC's default group, not compared).
    pub groups: Vec<String>,
}

impl MadeWith {
    /// The tag's value, within EC2's 256 characters (the groups are left out when they would
    /// not fit, and then not compared).
    pub fn to_tag_value(&self) -> String {
        let dns = if self.private_dns { "on" } else { "off" };
        let base = format!("private-dns={dns};zones={}", self.zones.join(","));
        let full = format!("{base};groups={}", self.groups.join(","));
        if self.groups.is_empty() || full.len() > 256 {
            base
        } else {
            full
        }
    }

    /// Reads a tag's value; `None` when it is not one.
    pub fn parse(value: &str) -> Option<Self> {
        let mut made = Self::default();
        let mut seen_dns = false;
        let list = |v: &str| v.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        for part in value.split(';') {
            match part.split_once('=')? {
                ("private-dns", v) => {
                    made.private_dns = v == "on";
                    seen_dns = true;
                }
                ("zones", v) => made.zones = list(v),
                ("groups", v) => made.groups = list(v),
                _ => {}
            }
        }
        seen_dns.then_some(made)
    }
}

/// The tags that mark a resource as made for this stack's logical resource.
pub fn owner_tags(stack_id: &str, logical_id: &str) -> Vec<(String, String)> {
    vec![
        (TAG_STACK_ID.to_owned(), stack_id.to_owned()),
        (TAG_LOGICAL_ID.to_owned(), logical_id.to_owned()),
    ]
}

/// Whether `tags` mark a resource as made for this stack's logical resource.
pub fn is_owned_by(tags: &BTreeMap<String, String>, stack_id: &str, logical_id: &str) -> bool {
    tags.get(TAG_STACK_ID).map(String::as_str) == Some(stack_id)
        && tags.get(TAG_LOGICAL_ID).map(String::as_str) == Some(logical_id)
}

/// Whether `tags` mark a resource as some stack's (this project's) at all.
pub fn is_owned_by_anyone(tags: &BTreeMap<String, String>) -> bool {
    tags.contains_key(TAG_STACK_ID)
}

/// Whose a resource is, from its owner tags, in words for a reason.
pub fn owner_of(tags: &BTreeMap<String, String>) -> String {
    match (tags.get(TAG_STACK_ID), tags.get(TAG_LOGICAL_ID)) {
        (Some(stack), Some(logical)) => format!("it belongs to {logical} of stack {stack}"),
        (Some(stack), None) => format!("it belongs to stack {stack}"),
        _ => "it was not made by privatelink-lambdas".to_owned(),
    }
}

/// An error unless `tags` mark the resource `id` as made for this stack's logical resource.
pub fn check_owned(
    id: &str,
    tags: &BTreeMap<String, String>,
    stack_id: &str,
    logical_id: &str,
) -> Result<(), Error> {
    if is_owned_by(tags, stack_id, logical_id) {
        Ok(())
    } else {
        Err(Error::NotOwned { id: id.to_owned(), owner: owner_of(tags) })
    }
}

/// An error unless the resource `id` may be taken over by this stack's logical resource: owned
/// by no stack yet (made by hand), or already by this very resource (a redelivered Create).
pub fn check_claimable(
    id: &str,
    tags: &BTreeMap<String, String>,
    stack_id: &str,
    logical_id: &str,
) -> Result<(), Error> {
    if is_owned_by_anyone(tags) {
        check_owned(id, tags, stack_id, logical_id)
    } else {
        Ok(())
    }
}

/// The tags of a resource this project makes: the owner tags, and the version that made it
/// ([`TAG_VERSION`]).
pub fn made_tags(stack_id: &str, logical_id: &str) -> Vec<(String, String)> {
    let mut tags = owner_tags(stack_id, logical_id);
    tags.push((TAG_VERSION.to_owned(), crate::lambda::VERSION.to_owned()));
    tags
}

/// The tags that claim a resource made by hand for this stack's logical resource: the owner
/// tags and the [`TAG_TAKEN_OVER`] mark (its value: the request that took it over).
pub fn claim_tags(stack_id: &str, logical_id: &str, request_id: &str) -> Vec<(String, String)> {
    let mut tags = owner_tags(stack_id, logical_id);
    tags.push((TAG_TAKEN_OVER.to_owned(), format!("pending:{request_id}")));
    tags
}

/// The tags to write and the keys to remove to give a resource taken over back as it was found:
/// every key of this project's removed, the user's tags as `found` had them.
pub fn give_back_tags(
    now: &BTreeMap<String, String>,
    found: &BTreeMap<String, String>,
) -> (Vec<(String, String)>, Vec<String>) {
    let users: Vec<Tag> = found
        .iter()
        .filter(|(k, _)| !is_managed_tag(k))
        .map(|(k, v)| Tag { key: k.clone(), value: v.clone() })
        .collect();
    let (set, mut unset) = tag_changes(now, &users, is_managed_tag);
    // AWS's own `aws:` tags stay; ours go.
    unset.extend(now.keys().filter(|k| is_managed_tag(k) && !k.starts_with("aws:")).cloned());
    (set, unset)
}

/// How long a claimant waits between writing its claim and reading it back. Tags are a
/// register EC2 overwrites, not a compare-and-set: two takeovers of one resource each write
/// their claim and then read it back after this long; the later write stands, and the one
/// that reads another's claim gives up before changing anything (Fischer's mutual exclusion,
/// which holds while each claimant writes within this long of its own read: one API call).
pub const CLAIM_SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// An error naming `property` unless the claim read back in `tags` is this resource's.
pub fn check_claim_stands(
    property: &str,
    id: &str,
    tags: &BTreeMap<String, String>,
    stack_id: &str,
    logical_id: &str,
) -> Result<(), Error> {
    if is_owned_by(tags, stack_id, logical_id) {
        return Ok(());
    }
    Err(Error::property(
        property,
        format!(
            "{id} was claimed by another resource at the same time ({}): only one can take it over, and nothing was changed",
            owner_of(tags)
        ),
    ))
}

/// Whether a tag key is one of ours (or AWS's), not the user's.
pub fn is_managed_tag(key: &str) -> bool {
    key.starts_with("privatelink-lambdas:") || key.starts_with("aws:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_is_given_back_with_the_users_tags_as_found_and_none_of_ours() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        let found = map(&[("Name", "runbook"), ("team", "net"), ("aws:cloudformation:x", "y")]);
        let now = map(&[
            ("Name", "runbook"),
            ("team", "platform"),
            ("added", "1"),
            ("aws:cloudformation:x", "y"),
            (TAG_STACK_ID, "stack"),
            (TAG_LOGICAL_ID, "Sg"),
            (TAG_TAKEN_OVER, "r-1"),
        ]);
        let (set, mut unset) = give_back_tags(&now, &found);
        unset.sort();
        assert_eq!(set, [("team".to_owned(), "net".to_owned())]);
        assert_eq!(unset, ["added", TAG_LOGICAL_ID, TAG_STACK_ID, TAG_TAKEN_OVER]);
        let claim = claim_tags("stack", "Sg", "r-1");
        assert_eq!(claim.len(), 3);
        let claimed: BTreeMap<String, String> = claim.into_iter().collect();
        assert!(is_pending_takeover(&claimed));
        let answered: BTreeMap<String, String> = [answered_takeover("r-1")].into();
        assert!(!is_pending_takeover(&answered));
        assert!(!is_pending_takeover(&BTreeMap::new()));
    }

    #[test]
    fn what_an_endpoint_was_made_with_round_trips_through_its_tag() {
        let made = MadeWith {
            private_dns: true,
            zones: vec!["us-east-1a".into(), "us-east-1b".into()],
            groups: vec!["sg-1".into()],
        };
        let value = made.to_tag_value();
        assert_eq!(value, "private-dns=on;zones=us-east-1a,us-east-1b;groups=sg-1");
        assert_eq!(MadeWith::parse(&value), Some(made));
        assert_eq!(MadeWith::parse("something else"), None);
        let many =
            MadeWith { groups: vec!["sg-0123456789abcdef0".into(); 20], ..MadeWith::default() };
        assert!(many.to_tag_value().len() <= 256 && !many.to_tag_value().contains("groups"));
    }
}
