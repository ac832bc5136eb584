//! `Custom::PrivateLinkValidation`: the checks as a deploy-time gate, so a stack refuses to
//! complete when the endpoint does not work from inside the VPC.

use std::time::Duration;

use serde_json::Value;

use super::{Checker, Target, TargetReport};
use crate::cfn::engine::CustomResource;
use crate::cfn::RequestContext;
use crate::cfn::{Outcome, Reply};
use crate::error::{Error, Result};
use crate::properties::PropertyReader;

/// The gate's properties: a target, and how long to keep trying.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSpec {
    /// What to check (`Name`, `ExpectedIps`, `Port`...).
    pub target: Target,
    /// `TimeoutSeconds`: how long to retry until every check passes (DNS can take a minute
    /// after Private DNS is switched on). Default 300; never past the invocation's deadline.
    pub timeout: Duration,
    /// `RetryIntervalSeconds`, default 10.
    pub retry_interval: Duration,
}

impl GateSpec {
    /// Reads and validates the properties, naming every bad one.
    pub fn parse(properties: &Value) -> Result<Self> {
        let mut r = PropertyReader::new(properties)?;
        let spec = Self::read(&mut r);
        r.finish(spec)
    }

    /// Reads the properties with `r`, recording every problem there.
    pub fn read(r: &mut PropertyReader<'_>) -> Self {
        let target = Target::read(r);
        let timeout = r.optional_u64("TimeoutSeconds", 1..=900).unwrap_or(300);
        let retry = r.optional_u64("RetryIntervalSeconds", 1..=300).unwrap_or(10);
        Self {
            target,
            timeout: Duration::from_secs(timeout),
            retry_interval: Duration::from_secs(retry),
        }
    }
}

/// The answer of a gate whose checks passed, for `Fn::GetAtt`: the addresses the name resolved
/// to, the HTTP status, the certificate's days left (empty where the protocol has none) and the
/// attempts it took.
pub fn passed(name: &str, report: &TargetReport, attempts: u32) -> Outcome {
    let found = report.dns.found.iter().map(ToString::to_string).collect::<Vec<_>>();
    Outcome::new(format!("privatelink-validation-{name}"))
        .with("Addresses", found.join(","))
        .with("Status", report.status.map(|s| s.to_string()).unwrap_or_default())
        .with("CertDaysLeft", report.cert_days_left.map(|d| d.to_string()).unwrap_or_default())
        .with("Attempts", attempts.to_string())
}

/// Serves `Custom::PrivateLinkValidation`. A validator whose configuration is unusable still
/// serves it ([`ValidationResource::misconfigured`]): Create and Update answer FAILED naming the
/// problem (rather than no answer at all), Delete succeeds (a check leaves nothing behind, and
/// the stack must stay deletable).
pub struct ValidationResource {
    checker: std::result::Result<Checker, String>,
}

impl ValidationResource {
    /// The gate, checking with `checker`.
    pub fn new(checker: Checker) -> Self {
        Self { checker: Ok(checker) }
    }

    /// The gate of a validator whose configuration has `problem`.
    pub fn misconfigured(problem: impl Into<String>) -> Self {
        Self { checker: Err(problem.into()) }
    }

    /// Checks until everything passes or time is up.
    async fn validate(&self, ctx: &RequestContext, properties: &Value) -> Result<Reply> {
        let checker = self.checker.as_ref().map_err(|p| Error::Misconfigured(p.clone()))?;
        let spec = GateSpec::parse(properties)?;
        let started = tokio::time::Instant::now();
        let give_up = (started + spec.timeout).min(ctx.deadline);
        let mut attempts = 0;
        loop {
            attempts += 1;
            // TimeoutSeconds bounds the whole gate, the check under way included.
            let Ok(report) = tokio::time::timeout_at(give_up, checker.check(&spec.target)).await
            else {
                return Err(Error::ValidationFailed {
                    name: spec.target.name,
                    attempts,
                    waited_secs: started.elapsed().as_secs(),
                    reason: format!(
                        "a check was still running when TimeoutSeconds ({} s) ran out",
                        spec.timeout.as_secs()
                    ),
                });
            };
            tracing::info!(
                attempt = attempts,
                ok = report.ok,
                reason = report.reason.as_deref().unwrap_or(""),
                "validation"
            );
            if report.ok {
                return Ok(passed(&spec.target.name, &report, attempts).into());
            }
            if tokio::time::Instant::now() + spec.retry_interval >= give_up {
                return Err(Error::ValidationFailed {
                    name: spec.target.name,
                    attempts,
                    waited_secs: started.elapsed().as_secs(),
                    reason: report.reason.unwrap_or_default(),
                });
            }
            tokio::time::sleep(spec.retry_interval).await;
        }
    }
}

impl CustomResource for ValidationResource {
    async fn create(&self, ctx: &RequestContext, properties: &Value) -> Result<Reply> {
        self.validate(ctx, properties).await
    }

    async fn update(
        &self,
        ctx: &RequestContext,
        _: &str,
        properties: &Value,
        _: &Value,
    ) -> Result<Reply> {
        self.validate(ctx, properties).await
    }

    async fn delete(&self, _: &RequestContext, physical_id: &str, _: &Value) -> Result<Reply> {
        // Nothing was made: a check leaves nothing behind.
        Ok(Outcome::new(physical_id).into())
    }
}
