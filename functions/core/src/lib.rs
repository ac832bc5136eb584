//! Shared logic of the privatelink-lambdas functions: the CloudFormation custom-resource engine
//! ([`cfn`]), property parsing ([`properties`]), EC2 operations ([`ec2`]), the resources
//! themselves ([`security_group`], [`endpoint`], with its wait for acceptance) and the
//! validator's checks ([`validation`]).
//!
//! Data flows one way: event -> typed request -> pure decision -> AWS calls -> exactly one answer.
//! The modules lie in layers, each using only those below it: [`serve`]; the resources
//! ([`endpoint`], [`security_group`], [`validation`]); the protocol and AWS ([`cfn`], [`ec2`], [`properties`]); the leaves
//! ([`aws`], [`lambda`], [`text`], [`error`]).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod aws;
pub mod cfn;
pub mod ec2;
pub mod endpoint;
pub mod error;
pub mod lambda;
mod libm_shim;
pub mod properties;
pub mod route53;
pub mod security_group;
pub mod serve;
pub mod text;
pub mod validation;

pub use error::{Error, Result};
