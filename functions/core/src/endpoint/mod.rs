//! `Custom::PrivateLinkEndpoint`: the runbook's interface VPC endpoint, verified first, made
//! once however often the event is delivered, and cleaned up whatever state it was left in.
//!
//! - [`spec`]: the properties, typed and validated;
//! - [`target`], [`checks`], [`plan`]: the pure decision: which endpoint, what is refused
//!   before anything is made, which calls and when to answer;
//! - [`resource`]: the reconcile (observe, plan, apply) and the answer; Delete. What it reads
//!   is in `observe`, how it carries the plan out (and gives back a failed takeover) in `apply`;
//! - [`attributes`]: what `Fn::GetAtt` reads;
//! - [`acceptance`]: the acceptance loop's state, decision and timing, and its Step Functions
//!   adapter;
//! - [`waiter`]: the acceptance loop's Check, which answers for the resource later.

pub mod acceptance;
mod apply;
pub mod attributes;
pub mod checks;
pub mod dns;
mod observe;
pub mod plan;
pub mod resource;
pub mod spec;
pub mod target;
pub mod waiter;

pub use resource::EndpointResource;
pub use spec::EndpointSpec;
