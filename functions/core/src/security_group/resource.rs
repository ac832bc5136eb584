//! `Custom::PrivateLinkSecurityGroup` served: observe the group, apply the plan's rules, answer
//! once; a group made before by this resource is found by its name, one taken over is claimed
//! and given back if the takeover fails. Delete is cleanup, apart.

use std::time::Duration;

use serde_json::Value;

use super::plan::{self, check_takeover, default_group_name, needs_replacement, outcome, Call};
use super::spec::GroupSpec;
use crate::cfn::engine::CustomResource;
use crate::cfn::{self, DeleteScope, Outcome, Reply, RequestContext};
use crate::ec2::{self, Ec2, GroupView};
use crate::error::{AwsErrorKind, Error, Result};
use crate::properties;

/// Kept at the end of a takeover's time to give the resource back if it can't finish.
const GIVE_BACK_TIME: Duration = Duration::from_secs(10);
/// How long a group just made may stay invisible before that is an error.
const VISIBILITY_WAIT: Duration = Duration::from_secs(30);

/// Serves `Custom::PrivateLinkSecurityGroup`.
pub struct SecurityGroupResource {
    ec2: Ec2,
}

impl SecurityGroupResource {
    /// The resource over EC2 operations.
    pub fn new(ec2: Ec2) -> Self {
        Self { ec2 }
    }

    /// `SourceCidrs`, or else the VPC's own blocks (as associated now), or none when other
    /// sources are given. The source groups and prefix lists are checked to exist, so that a
    /// typo is named before anything is made.
    async fn source_cidrs(&self, spec: &GroupSpec) -> Result<Vec<String>> {
        let missing = self.ec2.missing_groups(&spec.source_group_ids).await?;
        if !missing.is_empty() {
            return Err(Error::property(
                "SourceSecurityGroupIds",
                format!("{} does not exist in this account and Region", missing.join(", ")),
            ));
        }
        let missing = self.ec2.missing_prefix_lists(&spec.source_prefix_lists).await?;
        if !missing.is_empty() {
            return Err(Error::property(
                "SourcePrefixListIds",
                format!("{} does not exist in this account and Region", missing.join(", ")),
            ));
        }
        match &spec.source_cidrs {
            Some(cidrs) => Ok(cidrs.clone()),
            None if !spec.defaults_to_vpc_cidrs() => Ok(Vec::new()),
            None => self
                .ec2
                .vpc_cidrs(&spec.vpc_id)
                .await
                .map_err(|e| e.not_found_is_property("VpcId", &spec.vpc_id)),
        }
    }

    /// `ExistingGroupId`'s group, checked and claimed as this resource's, then reconciled. Until
    /// the Create answers SUCCESS the group is not ours: a failure (or running out of time)
    /// gives it back as it was found, and a rival claim wins or loses before anything changes.
    async fn take_over(
        &self,
        ctx: &RequestContext,
        spec: &GroupSpec,
        group_id: &str,
    ) -> Result<Outcome> {
        let cidrs = self.source_cidrs(spec).await?;
        let found = self.ec2.group(group_id).await?.ok_or_else(|| {
            Error::property(
                "ExistingGroupId",
                format!("{group_id} does not exist in this account and Region"),
            )
        })?;
        check_takeover(&found, spec, &ctx.stack_id, &ctx.logical_id)?;
        if !ec2::is_owned_by(&found.tags, &ctx.stack_id, &ctx.logical_id) {
            tracing::info!(group_id, "taking over the existing group");
            let claim = ec2::claim_tags(&ctx.stack_id, &ctx.logical_id, &ctx.request_id);
            self.ec2.tag(group_id, &claim).await?;
            // A rival claim written meanwhile overwrote ours, or is overwritten by it within a
            // round trip: read back after the settle time, only one claim stands.
            tokio::time::sleep(ec2::CLAIM_SETTLE).await;
            let tags = self.ec2.group(group_id).await?.map(|g| g.tags).unwrap_or_default();
            ec2::check_claim_stands(
                "ExistingGroupId",
                group_id,
                &tags,
                &ctx.stack_id,
                &ctx.logical_id,
            )?;
        }
        let undo_by = ctx.deadline.checked_sub(GIVE_BACK_TIME).unwrap_or(ctx.deadline);
        let take_over = async {
            self.apply_rules(ctx, group_id, spec, &cidrs).await?;
            // Answering SUCCESS now: from here on the group is the stack's.
            self.ec2.tag(group_id, &[ec2::answered_takeover(&ctx.request_id)]).await?;
            Ok::<_, Error>(())
        };
        let reconciled = tokio::time::timeout_at(undo_by, take_over).await;
        let failure = match reconciled {
            Ok(Ok(())) => return Ok(outcome(group_id, spec, &cidrs)),
            Ok(Err(err)) => err,
            Err(_) => Error::NotReady {
                what: format!("Taking over security group {group_id}"),
                detail: "it was given back as it was found; raise the function's timeout and retry"
                    .to_owned(),
            },
        };
        tracing::warn!(group_id, error = %failure, "the takeover failed: giving the group back as it was found");
        self.give_back(group_id, Some(&found)).await;
        Err(failure)
    }

    /// Deletes the groups tagged for this resource other than `kept`, which an Update keeps in
    /// place: CloudFormation knows of no other (a replacement cut off before it answered made
    /// one, and the rollback's Update came back to `kept`; or a replaced group's cleanup
    /// failed). Best effort: a group that can't go yet stays, logged.
    async fn remove_strays(&self, ctx: &RequestContext, kept: &str) {
        let strays = match self.ec2.groups_made_for(&ctx.stack_id, &ctx.logical_id).await {
            Ok(groups) => groups,
            Err(err) => return tracing::warn!(error = %err, "could not look for stray groups"),
        };
        for group in strays.into_iter().filter(|g| g.id != kept) {
            if ec2::is_pending_takeover(&group.tags) {
                self.give_back(&group.id, None).await;
                continue;
            }
            match self.ec2.delete_group(&group.id).await {
                Ok(()) => {
                    tracing::info!(group_id = %group.id, "deleted a group CloudFormation does not know of")
                }
                Err(err) => {
                    tracing::warn!(group_id = %group.id, error = %err, "could not delete a stray group")
                }
            }
        }
    }

    /// Gives a group taken over back: its rules and the user's tags as `found` had them (when
    /// known), every tag of this project removed. Best effort: what can't be done is logged,
    /// and the rollback's Delete removes the owner tags again.
    async fn give_back(&self, group_id: &str, found: Option<&GroupView>) {
        let given = async {
            let Some(now) = self.ec2.group(group_id).await? else { return Ok(()) };
            self.apply(group_id, &plan::give_back(&now, found)).await
        }
        .await;
        match given {
            Ok(()) => tracing::info!(group_id, "gave the group back"),
            Err(err) => {
                tracing::error!(group_id, error = %err, "could not give the group back in full")
            }
        }
    }

    /// Makes the group (or adopts the one a redelivered request made), then reconciles it.
    async fn create_group(
        &self,
        ctx: &RequestContext,
        spec: &GroupSpec,
        replacing: Option<&str>,
    ) -> Result<Outcome> {
        let cidrs = self.source_cidrs(spec).await?;
        let name = spec
            .group_name
            .clone()
            .unwrap_or_else(|| default_group_name(ctx, &spec.vpc_id, &spec.description));
        let mut tags = ec2::made_tags(&ctx.stack_id, &ctx.logical_id);
        tags.extend(spec.tags.iter().map(|t| (t.key.clone(), t.value.clone())));
        let (group_id, made_now) =
            match self.ec2.create_group(&name, &spec.description, &spec.vpc_id, &tags).await {
                Ok(id) => (id, true),
                Err(err) if err.kind == AwsErrorKind::Duplicate => {
                    (self.made_before(ctx, spec, &name, replacing).await?, false)
                }
                Err(err) => return Err(err.into()),
            };
        tracing::info!(group_id, made_now, "security group");
        let reconciled = self.apply_rules(ctx, &group_id, spec, &cidrs).await;
        if let Err(err) = reconciled {
            // A replacement that fails must not leave a second group behind: CloudFormation keeps
            // the old id and will never ask to delete this one.
            if made_now && replacing.is_some() {
                if let Err(cleanup) = self.ec2.delete_group(&group_id).await {
                    tracing::warn!(group_id, error = %cleanup, "could not remove the half-made replacement");
                }
            }
            return Err(err);
        }
        Ok(outcome(&group_id, spec, &cidrs))
    }

    /// The group a name clash points at, if it is the one this resource made before (a
    /// redelivered Create, or a rollback to the group being replaced).
    async fn made_before(
        &self,
        ctx: &RequestContext,
        spec: &GroupSpec,
        name: &str,
        replacing: Option<&str>,
    ) -> Result<String> {
        let existing = self.ec2.group_by_name(&spec.vpc_id, name).await?;
        match existing {
            Some(group)
                if ec2::is_owned_by(&group.tags, &ctx.stack_id, &ctx.logical_id)
                    && Some(group.id.as_str()) != replacing
                    && group.description == spec.description =>
            {
                tracing::info!(group_id = %group.id, "adopting the group this resource made before");
                Ok(group.id)
            }
            _ => Err(Error::property(
                "GroupName",
                format!(
                    "a security group named {} already exists in {}; a change of VpcId, GroupName or Description needs a new group, so choose another GroupName (or leave it out for a generated one)",
                    crate::text::quoted(name),
                    spec.vpc_id
                ),
            )),
        }
    }

    /// Makes the group's rules and tags what the spec asks for, and removes every other rule.
    async fn apply_rules(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        spec: &GroupSpec,
        cidrs: &[String],
    ) -> Result<()> {
        let current = self.visible_group(ctx, group_id).await?;
        self.apply(group_id, &plan::plan(&current, spec, cidrs)).await
    }

    /// Makes the calls of a plan, in order.
    async fn apply(&self, group_id: &str, calls: &[Call]) -> Result<()> {
        tracing::info!(group_id, ?calls, "applying");
        for call in calls {
            match call {
                Call::RevokeEgress(rules) => self.ec2.revoke_egress(group_id, rules).await?,
                Call::AuthorizeIngress { rules, description } => {
                    self.ec2.authorize_ingress(group_id, rules, description).await?
                }
                Call::RevokeIngress { rules, foreign } => {
                    self.ec2.revoke_ingress(group_id, rules, foreign).await?
                }
                Call::Restore { permissions, outbound } => {
                    self.ec2.authorize_permissions(group_id, permissions, *outbound).await?
                }
                Call::Tag { set, unset } => {
                    self.ec2.tag(group_id, set).await?;
                    self.ec2.untag(group_id, unset).await?;
                }
            }
        }
        Ok(())
    }

    /// The group, looked for again for a while (bounded) when EC2 does not show it yet: a group
    /// just made can answer `InvalidGroup.NotFound` for a few seconds (eventual consistency).
    async fn visible_group(&self, ctx: &RequestContext, group_id: &str) -> Result<GroupView> {
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(500);
        loop {
            if let Some(group) = self.ec2.group(group_id).await? {
                return Ok(group);
            }
            if started.elapsed() >= VISIBILITY_WAIT || ctx.remaining() <= pause {
                return Err(Error::NotReady {
                    what: format!("Security group {group_id}"),
                    detail: format!(
                        "EC2 has not shown it for {} s after it was made; retry the stack operation (the same group is reused)",
                        started.elapsed().as_secs()
                    ),
                });
            }
            tracing::info!(group_id, "the group is not visible yet; looking again");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// Deletes a group, retrying while lingering network interfaces still use it.
    async fn delete_group(&self, ctx: &RequestContext, group_id: &str) -> Result<()> {
        let started = tokio::time::Instant::now();
        let mut pause = None;
        loop {
            match self.ec2.delete_group(group_id).await {
                Ok(()) => return Ok(()),
                Err(err) if err.is_not_found() => return Ok(()),
                Err(err) if err.kind == AwsErrorKind::DependencyViolation => {
                    let Some(next) = next_in_use_pause(pause, ctx.remaining()) else {
                        return Err(Error::GroupStillInUse {
                            group: group_id.to_owned(),
                            waited_secs: started.elapsed().as_secs(),
                        });
                    };
                    tracing::info!(
                        group_id,
                        pause_ms = crate::lambda::millis(next),
                        "group still in use; retrying"
                    );
                    tokio::time::sleep(next).await;
                    pause = Some(next);
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
}

/// The pause before the next DeleteSecurityGroup of a group still in use (1 s, doubling up to
/// 10 s), or None when the invocation has no time left for it: the delete then fails saying so
/// rather than being cut off by the function's timeout. `last`: the previous pause, if any.
fn next_in_use_pause(last: Option<Duration>, remaining: Duration) -> Option<Duration> {
    let next =
        last.map_or(Duration::from_secs(1), |pause| (pause * 2).min(Duration::from_secs(10)));
    (remaining > next).then_some(next)
}

impl CustomResource for SecurityGroupResource {
    async fn create(&self, ctx: &RequestContext, properties: &Value) -> Result<Reply> {
        let spec = GroupSpec::parse(properties)?;
        if let Some(group_id) = &spec.existing_group_id {
            return self.take_over(ctx, &spec, group_id).await.map(Reply::from);
        }
        self.create_group(ctx, &spec, None).await.map(Reply::from)
    }

    async fn update(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        properties: &Value,
        _old: &Value,
    ) -> Result<Reply> {
        let spec = GroupSpec::parse(properties)?;
        // Decided from the group as it is, not from OldResourceProperties: on a rollback those
        // are the properties that failed.
        let current = match properties::is_aws_id(physical_id, "sg-") {
            true => self.ec2.group(physical_id).await?,
            false => None,
        };
        let Some(current) = current else {
            tracing::info!("the group is gone; making a new one");
            // As for a replacement: a failure must not leave the new one behind.
            return self.create_group(ctx, &spec, Some(physical_id)).await.map(Reply::from);
        };
        // Only what this resource made is changed (an event can name any id).
        ec2::check_owned(&current.id, &current.tags, &ctx.stack_id, &ctx.logical_id)?;
        let name = spec
            .group_name
            .clone()
            .unwrap_or_else(|| default_group_name(ctx, &spec.vpc_id, &spec.description));
        let adopted = spec.existing_group_id.as_deref() == Some(current.id.as_str());
        if needs_replacement(&current, &spec.vpc_id, &name, &spec.description, adopted) {
            tracing::info!("VpcId, GroupName or Description changed: replacing the group");
            return self.create_group(ctx, &spec, Some(physical_id)).await.map(Reply::from);
        }
        let cidrs = self.source_cidrs(&spec).await?;
        self.apply_rules(ctx, physical_id, &spec, &cidrs).await?;
        self.remove_strays(ctx, physical_id).await;
        Ok(outcome(physical_id, &spec, &cidrs).into())
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        physical_id: &str,
        _properties: &Value,
    ) -> Result<Reply> {
        if properties::is_aws_id(physical_id, "sg-") {
            match self.ec2.group(physical_id).await? {
                Some(group) if ec2::is_owned_by(&group.tags, &ctx.stack_id, &ctx.logical_id) => {
                    if ec2::is_pending_takeover(&group.tags) {
                        // Taken over by a Create that never answered SUCCESS: not ours.
                        tracing::info!("giving back a group whose takeover never succeeded");
                        self.give_back(physical_id, None).await;
                    } else {
                        self.delete_group(ctx, physical_id).await?;
                    }
                }
                Some(_) => tracing::warn!("the group is not one this resource made; leaving it"),
                None => tracing::info!("the group is already gone"),
            }
        } else if ctx.delete_scope == DeleteScope::OnlyTheNamedResource {
            tracing::info!("a cleanup Delete of an id that names no group: nothing to do");
        } else {
            // A placeholder from a failed Create, or an id CloudFormation made up for a Create it
            // cancelled: whatever that Create made is found by its tags (looking again for a
            // while when its calls may still complete).
            let left =
                cfn::find_what_a_create_left(ctx, physical_id, Duration::from_secs(2), || async {
                    Ok(self.ec2.groups_made_for(&ctx.stack_id, &ctx.logical_id).await?)
                })
                .await?;
            for group in left {
                if group.tags.contains_key(ec2::TAG_TAKEN_OVER) {
                    // Taken over, never answered: not ours to delete.
                    tracing::info!(group_id = %group.id, "giving back a group an unfinished Create took over");
                    self.give_back(&group.id, None).await;
                    continue;
                }
                tracing::info!(group_id = %group.id, "deleting a group left by an unfinished Create");
                self.delete_group(ctx, &group.id).await?;
            }
        }
        Ok(Outcome::new(physical_id).into())
    }
}

// The loop itself meets the emulator's DependencyViolation (tests/test_security_group.py: a group
// whose endpoint's interfaces linger is deleted once they are gone; one still in use fails before
// the deadline, naming the group).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_in_use_is_retried_after_pauses_doubling_from_one_second_to_ten() {
        let mut pauses = Vec::new();
        let mut last = None;
        while let Some(next) = next_in_use_pause(last, Duration::from_secs(3600)) {
            pauses.push(next.as_secs());
            last = Some(next);
            if pauses.len() == 6 {
                break;
            }
        }
        assert_eq!(pauses, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn a_group_in_use_is_given_up_when_the_next_pause_would_reach_the_deadline() {
        assert_eq!(
            next_in_use_pause(Some(Duration::from_secs(4)), Duration::from_secs(9)),
            Some(Duration::from_secs(8))
        );
        assert_eq!(next_in_use_pause(Some(Duration::from_secs(4)), Duration::from_secs(8)), None);
        assert_eq!(next_in_use_pause(None, Duration::from_millis(900)), None);
    }
}
