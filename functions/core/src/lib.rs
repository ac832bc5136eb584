//! Shared logic of the privatelink-lambdas functions: the CloudFormation custom-resource engine
//! ([`cfn`]), property parsing ([`properties`]), EC2 operations ([`ec2`]), the resources
//! themselves ([`security_group`], [`endpoint`]), the wait for acceptance ([`acceptance`]) and
//! the validator's checks ([`validation`]).
//!
//! Data flows one way: event -> typed request -> pure decision -> AWS calls -> exactly one answer.

pub mod acceptance;
pub mod cfn;
pub mod ec2;
pub mod endpoint;
pub mod error;
pub mod properties;
pub mod runtime;
pub mod security_group;
pub mod validation;

pub use error::{Error, Result};
