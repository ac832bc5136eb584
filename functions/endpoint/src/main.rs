//! `privatelink-endpoint`: serves `Custom::PrivateLinkEndpoint`.

use privatelink_core::ec2::Ec2;
use privatelink_core::endpoint::acceptance::{Announcer, Handoff};
use privatelink_core::endpoint::EndpointResource;
use privatelink_core::{lambda, serve};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    // Clients are made on the first event, not here: nothing adds to the cold start.
    let ec2 = Ec2::lazy();
    let mut resource = EndpointResource::new(ec2.clone());
    // The acceptance loop's state machine; without it an endpoint waiting for the provider is
    // answered at once with State pendingAcceptance. Its topic (the functions stack's) carries
    // the provider's decisions, which wake the loop (when the endpoint's state did change);
    // without it the loop polls.
    let loops = lambda::optional_env("ACCEPTANCE_STATE_MACHINE_ARN").map(|arn| {
        Handoff::lazy(arn)
            .with_topic(lambda::optional_env("ACCEPTANCE_TOPIC_ARN"))
            .with_endpoints(ec2.clone())
    });
    if let Some(handoff) = &loops {
        resource = resource.with_handoff(handoff.clone());
    }
    // The functions stack's notification topic: told which endpoint the partner must accept.
    if let Some(topic) = lambda::optional_env("NOTIFICATION_TOPIC_ARN") {
        resource = resource.with_announcer(Announcer::lazy(topic));
    }
    serve::serve_with_wakes(resource, loops).await
}
