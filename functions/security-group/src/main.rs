//! `privatelink-security-group`: serves `Custom::PrivateLinkSecurityGroup`.

use privatelink_core::ec2::Ec2;
use privatelink_core::security_group::SecurityGroupResource;
use privatelink_core::{lambda, serve};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    // The EC2 client is made on the first event, not here: nothing adds to the cold start.
    serve::serve(SecurityGroupResource::new(Ec2::lazy())).await
}
