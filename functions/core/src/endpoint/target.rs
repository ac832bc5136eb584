//! Choosing the endpoint a Create or an Update acts on: the current one, one this resource made
//! before (an interrupted Create's, or the one a replacement replaced), one taken over
//! (`ExistingVpcEndpointId`), or a new one. Pure.

use super::spec::EndpointSpec;
use crate::ec2::{self, EndpointView};
use crate::error::{Error, Result};

/// Which request is being planned (Delete is cleanup, apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A Create.
    Create,
    /// An Update; the facts it needs of the old properties.
    Update {
        /// The old properties had a `PolicyDocument` (removing it restores the default policy).
        old_policy_given: bool,
        /// The old properties had a `ConnectionNotificationArn` (removing it removes the
        /// notification).
        old_topic_given: bool,
    },
}

/// Which endpoint the request acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// An endpoint that exists.
    Endpoint {
        /// It, as observed.
        endpoint: Box<EndpointView>,
        /// How it was chosen.
        origin: Origin,
    },
    /// A new endpoint.
    New {
        /// It replaces the current one (an Update): if anything after its creation fails, it
        /// is deleted again, since CloudFormation keeps the old id and never asks for it.
        replacing: bool,
    },
}

/// Why an existing endpoint is the one acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The one the Update's physical id names.
    Current,
    /// One this resource made before: a Create interrupted earlier, or (on an Update's
    /// rollback) the endpoint a replacement replaced, which still holds the private DNS name.
    MadeBefore,
    /// `ExistingVpcEndpointId`: made by hand, taken over.
    Adopted,
}

/// What the target decision reads.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The Region the client calls.
    pub region: String,
    /// Update: the endpoint the physical id names (`None`: not there).
    pub current: Option<EndpointView>,
    /// The endpoints tagged for this resource.
    pub made_before: Vec<EndpointView>,
    /// Create with `ExistingVpcEndpointId`: that endpoint (`None`: not there).
    pub existing: Option<EndpointView>,
    /// Every endpoint of the VPC, when a Create read them to find its own (then the check of
    /// the private DNS name reads them from here rather than again).
    pub vpc_endpoints: Option<Vec<EndpointView>>,
}

/// Whether the observed endpoint can't become the desired one in place: ServiceName, VpcId and
/// ServiceRegion are fixed for an endpoint's life. No ServiceRegion, given or reported, means
/// the client's own Region, `local_region`. (`IpAddressType` changes in place.)
pub fn needs_replacement(current: &EndpointView, spec: &EndpointSpec, local_region: &str) -> bool {
    current.service_name != spec.service_name
        || current.vpc_id != spec.vpc_id
        || spec.service_region.as_deref().unwrap_or(local_region)
            != current.service_region.as_deref().unwrap_or(local_region)
}

/// Chooses the endpoint a request acts on.
pub fn choose_target(
    operation: Operation,
    spec: &EndpointSpec,
    found: &Found,
    stack_id: &str,
    logical_id: &str,
) -> Result<Target> {
    let reusable =
        |e: &&EndpointView| !e.state.is_finished() && !needs_replacement(e, spec, &found.region);
    if operation == Operation::Create {
        if let Some(id) = &spec.existing_endpoint_id {
            let endpoint =
                found.existing.as_ref().filter(|e| !e.state.is_finished()).ok_or_else(|| {
                    let state = found.existing.as_ref().map(|e| e.state.to_string());
                    Error::property(
                        "ExistingVpcEndpointId",
                        match state {
                            Some(state) => format!("{id} is {state}: it can't be taken over"),
                            None => format!("{id} does not exist in this account and Region"),
                        },
                    )
                })?;
            check_takeover(endpoint, spec, &found.region, stack_id, logical_id)?;
            return Ok(Target::Endpoint {
                endpoint: Box::new(endpoint.clone()),
                origin: Origin::Adopted,
            });
        }
        return Ok(match found.made_before.iter().find(reusable) {
            Some(earlier) => {
                Target::Endpoint { endpoint: Box::new(earlier.clone()), origin: Origin::MadeBefore }
            }
            None => Target::New { replacing: false },
        });
    }
    let Some(current) = found.current.as_ref().filter(|e| !e.state.is_deleted()) else {
        return Ok(Target::New { replacing: true });
    };
    ec2::check_owned(&current.id, &current.tags, stack_id, logical_id)?;
    if !needs_replacement(current, spec, &found.region) {
        return Ok(Target::Endpoint {
            endpoint: Box::new(current.clone()),
            origin: Origin::Current,
        });
    }
    let earlier = found.made_before.iter().filter(|e| e.id != current.id).find(reusable);
    Ok(match earlier {
        Some(earlier) => {
            Target::Endpoint { endpoint: Box::new(earlier.clone()), origin: Origin::MadeBefore }
        }
        None => Target::New { replacing: true },
    })
}

/// Whether a hand-made endpoint can be taken over: the service, VPC and Region asked for, and
/// no other resource's.
fn check_takeover(
    endpoint: &EndpointView,
    spec: &EndpointSpec,
    region: &str,
    stack_id: &str,
    logical_id: &str,
) -> Result<()> {
    ec2::check_claimable(&endpoint.id, &endpoint.tags, stack_id, logical_id)?;
    let mismatches: Vec<String> = [
        ("ServiceName", endpoint.service_name.as_str(), spec.service_name.as_str()),
        ("VpcId", endpoint.vpc_id.as_str(), spec.vpc_id.as_str()),
        (
            "ServiceRegion",
            endpoint.service_region.as_deref().unwrap_or(region),
            spec.service_region.as_deref().unwrap_or(region),
        ),
    ]
    .into_iter()
    .filter(|(_, have, want)| have != want)
    .map(|(name, have, want)| format!("its {name} is {have}, not {want}"))
    .collect();
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(Error::property(
            "ExistingVpcEndpointId",
            format!("{} can't be taken over: {}", endpoint.id, mismatches.join("; ")),
        ))
    }
}
