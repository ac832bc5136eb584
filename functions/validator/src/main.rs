//! `privatelink-validator`: the runbook's `dig` and `curl` checks, three ways.
//!
//! - `privatelink-validator check --name api.partner.com ...`: an engineer on an instance in the
//!   VPC ([`cli`]).
//! - Under the Lambda Runtime API (no arguments): a scheduled check of the targets in the event,
//!   the configuration or discovered, and the `Custom::PrivateLinkValidation` deploy-time gate
//!   ([`privatelink_core::serve::serve_validator`]).

mod cli;

use std::process::ExitCode;
use std::sync::Arc;

use privatelink_core::ec2::Ec2;
use privatelink_core::lambda::{self, optional_env};
use privatelink_core::serve;
use privatelink_core::validation::config::Config;
use privatelink_core::validation::parameters::Parameters;

/// Lambda gives a function CPU in proportion to its memory, one whole vCPU at 1,769 MB
/// (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html>).
const ONE_VCPU_MB: u64 = 1769;

/// Many targets' TLS handshakes are CPU work that one thread serializes: worker threads, where
/// there is more than one CPU to run them. Not in a Lambda of one vCPU or less (the template's
/// 128 MB): there they would share the same fraction of one CPU, and starting them was a
/// quarter of what the validator's start-up ran beyond the floor's (callgrind, `make bench`).
fn tokio_runtime(lambda: bool) -> std::io::Result<tokio::runtime::Runtime> {
    let memory_mb = optional_env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|mb| mb.parse().ok());
    match lambda && memory_mb.is_some_and(|mb: u64| mb <= ONE_VCPU_MB) {
        true => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        false => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
    }
}

fn main() -> ExitCode {
    let lambda =
        std::env::args_os().len() <= 1 && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let runtime = tokio_runtime(lambda).expect("a tokio runtime starts");
    match lambda {
        true => lambda_mode(&runtime),
        false => cli::command_line(&runtime),
    }
}

// Each mode in a frame of its own, never inlined: the stack probes of a frame touch every page
// of it, and a Lambda's start-up must not pay for the command line's futures (nor the other
// way round). The futures themselves go on the heap, as each event's does (`serve::serve`).

/// Lambda mode: serves events until the process ends.
#[inline(never)]
fn lambda_mode(runtime: &tokio::runtime::Runtime) -> ExitCode {
    let served = async {
        lambda::init_logging();
        // Clients are made on first use, not here: nothing adds to the cold start.
        let secrets = Arc::new(Parameters::lazy());
        serve::serve_validator(Config::from_env(), secrets, Ec2::lazy()).await
    };
    match runtime.block_on(Box::pin(served)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
