//! Whether CloudFormation is waiting for a resource: anyone allowed to invoke the functions
//! can hand-craft an event naming another stack's resources, so an event is acted on only while
//! its stack operation is under way for that resource (`DescribeStackResource`).

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::error::{AwsError, Error, Result};

/// Whether a resource status means CloudFormation waits for the resource's answer: a Create,
/// Update or Delete under way, rollbacks included (`UPDATE_IN_PROGRESS` while rolling back).
pub fn is_waiting(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS")
}

/// Asks CloudFormation about a stack's resources, with a client made on first use.
#[derive(Debug, Clone, Default)]
pub struct StackCheck {
    client: Arc<OnceCell<aws_sdk_cloudformation::Client>>,
}

impl StackCheck {
    /// A check with a client made on first use from the standard AWS configuration.
    pub fn lazy() -> Self {
        Self::default()
    }

    async fn client(&self) -> &aws_sdk_cloudformation::Client {
        self.client
            .get_or_init(|| async {
                aws_sdk_cloudformation::Client::new(crate::runtime::aws_config().await)
            })
            .await
    }

    /// The resource's status, or `None` when the stack or the resource does not exist.
    pub async fn status(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> Result<Option<String>, AwsError> {
        let asked = self
            .client()
            .await
            .describe_stack_resource()
            .stack_name(stack_id)
            .logical_resource_id(logical_id)
            .send()
            .await;
        match asked {
            Ok(out) => Ok(out
                .stack_resource_detail()
                .and_then(|d| d.resource_status())
                .map(|s| s.as_str().to_owned())),
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
    pub async fn confirm(&self, stack_id: &str, logical_id: &str) -> Result<()> {
        let status = self.status(stack_id, logical_id).await?;
        match status {
            Some(status) if is_waiting(&status) => Ok(()),
            other => Err(Error::NotAwaited {
                stack: stack_id.to_owned(),
                logical_id: logical_id.to_owned(),
                status: other.unwrap_or_else(|| "no such stack or resource".to_owned()),
            }),
        }
    }
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
}
