//! VPCs and subnets: their address blocks, zones and DNS attributes.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, VpcAttributeName, VpcCidrBlockStateCode};

use super::{canonical_cidr, not_found, Ec2, Ec2Result, SubnetView, VpcDns};
use crate::error::AwsError;

impl Ec2 {
    /// Every associated IPv4 and IPv6 CIDR block of a VPC.
    pub async fn vpc_cidrs(&self, vpc_id: &str) -> Ec2Result<Vec<String>> {
        let out = self
            .client()
            .await
            .describe_vpcs()
            .vpc_ids(vpc_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeVpcs", e))?;
        let Some(vpc) = out.vpcs().first() else {
            return Err(not_found("DescribeVpcs", "InvalidVpcID.NotFound", vpc_id));
        };
        let associated = |state: Option<&VpcCidrBlockStateCode>| {
            // Absent state: older answers (and the emulator) omit it for the primary block.
            state.is_none_or(|s| *s == VpcCidrBlockStateCode::Associated)
        };
        let mut cidrs: Vec<String> = vpc
            .cidr_block_association_set()
            .iter()
            .filter(|a| associated(a.cidr_block_state().and_then(|s| s.state())))
            .filter_map(|a| a.cidr_block().map(str::to_owned))
            .collect();
        if cidrs.is_empty() {
            cidrs.extend(vpc.cidr_block().map(str::to_owned));
        }
        cidrs.extend(
            vpc.ipv6_cidr_block_association_set()
                .iter()
                .filter(|a| associated(a.ipv6_cidr_block_state().and_then(|s| s.state())))
                .filter_map(|a| a.ipv6_cidr_block().map(str::to_owned)),
        );
        Ok(cidrs.iter().map(|c| canonical_cidr(c)).collect())
    }

    /// The subnets asked for, in the order asked; a NotFound error names every subnet that
    /// does not exist, and only those. (Asked by filter: by id, EC2 refuses the whole call at the
    /// first unknown id.)
    pub async fn subnets(&self, subnet_ids: &[String]) -> Ec2Result<Vec<SubnetView>> {
        let out = self
            .client()
            .await
            .describe_subnets()
            .filters(
                Filter::builder().name("subnet-id").set_values(Some(subnet_ids.to_vec())).build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeSubnets", e))?;
        let mut found: BTreeMap<String, SubnetView> = out
            .subnets()
            .iter()
            .filter_map(|s| {
                let view = SubnetView {
                    id: s.subnet_id()?.to_owned(),
                    zone: s.availability_zone().unwrap_or_default().to_owned(),
                    zone_id: s.availability_zone_id().unwrap_or_default().to_owned(),
                    ipv4_cidr: s.cidr_block().map(str::to_owned),
                    ipv6_cidrs: s
                        .ipv6_cidr_block_association_set()
                        .iter()
                        .filter_map(|a| a.ipv6_cidr_block().map(canonical_cidr))
                        .collect(),
                };
                Some((view.id.clone(), view))
            })
            .collect();
        let missing: Vec<&str> =
            subnet_ids.iter().map(String::as_str).filter(|id| !found.contains_key(*id)).collect();
        if !missing.is_empty() {
            return Err(not_found(
                "DescribeSubnets",
                "InvalidSubnetID.NotFound",
                &missing.join(", "),
            ));
        }
        Ok(subnet_ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// The VPC's `enableDnsSupport` and `enableDnsHostnames` (one call each, at once: the API
    /// reads one attribute per call).
    pub async fn vpc_dns_attributes(&self, vpc_id: &str) -> Ec2Result<VpcDns> {
        let (support, hostnames) = tokio::try_join!(
            self.vpc_attribute(vpc_id, VpcAttributeName::EnableDnsSupport),
            self.vpc_attribute(vpc_id, VpcAttributeName::EnableDnsHostnames),
        )?;
        Ok(VpcDns {
            support: support.enable_dns_support().and_then(|v| v.value()).unwrap_or(false),
            hostnames: hostnames.enable_dns_hostnames().and_then(|v| v.value()).unwrap_or(false),
        })
    }

    async fn vpc_attribute(
        &self,
        vpc_id: &str,
        attribute: VpcAttributeName,
    ) -> Ec2Result<aws_sdk_ec2::operation::describe_vpc_attribute::DescribeVpcAttributeOutput> {
        self.client()
            .await
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(attribute)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeVpcAttribute", e))
    }
}
