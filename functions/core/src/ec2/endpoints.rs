//! Interface endpoints: the service looked up, the endpoint made, read, changed and deleted,
//! its interfaces and its connection notifications.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    DnsOptionsSpecification, DnsRecordIpType, Filter, IpAddressType, ResourceType,
    SubnetConfiguration, VpcEndpointType,
};

use super::view::endpoint_view;
use super::{
    first_failure, not_found, owner_filters, tag_spec, DnsOptions, Ec2, Ec2Result, EndpointChange,
    EndpointView, InterfaceView, NewEndpoint, ServiceView, SubnetAddress, TAG_STACK_ID,
};
use crate::error::{AwsError, AwsErrorKind};

/// The connection events an endpoint's notification topic is told of. `Connect` comes first in
/// AWS's list, but happens while the endpoint is created, before a notification can exist.
pub const CONNECTION_EVENTS: [&str; 4] = ["Connect", "Accept", "Reject", "Delete"];
fn dns_options_spec(options: &DnsOptions) -> DnsOptionsSpecification {
    DnsOptionsSpecification::builder()
        .set_dns_record_ip_type(options.record_ip_type.as_deref().map(DnsRecordIpType::from))
        .set_private_dns_only_for_inbound_resolver_endpoint(options.only_inbound_resolver)
        .build()
}

fn subnet_configurations(addresses: &[SubnetAddress]) -> Option<Vec<SubnetConfiguration>> {
    (!addresses.is_empty()).then(|| {
        addresses
            .iter()
            .map(|a| {
                SubnetConfiguration::builder()
                    .subnet_id(&a.subnet_id)
                    .set_ipv4(a.ipv4.clone())
                    .set_ipv6(a.ipv6.clone())
                    .build()
            })
            .collect()
    })
}

impl Ec2 {
    /// The console's "Verify": what the service offers, or `InvalidServiceName`.
    pub async fn service(&self, name: &str, region: Option<&str>) -> Ec2Result<ServiceView> {
        let out = self
            .client()
            .await
            .describe_vpc_endpoint_services()
            .service_names(name)
            .set_service_regions(region.map(|r| vec![r.to_owned()]))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeVpcEndpointServices", e))?;
        let Some(detail) = out.service_details().iter().find(|d| d.service_name() == Some(name))
        else {
            return Err(AwsError {
                operation: "DescribeVpcEndpointServices",
                kind: AwsErrorKind::InvalidServiceName,
                code: "InvalidServiceName".into(),
                message: format!("The Vpc Endpoint Service '{name}' does not exist"),
            });
        };
        Ok(ServiceView {
            name: name.to_owned(),
            region: detail.service_region().map(str::to_owned),
            zones: detail.availability_zones().to_vec(),
            acceptance_required: detail.acceptance_required().unwrap_or(false),
            policy_supported: detail.vpc_endpoint_policy_supported(),
            ip_address_types: detail
                .supported_ip_address_types()
                .iter()
                .map(|t| t.as_str().to_ascii_lowercase())
                .collect(),
            private_dns_name: detail.private_dns_name().map(str::to_owned),
            private_dns_verification: detail
                .private_dns_name_verification_state()
                .map(|s| s.as_str().to_owned()),
        })
    }

    /// Creates an interface endpoint (idempotent by `client_token`).
    pub async fn create_endpoint(&self, new: &NewEndpoint<'_>) -> Ec2Result<EndpointView> {
        let out = self
            .client()
            .await
            .create_vpc_endpoint()
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .vpc_id(new.vpc_id)
            .service_name(new.service_name)
            .set_subnet_ids(Some(new.subnet_ids.to_vec()))
            .set_subnet_configurations(subnet_configurations(new.subnet_addresses))
            .set_security_group_ids((!new.group_ids.is_empty()).then(|| new.group_ids.to_vec()))
            .set_policy_document(new.policy.map(str::to_owned))
            // Sent explicitly: the raw API's default is true, CloudFormation's is false.
            .private_dns_enabled(new.private_dns_enabled)
            .set_ip_address_type(new.ip_address_type.map(IpAddressType::from))
            .set_dns_options(
                (!new.dns_options.is_empty()).then(|| dns_options_spec(new.dns_options)),
            )
            .set_service_region(new.service_region.map(str::to_owned))
            .client_token(new.client_token)
            .tag_specifications(tag_spec(ResourceType::VpcEndpoint, new.tags))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateVpcEndpoint", e))?;
        out.vpc_endpoint()
            .map(endpoint_view)
            .ok_or_else(|| not_found("CreateVpcEndpoint", "MissingVpcEndpoint", new.service_name))
    }

    /// The endpoint `id`, or `None` when it does not exist.
    pub async fn endpoint(&self, id: &str) -> Ec2Result<Option<EndpointView>> {
        match self.client().await.describe_vpc_endpoints().vpc_endpoint_ids(id).send().await {
            Ok(out) => Ok(out.vpc_endpoints().first().map(endpoint_view)),
            Err(e) => AwsError::from_sdk("DescribeVpcEndpoints", e).none_if_not_found(),
        }
    }

    async fn endpoints_where(&self, filters: Vec<Filter>) -> Ec2Result<Vec<EndpointView>> {
        let out = self
            .client()
            .await
            .describe_vpc_endpoints()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeVpcEndpoints", e))?;
        Ok(out.vpc_endpoints().iter().map(endpoint_view).collect())
    }

    /// Endpoints tagged as made for this stack and logical id, including deleted ones.
    pub async fn endpoints_made_for(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> Ec2Result<Vec<EndpointView>> {
        self.endpoints_where(owner_filters(stack_id, logical_id).to_vec()).await
    }

    /// Every endpoint this project made (tagged with a stack id), optionally in one VPC.
    pub async fn managed_endpoints(&self, vpc_id: Option<&str>) -> Ec2Result<Vec<EndpointView>> {
        let mut filters = vec![Filter::builder().name("tag-key").values(TAG_STACK_ID).build()];
        filters.extend(vpc_id.map(|vpc| Filter::builder().name("vpc-id").values(vpc).build()));
        self.endpoints_where(filters).await
    }

    /// Every endpoint of a VPC, deleted ones included.
    pub async fn endpoints_in_vpc(&self, vpc_id: &str) -> Ec2Result<Vec<EndpointView>> {
        self.endpoints_where(vec![Filter::builder().name("vpc-id").values(vpc_id).build()]).await
    }

    /// The private DNS names of endpoint services, by service name (services without one, or
    /// no longer offered, are left out).
    pub async fn private_dns_names(
        &self,
        service_names: &[String],
    ) -> Ec2Result<BTreeMap<String, String>> {
        if service_names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let out = self
            .client()
            .await
            .describe_vpc_endpoint_services()
            .set_service_names(Some(service_names.to_vec()))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let error = AwsError::from_sdk("DescribeVpcEndpointServices", e);
                // A service its provider has since withdrawn holds no name to compare.
                return match error.kind {
                    AwsErrorKind::InvalidServiceName => Ok(BTreeMap::new()),
                    _ => Err(error),
                };
            }
        };
        Ok(out
            .service_details()
            .iter()
            .filter_map(|d| Some((d.service_name()?.to_owned(), d.private_dns_name()?.to_owned())))
            .collect())
    }

    /// The connection notifications of an endpoint: (notification id, SNS topic ARN) pairs.
    pub async fn connection_notifications(
        &self,
        endpoint_id: &str,
    ) -> Ec2Result<Vec<(String, String)>> {
        let out = self
            .client()
            .await
            .describe_vpc_endpoint_connection_notifications()
            .filters(Filter::builder().name("vpc-endpoint-id").values(endpoint_id).build())
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let error = AwsError::from_sdk("DescribeVpcEndpointConnectionNotifications", e);
                return if error.is_not_found() { Ok(Vec::new()) } else { Err(error) };
            }
        };
        Ok(out
            .connection_notification_set()
            .iter()
            .filter(|n| n.vpc_endpoint_id() == Some(endpoint_id))
            .filter_map(|n| {
                Some((
                    n.connection_notification_id()?.to_owned(),
                    n.connection_notification_arn()?.to_owned(),
                ))
            })
            .collect())
    }

    /// Tells `topic_arn` of the endpoint's connection `events` (idempotent by `client_token`).
    pub async fn notify_connection_events(
        &self,
        endpoint_id: &str,
        topic_arn: &str,
        events: &[&str],
        client_token: &str,
    ) -> Ec2Result<()> {
        self.client()
            .await
            .create_vpc_endpoint_connection_notification()
            .vpc_endpoint_id(endpoint_id)
            .connection_notification_arn(topic_arn)
            .set_connection_events(Some(events.iter().map(|e| (*e).to_owned()).collect()))
            .client_token(client_token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateVpcEndpointConnectionNotification", e))?;
        Ok(())
    }

    /// Removes connection notifications; ones already gone count as removed.
    pub async fn remove_connection_notifications(&self, ids: &[String]) -> Ec2Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let out = self
            .client()
            .await
            .delete_vpc_endpoint_connection_notifications()
            .set_connection_notification_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteVpcEndpointConnectionNotifications", e))?;
        // The API Reference names no code for an id that is gone; any that says so counts.
        first_failure("DeleteVpcEndpointConnectionNotifications", out.unsuccessful(), |e| {
            e.is_not_found() || e.code.starts_with("InvalidConnectionNotification")
        })
    }

    /// Changes an endpoint in place.
    pub async fn modify_endpoint(&self, id: &str, change: &EndpointChange) -> Ec2Result<()> {
        let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        self.client()
            .await
            .modify_vpc_endpoint()
            .vpc_endpoint_id(id)
            .set_add_subnet_ids(some(&change.add_subnets))
            .set_remove_subnet_ids(some(&change.remove_subnets))
            .set_add_security_group_ids(some(&change.add_groups))
            .set_remove_security_group_ids(some(&change.remove_groups))
            .set_policy_document(change.policy.clone())
            .set_reset_policy(change.reset_policy.then_some(true))
            .set_private_dns_enabled(change.private_dns_enabled)
            .set_subnet_configurations(subnet_configurations(&change.subnet_addresses))
            .set_ip_address_type(change.ip_address_type.as_deref().map(IpAddressType::from))
            .set_dns_options(change.dns_options.as_ref().map(dns_options_spec))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ModifyVpcEndpoint", e))?;
        Ok(())
    }

    /// Deletes an endpoint. AWS reports failures inside a 200 (`Unsuccessful`); one saying the
    /// endpoint is not found counts as done.
    pub async fn delete_endpoint(&self, id: &str) -> Ec2Result<()> {
        let out = self
            .client()
            .await
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteVpcEndpoints", e))?;
        first_failure("DeleteVpcEndpoints", out.unsuccessful(), AwsError::is_not_found)
    }

    /// Network interfaces, in the order given; interfaces that are already gone are skipped.
    pub async fn interfaces(&self, interface_ids: &[String]) -> Ec2Result<Vec<InterfaceView>> {
        if interface_ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = match self
            .client()
            .await
            .describe_network_interfaces()
            .set_network_interface_ids(Some(interface_ids.to_vec()))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let error = AwsError::from_sdk("DescribeNetworkInterfaces", e);
                return if error.is_not_found() { Ok(Vec::new()) } else { Err(error) };
            }
        };
        let mut by_id: BTreeMap<String, InterfaceView> = out
            .network_interfaces()
            .iter()
            .map(|eni| {
                let view = InterfaceView {
                    id: eni.network_interface_id().unwrap_or_default().to_owned(),
                    subnet_id: eni.subnet_id().unwrap_or_default().to_owned(),
                    zone: eni.availability_zone().unwrap_or_default().to_owned(),
                    ipv4: eni.private_ip_address().map(str::to_owned),
                    ipv6: eni
                        .ipv6_addresses()
                        .iter()
                        .filter_map(|a| a.ipv6_address().map(str::to_owned))
                        .collect(),
                };
                (view.id.clone(), view)
            })
            .collect();
        Ok(interface_ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }
}
