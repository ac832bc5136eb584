//! The scheduled Lambda: check every target, log one line per target (a JSON report that is also
//! a CloudWatch Embedded Metric Format record), return the summary.

use serde_json::Value;

use super::report::summary;
use super::{Checker, Target};
use crate::ec2::Ec2;
use crate::error::{Error, Result};

/// Where targets come from when the event names none.
#[derive(Default)]
pub struct Sources {
    /// Targets from the function's configuration (`VALIDATOR_TARGETS`).
    pub configured: Vec<Target>,
    /// Discovery of the endpoints `Custom::PrivateLinkEndpoint` made, when the VPC can reach
    /// the EC2 API, restricted to one VPC if given.
    pub discovery: Option<(Ec2, Option<String>)>,
}

/// The scheduled check.
pub struct Schedule {
    checker: Checker,
    sources: Sources,
    concurrency: usize,
    fail_on_error: bool,
}

impl Schedule {
    /// A schedule checking at most `concurrency` targets at once; with `fail_on_error` a failed
    /// target makes the invocation fail (for alarms on the function's errors).
    pub fn new(
        checker: Checker,
        sources: Sources,
        concurrency: usize,
        fail_on_error: bool,
    ) -> Self {
        Self { checker, sources, concurrency, fail_on_error }
    }

    /// One scheduled run: targets from the event (`{"Targets": [...]}`), else the
    /// configuration, else discovery.
    pub async fn run(&self, event: &Value) -> Result<Value> {
        let targets = match event.get("Targets") {
            Some(Value::Array(items)) => {
                items.iter().map(Target::parse).collect::<Result<Vec<_>>>()?
            }
            Some(_) => return Err(Error::property("Targets", "must be a list of targets")),
            None if !self.sources.configured.is_empty() => self.sources.configured.clone(),
            None => self.discover().await?,
        };
        if targets.is_empty() {
            tracing::warn!("no targets: none in the event, none configured, and discovery is off or found none");
        }
        let reports = self.checker.check_all(&targets, self.concurrency).await;
        let now_ms = crate::runtime::since_epoch().as_millis() as u64;
        for report in &reports {
            let mut line = report.to_emf(now_ms);
            line["Report"] = serde_json::to_value(report).expect("a report is plain data");
            // Printed as is, not through the log formatter: CloudWatch reads EMF from raw lines.
            println!("{line}");
        }
        match reports.iter().find(|r| !r.ok) {
            Some(failed) if self.fail_on_error => Err(Error::ValidationFailed {
                name: failed.name.clone(),
                attempts: 1,
                waited_secs: 0,
                reason: failed.reason.clone().unwrap_or_default(),
            }),
            _ => Ok(summary(&reports)),
        }
    }

    async fn discover(&self) -> Result<Vec<Target>> {
        let Some((ec2, vpc_id)) = &self.sources.discovery else {
            return Ok(Vec::new());
        };
        let mut targets = Vec::new();
        for endpoint in ec2.managed_endpoints(vpc_id.as_deref()).await? {
            if endpoint.state != crate::ec2::EndpointState::Available
                || !endpoint.private_dns_enabled
            {
                continue;
            }
            let service =
                ec2.service(&endpoint.service_name, endpoint.service_region.as_deref()).await?;
            let Some(name) = service.private_dns_name else { continue };
            let mut target = Target::new(name);
            target.endpoint_id = Some(endpoint.id.clone());
            target.expected = ec2
                .interface_addresses(&endpoint.network_interface_ids)
                .await?
                .iter()
                .filter_map(|ip| ip.parse().ok())
                .collect();
            targets.push(target);
        }
        Ok(targets)
    }
}
