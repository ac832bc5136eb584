//! `privatelink-security-group`: serves `Custom::PrivateLinkSecurityGroup`.

use privatelink_core::ec2::Ec2;
use privatelink_core::runtime;
use privatelink_core::security_group::SecurityGroupResource;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_logging();
    let config = runtime::aws_config().await;
    runtime::serve(SecurityGroupResource::new(Ec2::new(aws_sdk_ec2::Client::new(&config)))).await
}
