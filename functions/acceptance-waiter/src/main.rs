//! `privatelink-acceptance-waiter`: one Check of the acceptance loop (see `templates/acceptance-waiter.asl.json`).

use lambda_runtime::LambdaEvent;
use privatelink_core::cfn::engine::invocation_deadline;
use privatelink_core::cfn::responder::{Responder, UrlPolicy};
use privatelink_core::cfn::stack::StackCheck;
use privatelink_core::ec2::Ec2;
use privatelink_core::endpoint::waiter::Waiter;
use privatelink_core::{lambda, serve};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    // The EC2 client is made on the first event, not here: nothing adds to the cold start.
    let waiter = Waiter::new(Ec2::lazy(), Responder::new(UrlPolicy::from_env()))
        .with_stack_check(StackCheck::lazy());
    // The event's future on the heap: see `serve::serve`.
    serve::run(|event: LambdaEvent<serde_json::Value>| {
        Box::pin(waiter.handle(event.payload, invocation_deadline(event.context.deadline)))
    })
    .await
}
