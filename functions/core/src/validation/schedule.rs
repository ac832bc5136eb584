//! The scheduled Lambda: read each target's endpoint (zones, drift), check every target, check
//! the failed ones once more, log one line per target (a JSON report that is also a CloudWatch
//! Embedded Metric Format record) and one per zone, return the summary.

use std::time::Duration;

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
    /// Reading each target's endpoint (its zones and its drift), when the VPC can reach the
    /// EC2 API.
    pub endpoints: Option<Ec2>,
}

/// The pause before a failed target is checked once more: one dropped packet is no alarm.
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);

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
                let parsed = items.iter().map(Target::parse).collect::<Result<Vec<_>>>()?;
                self.read_endpoints(parsed).await
            }
            Some(_) => return Err(Error::property("Targets", "must be a list of targets")),
            None if !self.sources.configured.is_empty() => {
                self.read_endpoints(self.sources.configured.clone()).await
            }
            // Discovery reads each endpoint as it finds it.
            None => self.discover().await?,
        };
        if targets.is_empty() {
            tracing::warn!("no targets: none in the event, none configured, and discovery is off or found none");
        }
        let mut reports = self.checker.check_all(&targets, self.concurrency).await;
        // A failed check is made once more, after a short pause, before it is reported.
        let failed: Vec<usize> = (0..reports.len()).filter(|i| !reports[*i].ok).collect();
        if !failed.is_empty() {
            tokio::time::sleep(RETRY_PAUSE).await;
            let again: Vec<Target> = failed.iter().map(|i| targets[*i].clone()).collect();
            let retried = self.checker.check_all(&again, self.concurrency).await;
            for (index, mut report) in failed.into_iter().zip(retried) {
                report.retried = true;
                reports[index] = report;
            }
        }
        let now_ms = crate::lambda::millis(crate::lambda::since_epoch());
        for report in &reports {
            let mut lines = report.to_emf_lines(now_ms);
            lines[0]["Report"] = serde_json::to_value(report).expect("a report is plain data");
            for line in lines {
                // Printed as is, not through the log formatter: CloudWatch reads EMF from raw lines.
                println!("{line}");
            }
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

    /// Each target with an `EndpointId`, with its endpoint's addresses, zones and drift, read
    /// at most `concurrency` at a time. A target whose endpoint can't be read is checked
    /// without them, saying why in the log.
    async fn read_endpoints(&self, targets: Vec<Target>) -> Vec<Target> {
        let Some(ec2) = &self.sources.endpoints else { return targets };
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(self.concurrency.max(1)));
        let mut reading = tokio::task::JoinSet::new();
        let count = targets.len();
        for (index, mut target) in targets.into_iter().enumerate() {
            let (ec2, limit) = (ec2.clone(), std::sync::Arc::clone(&limit));
            reading.spawn(async move {
                if target.endpoint_id.is_some() {
                    let _permit = limit.acquire_owned().await.expect("the semaphore is never closed");
                    if let Err(err) = super::endpoint::read(&ec2, &mut target).await {
                        tracing::warn!(endpoint_id = target.endpoint_id.as_deref().unwrap_or_default(), error = %err, "could not read the endpoint: its zones and drift are not checked");
                    }
                }
                (index, target)
            });
        }
        let mut read = Vec::with_capacity(count);
        while let Some(joined) = reading.join_next().await {
            read.push(joined.expect("reading an endpoint does not panic"));
        }
        read.sort_by_key(|(index, _)| *index);
        read.into_iter().map(|(_, target)| target).collect()
    }

    async fn discover(&self) -> Result<Vec<Target>> {
        let Some((ec2, vpc_id)) = &self.sources.discovery else {
            return Ok(Vec::new());
        };
        let mut targets = Vec::new();
        for endpoint in ec2.managed_endpoints(vpc_id.as_deref()).await? {
            if endpoint.state != crate::ec2::EndpointState::Available {
                continue;
            }
            // Its Private DNS name, and the names of its DnsNames (kept in a tag of its own).
            let mut names: Vec<String> = endpoint
                .tags
                .get(crate::ec2::TAG_DNS_NAMES)
                .map(|names| names.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
            if endpoint.private_dns_enabled {
                let region = endpoint.service_region.as_deref();
                let service = ec2.service(&endpoint.service_name, region).await?;
                names.splice(0..0, service.private_dns_name);
            }
            // The endpoint is read once: its addresses, zones and drift are every name's.
            let Some(first) = names.first() else { continue };
            let mut filled = Target::new(first.clone());
            filled.endpoint_id = Some(endpoint.id.clone());
            super::endpoint::fill(ec2, &mut filled, &endpoint.id, Some(&endpoint)).await?;
            targets.extend(names.into_iter().map(|name| Target { name, ..filled.clone() }));
        }
        Ok(targets)
    }
}
