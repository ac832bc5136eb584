//! EC2 operations named for what they do, over the SDK client.
//!
//! Each returns plain values ([`view`]) so the decisions that use them stay pure, and classifies
//! failures into [`AwsError`] kinds. Which resources are whose is [`ownership`]. The operations
//! are kept by resource: interface endpoints, security groups, and the network (VPCs, subnets).

mod endpoints;
mod groups;
mod network;
pub mod ownership;
pub mod permissions;
pub mod rules;
pub mod view;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;

pub use endpoints::CONNECTION_EVENTS;
pub use ownership::{
    answered_takeover, check_claim_stands, check_claimable, check_owned, claim_tags,
    give_back_tags, is_managed_tag, is_owned_by, is_owned_by_anyone, is_pending_takeover,
    made_tags, owner_of, owner_tags, MadeWith, CLAIM_SETTLE, TAG_DNS_NAMES, TAG_LOGICAL_ID,
    TAG_MADE_WITH, TAG_STACK_ID, TAG_TAKEN_OVER, TAG_VERSION,
};
pub use rules::{IngressRule, PortRange, Source, Transport, PORT_FORMS};
pub use view::{
    canonical_cidr, DnsEntry, DnsOptions, EndpointChange, EndpointState, EndpointView, GroupView,
    InterfaceView, NewEndpoint, ServiceView, SubnetAddress, SubnetView, VpcDns,
};

use crate::aws::LazyClient;
use crate::error::{AwsError, AwsErrorKind};

type Ec2Result<T> = Result<T, AwsError>;

/// EC2 operations for the resources of this project.
#[derive(Debug, Clone)]
pub struct Ec2 {
    client: LazyClient<Client>,
}

fn tag_spec(resource: ResourceType, tags: &[(String, String)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
        .build()
}

fn owner_filters(stack_id: &str, logical_id: &str) -> [Filter; 2] {
    [
        Filter::builder().name(format!("tag:{TAG_STACK_ID}")).values(stack_id).build(),
        Filter::builder().name(format!("tag:{TAG_LOGICAL_ID}")).values(logical_id).build(),
    ]
}

impl Ec2 {
    /// Operations over `client`.
    pub fn new(client: Client) -> Self {
        Self { client: LazyClient::ready(client) }
    }

    /// Operations over a client made on first use from the standard AWS configuration
    /// ([`LazyClient`]): nothing of it is done at start, so it costs no cold start.
    pub fn lazy() -> Self {
        Self { client: LazyClient::default() }
    }

    async fn client(&self) -> &Client {
        self.client.get(Client::new).await
    }

    /// The Region the client calls.
    pub async fn region(&self) -> String {
        self.client().await.config().region().map(|r| r.to_string()).unwrap_or_default()
    }

    /// Sets tags (adding or overwriting) on a resource.
    pub async fn tag(&self, resource_id: &str, tags: &[(String, String)]) -> Ec2Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        self.client()
            .await
            .create_tags()
            .resources(resource_id)
            .set_tags(Some(
                tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect(),
            ))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateTags", e))?;
        Ok(())
    }

    /// Removes tags by key from a resource.
    pub async fn untag(&self, resource_id: &str, keys: &[String]) -> Ec2Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.client()
            .await
            .delete_tags()
            .resources(resource_id)
            .set_tags(Some(keys.iter().map(|k| Tag::builder().key(k).build()).collect()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteTags", e))?;
        Ok(())
    }
}

/// The first failure reported inside a 200 (`Unsuccessful` items) that `is_done` does not
/// excuse (a resource already gone is usually as good as deleted).
fn first_failure(
    operation: &'static str,
    items: &[aws_sdk_ec2::types::UnsuccessfulItem],
    is_done: impl Fn(&AwsError) -> bool,
) -> Ec2Result<()> {
    for item in items {
        let code = item.error().and_then(|e| e.code()).unwrap_or("Unknown");
        let error = AwsError {
            operation,
            kind: AwsErrorKind::from_code(code),
            code: code.to_owned(),
            message: item.error().and_then(|e| e.message()).unwrap_or_default().to_owned(),
        };
        if !is_done(&error) {
            return Err(error);
        }
    }
    Ok(())
}

fn not_found(operation: &'static str, code: &str, id: &str) -> AwsError {
    AwsError {
        operation,
        kind: AwsErrorKind::NotFound,
        code: code.to_owned(),
        message: format!("{id} does not exist"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{UnsuccessfulItem, UnsuccessfulItemError};

    fn unsuccessful(code: &str) -> UnsuccessfulItem {
        UnsuccessfulItem::builder()
            .resource_id("vpce-1")
            .error(UnsuccessfulItemError::builder().code(code).message("m").build())
            .build()
    }

    // A Delete's failures come inside a 200 (the emulator answers unknown ids so: proven in
    // tests/test_emulator.py); what each code means is decided here.
    #[test]
    fn failures_reported_inside_a_200_are_read_by_their_code() {
        let gone = [unsuccessful("InvalidVpcEndpoint.NotFound")];
        first_failure("DeleteVpcEndpoints", &gone, AwsError::is_not_found)
            .expect("not found counts as deleted");

        let refused =
            [unsuccessful("InvalidVpcEndpoint.NotFound"), unsuccessful("UnauthorizedOperation")];
        let err =
            first_failure("DeleteVpcEndpoints", &refused, AwsError::is_not_found).unwrap_err();
        assert_eq!(err.kind, AwsErrorKind::AccessDenied);
        assert_eq!(err.operation, "DeleteVpcEndpoints");
    }
}
