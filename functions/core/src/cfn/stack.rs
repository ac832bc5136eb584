//! Whether CloudFormation is waiting for a resource: anyone allowed to invoke the functions
//! can hand-craft an event naming another stack's resources, so an event is acted on only while
//! its stack operation is under way for that resource (`DescribeStackResource`).

use crate::error::{AwsError, Error, Result};
use crate::runtime::LazyClient;

/// Whether a resource status means CloudFormation waits for the resource's answer: a Create,
/// Update or Delete under way, rollbacks included (`UPDATE_IN_PROGRESS` while rolling back).
pub fn is_waiting(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS")
}

/// Asks CloudFormation about a stack's resources, with a client made on first use.
#[derive(Debug, Clone, Default)]
pub struct StackCheck {
    client: LazyClient<aws_sdk_cloudformation::Client>,
}

impl StackCheck {
    /// A check with a client made on first use from the standard AWS configuration.
    pub fn lazy() -> Self {
        Self::default()
    }

    async fn client(&self) -> &aws_sdk_cloudformation::Client {
        self.client.get(aws_sdk_cloudformation::Client::new).await
    }

    /// The resource's status and current physical id, or `None` when the stack or the resource
    /// does not exist.
    pub async fn status(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> Result<Option<ResourceState>, AwsError> {
        let asked = self
            .client()
            .await
            .describe_stack_resource()
            .stack_name(stack_id)
            .logical_resource_id(logical_id)
            .send()
            .await;
        match asked {
            Ok(out) => Ok(out.stack_resource_detail().and_then(|d| {
                Some(ResourceState {
                    status: d.resource_status()?.as_str().to_owned(),
                    physical_id: d.physical_resource_id().map(str::to_owned),
                })
            })),
            Err(err) => {
                let error = AwsError::from_sdk("DescribeStackResource", err);
                // CloudFormation says "Stack '...' does not exist" (or the resource does not)
                // with a ValidationError.
                if error.code == "ValidationError" && error.message.contains("does not exist") {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// `Ok` when CloudFormation waits for this resource, else why it is not acted on.
    /// `deleting`: the physical id of a Delete request, if this is one.
    pub async fn confirm(
        &self,
        stack_id: &str,
        logical_id: &str,
        deleting: Option<&str>,
    ) -> Result<()> {
        let state = self.status(stack_id, logical_id).await?;
        match state {
            Some(state) if awaits(&state, deleting) => Ok(()),
            other => Err(Error::NotAwaited {
                stack: stack_id.to_owned(),
                logical_id: logical_id.to_owned(),
                status: other.map_or_else(|| "no such stack or resource".to_owned(), |s| s.status),
            }),
        }
    }
}

/// A stack resource as DescribeStackResource shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceState {
    /// `ResourceStatus`.
    pub status: String,
    /// The resource's current `PhysicalResourceId`.
    pub physical_id: Option<String>,
}

/// Whether CloudFormation waits for an answer about this resource. Besides an operation under
/// way, a Delete of a physical id other than the resource's current one is awaited: after an
/// update that replaced the resource, CloudFormation deletes the old one during
/// `UPDATE_COMPLETE_CLEANUP_IN_PROGRESS`, when the logical id already shows the new one,
/// complete. (Refused, the old resource would be left behind.)
pub fn awaits(state: &ResourceState, deleting: Option<&str>) -> bool {
    is_waiting(&state.status)
        || deleting
            .is_some_and(|old| state.physical_id.as_deref().is_some_and(|current| current != old))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_operations_under_way_are_waited_for() {
        for waiting in [
            "CREATE_IN_PROGRESS",
            "UPDATE_IN_PROGRESS",
            "DELETE_IN_PROGRESS",
            "ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
        ] {
            assert!(is_waiting(waiting), "{waiting}");
        }
        for done in [
            "CREATE_COMPLETE",
            "CREATE_FAILED",
            "DELETE_COMPLETE",
            "UPDATE_FAILED",
            "DELETE_SKIPPED",
        ] {
            assert!(!is_waiting(done), "{done}");
        }
    }

    #[test]
    fn the_cleanup_delete_of_a_replaced_resource_is_awaited() {
        let replaced = ResourceState {
            status: "UPDATE_COMPLETE".into(),
            physical_id: Some("vpce-new".into()),
        };
        assert!(awaits(&replaced, Some("vpce-old")));
        // ...but not a Delete of the current resource, nor anything else, once complete.
        assert!(!awaits(&replaced, Some("vpce-new")));
        assert!(!awaits(&replaced, None));
        let creating = ResourceState { status: "CREATE_IN_PROGRESS".into(), physical_id: None };
        assert!(awaits(&creating, None));
    }
}
