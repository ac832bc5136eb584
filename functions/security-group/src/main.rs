//! `privatelink-security-group`: serves `Custom::PrivateLinkSecurityGroup`.

use privatelink_core::ec2::Ec2;
use privatelink_core::runtime;
use privatelink_core::security_group::SecurityGroupResource;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_logging();
    // The EC2 client is made on the first event, not here: nothing adds to the cold start.
    runtime::serve(SecurityGroupResource::new(Ec2::lazy())).await
}
