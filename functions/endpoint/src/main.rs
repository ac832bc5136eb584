//! `privatelink-endpoint`: serves `Custom::PrivateLinkEndpoint`.

use privatelink_core::acceptance::Handoff;
use privatelink_core::ec2::Ec2;
use privatelink_core::endpoint::EndpointResource;
use privatelink_core::runtime;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_logging();
    let config = runtime::aws_config().await;
    let mut resource = EndpointResource::new(Ec2::new(aws_sdk_ec2::Client::new(&config)));
    // The acceptance loop's state machine; without it an endpoint waiting for the provider is
    // answered at once with State pendingAcceptance.
    if let Some(arn) = runtime::optional_env("ACCEPTANCE_STATE_MACHINE_ARN") {
        resource = resource.with_handoff(Handoff::new(aws_sdk_sfn::Client::new(&config), arn));
    }
    runtime::serve(resource).await
}
