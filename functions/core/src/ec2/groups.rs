//! Security groups: made, read, their rules added and removed, deleted.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair,
};

use super::view::group_view;
use super::{owner_filters, tag_spec, Ec2, Ec2Result, GroupView, IngressRule, PortRange, Source};
use crate::error::AwsError;

fn ports_permission(ports: PortRange, sources: &[&Source], description: &str) -> IpPermission {
    let mut permission = IpPermission::builder()
        .ip_protocol(ports.transport.as_str())
        .from_port(i32::from(ports.from))
        .to_port(i32::from(ports.to));
    for source in sources {
        permission = match source {
            Source::Cidr(cidr) if cidr.contains(':') => permission
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).description(description).build()),
            Source::Cidr(cidr) => permission
                .ip_ranges(IpRange::builder().cidr_ip(cidr).description(description).build()),
            Source::Group(id) => permission.user_id_group_pairs(
                UserIdGroupPair::builder().group_id(id).description(description).build(),
            ),
            Source::PrefixList(id) => permission.prefix_list_ids(
                PrefixListId::builder().prefix_list_id(id).description(description).build(),
            ),
        };
    }
    permission.build()
}

/// Groups rules by ports, one permission per port range, as EC2 takes them.
fn permissions(rules: &[IngressRule], description: &str) -> Vec<IpPermission> {
    let mut by_port: BTreeMap<PortRange, Vec<&Source>> = BTreeMap::new();
    for rule in rules {
        by_port.entry(rule.port).or_default().push(&rule.source);
    }
    by_port
        .into_iter()
        .map(|(ports, sources)| ports_permission(ports, &sources, description))
        .collect()
}

impl Ec2 {
    /// Creates a security group with `tags`; returns its id.
    pub async fn create_group(
        &self,
        name: &str,
        description: &str,
        vpc_id: &str,
        tags: &[(String, String)],
    ) -> Ec2Result<String> {
        let out = self
            .client()
            .await
            .create_security_group()
            .group_name(name)
            .description(description)
            .vpc_id(vpc_id)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, tags))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateSecurityGroup", e))?;
        Ok(out.group_id().unwrap_or_default().to_owned())
    }

    /// The group `id`, or `None` when it does not exist.
    pub async fn group(&self, id: &str) -> Ec2Result<Option<GroupView>> {
        match self.client().await.describe_security_groups().group_ids(id).send().await {
            Ok(out) => Ok(out.security_groups().first().map(group_view)),
            Err(e) => AwsError::from_sdk("DescribeSecurityGroups", e).none_if_not_found(),
        }
    }

    /// The group named `name` in `vpc_id`, if any.
    pub async fn group_by_name(&self, vpc_id: &str, name: &str) -> Ec2Result<Option<GroupView>> {
        let out = self
            .client()
            .await
            .describe_security_groups()
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .filters(Filter::builder().name("group-name").values(name).build())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
        Ok(out.security_groups().first().map(group_view))
    }

    /// The groups among `ids` that do not exist (asked by filter, so that every missing one is
    /// named, not only the first).
    pub async fn missing_groups(&self, ids: &[String]) -> Ec2Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .client()
            .await
            .describe_security_groups()
            .filters(Filter::builder().name("group-id").set_values(Some(ids.to_vec())).build())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
        let found: Vec<&str> = out.security_groups().iter().filter_map(|g| g.group_id()).collect();
        Ok(ids.iter().filter(|id| !found.contains(&id.as_str())).cloned().collect())
    }

    /// The managed prefix lists among `ids` that do not exist.
    pub async fn missing_prefix_lists(&self, ids: &[String]) -> Ec2Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .client()
            .await
            .describe_managed_prefix_lists()
            .filters(
                Filter::builder().name("prefix-list-id").set_values(Some(ids.to_vec())).build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeManagedPrefixLists", e))?;
        let found: Vec<&str> =
            out.prefix_lists().iter().filter_map(|l| l.prefix_list_id()).collect();
        Ok(ids.iter().filter(|id| !found.contains(&id.as_str())).cloned().collect())
    }

    /// Groups tagged as made for this stack and logical id.
    pub async fn groups_made_for(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> Ec2Result<Vec<GroupView>> {
        let out = self
            .client()
            .await
            .describe_security_groups()
            .set_filters(Some(owner_filters(stack_id, logical_id).to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
        Ok(out.security_groups().iter().map(group_view).collect())
    }

    /// Adds inbound rules, each with `description`.
    pub async fn authorize_ingress(
        &self,
        group_id: &str,
        rules: &[IngressRule],
        description: &str,
    ) -> Ec2Result<()> {
        if rules.is_empty() {
            return Ok(());
        }
        self.client()
            .await
            .authorize_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions(rules, description)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("AuthorizeSecurityGroupIngress", e))?;
        Ok(())
    }

    /// Removes inbound rules: the given single-port rules and any `foreign` permissions.
    pub async fn revoke_ingress(
        &self,
        group_id: &str,
        rules: &[IngressRule],
        foreign: &[IpPermission],
    ) -> Ec2Result<()> {
        let mut all = permissions(rules, "");
        all.extend(foreign.iter().cloned());
        if all.is_empty() {
            return Ok(());
        }
        self.client()
            .await
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(all))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupIngress", e))?;
        Ok(())
    }

    /// Adds rules exactly as described (putting back what a failed takeover removed): inbound,
    /// or with `outbound`, outbound.
    pub async fn authorize_permissions(
        &self,
        group_id: &str,
        permissions: &[IpPermission],
        outbound: bool,
    ) -> Ec2Result<()> {
        if permissions.is_empty() {
            return Ok(());
        }
        let client = self.client().await;
        let permissions = Some(permissions.to_vec());
        match outbound {
            true => client
                .authorize_security_group_egress()
                .group_id(group_id)
                .set_ip_permissions(permissions)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("AuthorizeSecurityGroupEgress", e)),
            false => client
                .authorize_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(permissions)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("AuthorizeSecurityGroupIngress", e)),
        }
    }

    /// Removes outbound rules exactly as they were described.
    pub async fn revoke_egress(
        &self,
        group_id: &str,
        permissions: &[IpPermission],
    ) -> Ec2Result<()> {
        if permissions.is_empty() {
            return Ok(());
        }
        self.client()
            .await
            .revoke_security_group_egress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupEgress", e))?;
        Ok(())
    }

    /// Deletes a group.
    pub async fn delete_group(&self, group_id: &str) -> Ec2Result<()> {
        self.client()
            .await
            .delete_security_group()
            .group_id(group_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteSecurityGroup", e))?;
        Ok(())
    }
}
