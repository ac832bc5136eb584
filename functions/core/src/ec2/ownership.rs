//! Ownership tags: which stack's logical resource made (or adopted) an EC2 resource. Every
//! mutation checks them first, since an event can name any id.

use std::collections::BTreeMap;

use crate::error::Error;

/// The tag that ties a resource to its stack.
pub const TAG_STACK_ID: &str = "privatelink-lambdas:stack-id";
/// The tag that ties a resource to its logical id in the stack.
pub const TAG_LOGICAL_ID: &str = "privatelink-lambdas:logical-id";

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

/// Whether a tag key is one of ours (or AWS's), not the user's.
pub fn is_managed_tag(key: &str) -> bool {
    key.starts_with("privatelink-lambdas:") || key.starts_with("aws:")
}
