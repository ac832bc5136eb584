//! The trust boundary: whether CloudFormation sent an event.
//!
//! Every deployer allowed to reference the functions can invoke them with an event of their own
//! making, and the functions act with their own role. So an event is acted on only when
//! CloudFormation's own state says that the stack operation it belongs to is under way for that
//! resource, asked with `DescribeStackResource` (and, for the cleanup of a replaced resource,
//! `DescribeStacks`) before anything is done. [`judge`] is the table of those states, pure.
//!
//! The states are CloudFormation's resource and stack status codes (AWS CloudFormation API
//! Reference, `StackResourceDetail.ResourceStatus` and `Stack.StackStatus`; User Guide, "Stack
//! status codes" and "Resource status codes" under "Monitor the progress of stack operations"):
//! - a resource is `CREATE_IN_PROGRESS` while CloudFormation waits for a Create's answer,
//!   `UPDATE_IN_PROGRESS` while it waits for an Update's (also the Update a rollback sends,
//!   shown as `UPDATE_ROLLBACK_IN_PROGRESS` by newer stacks), `DELETE_IN_PROGRESS` while it waits
//!   for a Delete's (a stack deletion, or the rollback of a failed or cancelled Create);
//! - once answered (or given up on), `<OPERATION>_COMPLETE` or `<OPERATION>_FAILED`
//!   (`DELETE_SKIPPED` for a retained one);
//! - an Update that answers a new physical id replaced the resource: the old one is deleted
//!   later, while the stack is `UPDATE_COMPLETE_CLEANUP_IN_PROGRESS` (or, when the update is
//!   rolled back, the new one while it is `UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS`); the
//!   logical id then shows the resource it keeps, complete, or none when the template no longer
//!   has it.

use std::time::Duration;

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use tokio::time::Instant;

use super::{DeleteScope, Request, RequestContext};
use crate::aws::LazyClient;
use crate::error::{AwsError, AwsErrorKind, Error, Result};

/// What a request asks, as far as the trust boundary is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked<'a> {
    /// A Create.
    Create,
    /// An Update of the resource with this physical id.
    Update(&'a str),
    /// A Delete of the resource with this physical id.
    Delete(&'a str),
}

impl<'a> From<&'a Request> for Asked<'a> {
    fn from(request: &'a Request) -> Self {
        match request {
            Request::Create { .. } => Self::Create,
            Request::Update { physical_id, .. } => Self::Update(physical_id),
            Request::Delete { physical_id, .. } => Self::Delete(physical_id),
        }
    }
}

impl Asked<'_> {
    /// `Create`, `Update` or `Delete`.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Update(_) => "Update",
            Self::Delete(_) => "Delete",
        }
    }
}

/// A stack resource as `DescribeStackResource` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceState {
    /// `ResourceStatus`.
    pub status: String,
    /// The resource's current `PhysicalResourceId` (none, or empty, before a Create answered).
    pub physical_id: Option<String>,
}

impl ResourceState {
    fn current_id(&self) -> Option<&str> {
        self.physical_id.as_deref().filter(|id| !id.is_empty())
    }
}

/// What CloudFormation's state says of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// CloudFormation sent it and waits for its answer: act, within this scope.
    Act(DeleteScope),
    /// The operation it belongs to is over (answered, or given up on by CloudFormation): a
    /// redelivery. Nothing is done and nothing is answered, so an answer already stored is
    /// never overwritten.
    Over {
        /// The resource's status.
        status: String,
    },
    /// CloudFormation did not send it, or not now: nothing is done; answered FAILED.
    Refuse {
        /// The resource's status, or why there is none.
        status: String,
        /// Why, in words.
        why: String,
    },
}

/// The stack statuses in which CloudFormation deletes a replaced resource (the cleanup after
/// an update, or after the rollback of one).
pub const CLEANUP_STACK_STATUSES: [&str; 2] =
    ["UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"];

/// Whether [`judge`] needs the stack's status for this event: only a Delete of an id that is
/// not the resource's current one (or of a resource the stack no longer names) can be a cleanup.
pub fn needs_stack_status(asked: Asked<'_>, resource: Option<&ResourceState>) -> bool {
    match (asked, resource) {
        (Asked::Delete(_), None) => true,
        (Asked::Delete(id), Some(resource)) => {
            resource.status != "DELETE_IN_PROGRESS"
                && resource.current_id().is_some_and(|current| current != id)
        }
        _ => false,
    }
}

/// The trust table: whether an event of kind `asked` is CloudFormation's, from the resource's
/// state (`None`: no such stack or resource) and, where [`needs_stack_status`] says so, the
/// stack's status.
///
/// | request | resource status | event's id | verdict |
/// |---|---|---|---|
/// | Create | `CREATE_IN_PROGRESS` | | act |
/// | Create | `CREATE_COMPLETE`, `CREATE_FAILED` | | over (a redelivery) |
/// | Update | `UPDATE_IN_PROGRESS`, `UPDATE_ROLLBACK_IN_PROGRESS` | the current one | act |
/// | Update | `UPDATE_COMPLETE`, `UPDATE_FAILED`, `UPDATE_ROLLBACK_COMPLETE`, `UPDATE_ROLLBACK_FAILED` | | over |
/// | Delete | `DELETE_IN_PROGRESS` | any (CloudFormation is deleting this logical id: what a Delete of it may touch is this logical id's own) | act |
/// | Delete | `DELETE_COMPLETE`, `DELETE_FAILED`, `DELETE_SKIPPED` | the current one, or none known | over |
/// | Delete | any, or no such resource | not the current one, stack in a cleanup status | act on the named resource only |
/// | Delete | any | not the current one, stack `UPDATE_COMPLETE` or `UPDATE_ROLLBACK_COMPLETE` | over (a cleanup Delete delivered again) |
/// | any | anything else | | refuse |
pub fn judge(
    asked: Asked<'_>,
    resource: Option<&ResourceState>,
    stack_status: Option<&str>,
) -> Verdict {
    let is_cleanup = stack_status.is_some_and(|s| CLEANUP_STACK_STATUSES.contains(&s));
    let status = resource.map_or("no such stack or resource", |r| r.status.as_str());
    let refuse = |why: String| Verdict::Refuse { status: status.to_owned(), why };
    let over = || Verdict::Over { status: status.to_owned() };
    let Some(resource) = resource else {
        return match asked {
            Asked::Delete(_) if is_cleanup => Verdict::Act(DeleteScope::OnlyTheNamedResource),
            _ => refuse(format!("CloudFormation has no such resource for a {}", asked.kind())),
        };
    };
    let current = resource.current_id();
    match (asked, status) {
        (Asked::Create, "CREATE_IN_PROGRESS") => Verdict::Act(DeleteScope::default()),
        (Asked::Create, "CREATE_COMPLETE" | "CREATE_FAILED") => over(),
        (Asked::Update(id), "UPDATE_IN_PROGRESS" | "UPDATE_ROLLBACK_IN_PROGRESS") => {
            match current {
                Some(current) if current != id => refuse(format!(
                    "the resource CloudFormation is updating is {current}, not {id}"
                )),
                _ => Verdict::Act(DeleteScope::default()),
            }
        }
        (
            Asked::Update(_),
            "UPDATE_COMPLETE"
            | "UPDATE_FAILED"
            | "UPDATE_ROLLBACK_COMPLETE"
            | "UPDATE_ROLLBACK_FAILED",
        ) => over(),
        // Whatever id it names: CloudFormation deletes this logical id now, and a Delete touches
        // only what is tagged for it (an id CloudFormation made up for a cancelled Create is
        // not known to be the one it shows).
        (Asked::Delete(_), "DELETE_IN_PROGRESS") => Verdict::Act(DeleteScope::default()),
        (Asked::Delete(id), _) if current.is_some_and(|current| current != id) => {
            match stack_status {
                _ if is_cleanup => Verdict::Act(DeleteScope::OnlyTheNamedResource),
                // The cleanup is over: a cleanup Delete delivered again.
                Some("UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE") => over(),
                _ => refuse(format!(
                    "{id} is not the resource CloudFormation knows ({}), and the stack is {} (a replaced resource is deleted only during its cleanup)",
                    current.unwrap_or_default(),
                    stack_status.unwrap_or("not cleaning up")
                )),
            }
        }
        (Asked::Delete(_), "DELETE_COMPLETE" | "DELETE_FAILED" | "DELETE_SKIPPED") => over(),
        _ => refuse(format!("a {} is not what CloudFormation does in that state", asked.kind())),
    }
}

/// Why a background acceptance loop (one that answers nobody, and only switches Private DNS on
/// once the provider accepts) must end, if it must: the stack no longer has the resource, is
/// deleting it, or the resource is now another endpoint. While an operation on the resource is
/// under way its id may not be answered yet (the loop starts before its Create or Update
/// answers): the loop goes on, and its next Check asks again.
pub fn background_loop_problem(
    resource: Option<&ResourceState>,
    endpoint_id: &str,
) -> Option<String> {
    let Some(resource) = resource else {
        return Some("the stack has no such resource".to_owned());
    };
    let status = resource.status.as_str();
    if status.starts_with("DELETE_") {
        return Some(format!("the resource is {status}"));
    }
    match resource.current_id() {
        Some(current) if current != endpoint_id && !status.ends_with("_IN_PROGRESS") => {
            Some(format!("the resource is now {current}, not {endpoint_id}"))
        }
        _ => None,
    }
}

/// How long a throttled or unreachable CloudFormation is asked again, at most: a Delete that
/// can't be confirmed fails (and changes nothing) rather than acting on an unconfirmed event.
const CONFIRM_PATIENCE: Duration = Duration::from_secs(60);

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

    /// A check over a client that is already made (by a caller with a configuration of its own).
    pub fn with_client(client: aws_sdk_cloudformation::Client) -> Self {
        Self { client: LazyClient::ready(client) }
    }

    async fn client(&self) -> &aws_sdk_cloudformation::Client {
        self.client.get(aws_sdk_cloudformation::Client::new).await
    }

    /// The resource's status and current physical id, or `None` when the stack or the resource
    /// does not exist.
    pub async fn resource(
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
            Err(err) if is_missing(err.code(), err.message()) => Ok(None),
            Err(err) => Err(AwsError::from_sdk("DescribeStackResource", err)),
        }
    }

    /// The stack's status, or `None` when there is no such stack.
    pub async fn stack_status(&self, stack_id: &str) -> Result<Option<String>, AwsError> {
        let asked = self.client().await.describe_stacks().stack_name(stack_id).send().await;
        match asked {
            Ok(out) => Ok(out
                .stacks()
                .first()
                .and_then(|s| s.stack_status())
                .map(|s| s.as_str().to_owned())),
            Err(err) if is_missing(err.code(), err.message()) => Ok(None),
            Err(err) => Err(AwsError::from_sdk("DescribeStacks", err)),
        }
    }

    /// What CloudFormation's state says of the event `asked` for `ctx`'s resource. Throttling
    /// and unanswered calls are asked again, for a while, within the handler's time.
    pub async fn verdict(&self, ctx: &RequestContext, asked: Asked<'_>) -> Result<Verdict> {
        let resource =
            self.resource_patiently(&ctx.stack_id, &ctx.logical_id, ctx.deadline).await?;
        let stack_status = match needs_stack_status(asked, resource.as_ref()) {
            true => {
                patiently("DescribeStacks", ctx.deadline, || self.stack_status(&ctx.stack_id))
                    .await?
            }
            false => None,
        };
        Ok(judge(asked, resource.as_ref(), stack_status.as_deref()))
    }

    /// [`StackCheck::resource`], asked again while CloudFormation is throttled or does not
    /// answer, for a while and never past `deadline`.
    pub async fn resource_patiently(
        &self,
        stack_id: &str,
        logical_id: &str,
        deadline: Instant,
    ) -> Result<Option<ResourceState>> {
        patiently("DescribeStackResource", deadline, || self.resource(stack_id, logical_id)).await
    }
}

/// CloudFormation answers an unknown stack or resource with a `ValidationError` that says
/// "... does not exist".
fn is_missing(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("ValidationError") && message.is_some_and(|m| m.contains("does not exist"))
}

/// Calls `ask` (the API call `operation`) again while CloudFormation is throttled or does not
/// answer (beyond the SDK's own retries), for [`CONFIRM_PATIENCE`] at most; no call outlasts
/// `deadline`, so the handler, not the engine's guard, says why nothing was done.
async fn patiently<T, F, Fut>(operation: &'static str, deadline: Instant, mut ask: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_secs(1);
    loop {
        let asked = tokio::time::timeout_at(deadline, ask()).await.unwrap_or_else(|_| {
            Err(AwsError {
                operation,
                kind: AwsErrorKind::Transport,
                code: "Timeout".to_owned(),
                message: "no answer before the function's deadline".to_owned(),
            })
        });
        match asked {
            Ok(answer) => return Ok(answer),
            Err(err)
                if matches!(err.kind, AwsErrorKind::Throttled | AwsErrorKind::Transport)
                    && started.elapsed() + pause < CONFIRM_PATIENCE
                    && deadline.saturating_duration_since(Instant::now()) > pause =>
            {
                tracing::warn!(error = %err, pause_ms = crate::lambda::millis(pause), "could not ask CloudFormation yet; asking again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(8));
            }
            Err(err) => return Err(Error::Unconfirmed(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: &str, physical_id: Option<&str>) -> ResourceState {
        ResourceState { status: status.into(), physical_id: physical_id.map(str::to_owned) }
    }

    /// Every resource status CloudFormation documents (API Reference, `ResourceStatus`).
    const RESOURCE_STATUSES: [&str; 28] = [
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "CREATE_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_FAILED",
        "DELETE_COMPLETE",
        "DELETE_SKIPPED",
        "UPDATE_IN_PROGRESS",
        "UPDATE_FAILED",
        "UPDATE_COMPLETE",
        "IMPORT_FAILED",
        "IMPORT_COMPLETE",
        "IMPORT_IN_PROGRESS",
        "IMPORT_ROLLBACK_IN_PROGRESS",
        "IMPORT_ROLLBACK_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
        "EXPORT_FAILED",
        "EXPORT_COMPLETE",
        "EXPORT_IN_PROGRESS",
        "EXPORT_ROLLBACK_IN_PROGRESS",
        "EXPORT_ROLLBACK_FAILED",
        "EXPORT_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
    ];

    /// Every stack status CloudFormation documents (API Reference, `StackStatus`).
    const STACK_STATUSES: [&str; 23] = [
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "CREATE_COMPLETE",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_FAILED",
        "ROLLBACK_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_FAILED",
        "DELETE_COMPLETE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
        "UPDATE_FAILED",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_FAILED",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
        "REVIEW_IN_PROGRESS",
        "IMPORT_IN_PROGRESS",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_IN_PROGRESS",
        "IMPORT_ROLLBACK_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
    ];

    /// The table, written out: (request, resource status) -> verdict, for an event naming the
    /// resource's current id. Every pair not listed is refused.
    fn expected(kind: &str, status: &str) -> &'static str {
        match (kind, status) {
            ("Create", "CREATE_IN_PROGRESS")
            | ("Update", "UPDATE_IN_PROGRESS" | "UPDATE_ROLLBACK_IN_PROGRESS")
            | ("Delete", "DELETE_IN_PROGRESS") => "act",
            ("Create", "CREATE_COMPLETE" | "CREATE_FAILED")
            | (
                "Update",
                "UPDATE_COMPLETE"
                | "UPDATE_FAILED"
                | "UPDATE_ROLLBACK_COMPLETE"
                | "UPDATE_ROLLBACK_FAILED",
            )
            | ("Delete", "DELETE_COMPLETE" | "DELETE_FAILED" | "DELETE_SKIPPED") => "over",
            _ => "refuse",
        }
    }

    fn name(verdict: &Verdict) -> &'static str {
        match verdict {
            Verdict::Act(DeleteScope::WhatTheOperationMade) => "act",
            Verdict::Act(DeleteScope::OnlyTheNamedResource) => "act on the named resource",
            Verdict::Over { .. } => "over",
            Verdict::Refuse { .. } => "refuse",
        }
    }

    #[test]
    fn every_request_type_in_every_resource_status_is_judged_as_the_table_says() {
        for status in RESOURCE_STATUSES {
            for asked in [Asked::Create, Asked::Update("vpce-1"), Asked::Delete("vpce-1")] {
                let resource = state(status, Some("vpce-1"));
                assert!(!needs_stack_status(asked, Some(&resource)), "{asked:?} {status}");
                let verdict = judge(asked, Some(&resource), None);
                assert_eq!(name(&verdict), expected(asked.kind(), status), "{asked:?} in {status}");
                if let Verdict::Refuse { status: shown, why } = &verdict {
                    assert_eq!(shown, status);
                    assert!(!why.is_empty());
                }
            }
        }
    }

    #[test]
    fn a_create_not_yet_answered_has_no_id_and_is_acted_on() {
        let creating = state("CREATE_IN_PROGRESS", None);
        assert_eq!(
            judge(Asked::Create, Some(&creating), None),
            Verdict::Act(DeleteScope::default())
        );
        let empty = state("CREATE_IN_PROGRESS", Some(""));
        assert_eq!(judge(Asked::Create, Some(&empty), None), Verdict::Act(DeleteScope::default()));
        // The rollback of a Create that never answered: the id CloudFormation made up.
        let cancelled = state("DELETE_IN_PROGRESS", None);
        assert!(!needs_stack_status(Asked::Delete("Ep-1A2B3C"), Some(&cancelled)));
        assert_eq!(
            judge(Asked::Delete("Ep-1A2B3C"), Some(&cancelled), None),
            Verdict::Act(DeleteScope::WhatTheOperationMade)
        );
    }

    #[test]
    fn an_update_naming_another_resource_than_the_one_being_updated_is_refused() {
        let updating = state("UPDATE_IN_PROGRESS", Some("vpce-1"));
        let verdict = judge(Asked::Update("vpce-2"), Some(&updating), None);
        assert!(
            matches!(&verdict, Verdict::Refuse { why, .. } if why.contains("vpce-1")),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_delete_of_another_id_is_a_cleanup_of_the_named_resource_only_in_a_cleanup_status() {
        for resource_status in RESOURCE_STATUSES {
            let resource = state(resource_status, Some("vpce-new"));
            for placeholder_or_not in ["vpce-old", "privatelink-failed-create-x", "Ep-1A2B3C"] {
                let asked = Asked::Delete(placeholder_or_not);
                if resource_status == "DELETE_IN_PROGRESS" {
                    // CloudFormation deletes this logical id: any Delete of it goes on.
                    assert!(!needs_stack_status(asked, Some(&resource)));
                    assert_eq!(name(&judge(asked, Some(&resource), None)), "act");
                    continue;
                }
                assert!(needs_stack_status(asked, Some(&resource)));
                for stack_status in STACK_STATUSES {
                    let verdict = judge(asked, Some(&resource), Some(stack_status));
                    let want = match stack_status {
                        s if CLEANUP_STACK_STATUSES.contains(&s) => "act on the named resource",
                        "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE" => "over",
                        _ => "refuse",
                    };
                    assert_eq!(name(&verdict), want, "{resource_status} {stack_status}");
                }
            }
        }
    }

    #[test]
    fn a_background_loop_goes_on_only_while_its_endpoint_is_the_stacks_resource() {
        let mine = "vpce-1";
        assert_eq!(
            background_loop_problem(Some(&state("CREATE_COMPLETE", Some(mine))), mine),
            None
        );
        assert_eq!(
            background_loop_problem(Some(&state("UPDATE_COMPLETE", Some(mine))), mine),
            None
        );
        // Started before its Create or Update answered: the id is not known yet, or the old one.
        assert_eq!(background_loop_problem(Some(&state("CREATE_IN_PROGRESS", None)), mine), None);
        assert_eq!(
            background_loop_problem(Some(&state("UPDATE_IN_PROGRESS", Some("vpce-0"))), mine),
            None
        );
        for (resource, why) in [
            (None, "no such resource"),
            (Some(state("DELETE_IN_PROGRESS", Some(mine))), "DELETE_IN_PROGRESS"),
            (Some(state("DELETE_COMPLETE", Some(mine))), "DELETE_COMPLETE"),
            (Some(state("UPDATE_COMPLETE", Some("vpce-2"))), "now vpce-2"),
        ] {
            let problem = background_loop_problem(resource.as_ref(), mine).unwrap_or_default();
            assert!(problem.contains(why), "{resource:?}: {problem}");
        }
    }

    #[test]
    fn a_delete_for_a_resource_the_stack_no_longer_has_is_acted_on_only_in_a_cleanup() {
        let asked = Asked::Delete("sg-1");
        assert!(needs_stack_status(asked, None));
        for stack_status in STACK_STATUSES {
            let verdict = judge(asked, None, Some(stack_status));
            let want = match CLEANUP_STACK_STATUSES.contains(&stack_status) {
                true => "act on the named resource",
                false => "refuse",
            };
            assert_eq!(name(&verdict), want, "{stack_status}");
        }
        assert_eq!(name(&judge(asked, None, None)), "refuse");
        assert_eq!(name(&judge(Asked::Create, None, Some(CLEANUP_STACK_STATUSES[0]))), "refuse");
        assert_eq!(name(&judge(Asked::Update("sg-1"), None, None)), "refuse");
    }
}
