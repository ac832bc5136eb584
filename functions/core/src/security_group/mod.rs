//! `Custom::PrivateLinkSecurityGroup`: a group that admits only the given sources (CIDR blocks,
//! security groups, prefix lists; by default the VPC's own blocks) on the service's ports, with
//! no outbound rules.
//!
//! The endpoint's shape: [`spec`] (the properties), [`plan`] (the decisions, pure) and the
//! resource that observes, applies and answers.

pub mod plan;
mod resource;
pub mod spec;

pub use resource::SecurityGroupResource;
pub use spec::GroupSpec;
