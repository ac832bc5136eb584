//! Delivering the answer: one HTTP PUT of the JSON body to the pre-signed `ResponseURL`.

use std::time::Duration;

use reqwest::Url;
use tokio::time::Instant;

use super::{build_answer, encode_answer, Envelope, Failure, Outcome};
use crate::error::{Error, Result};

/// Which `ResponseURL`s we will send an answer to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Plain-http loopback URLs are accepted: only when the AWS endpoint itself is on loopback
    /// (local emulation), never in AWS.
    pub allow_loopback: bool,
}

impl UrlPolicy {
    /// The policy for this process: loopback allowed when `AWS_ENDPOINT_URL` points at loopback.
    pub fn from_env() -> Self {
        let allow_loopback = std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .and_then(|url| Url::parse(&url).ok())
            .is_some_and(|url| is_loopback(&url));
        Self { allow_loopback }
    }

    /// Checks `url`: `https` to an S3 host under `amazonaws.com` (or `.com.cn`), or loopback when
    /// allowed. The error names the URL without its query string (which holds the signature).
    pub fn check(&self, url: &str) -> Result<Url> {
        let parsed = Url::parse(url)
            .map_err(|e| Error::MalformedEvent(format!("ResponseURL does not parse: {e}")))?;
        if self.allow_loopback && is_loopback(&parsed) {
            return Ok(parsed);
        }
        if parsed.scheme() == "https" && is_s3_host(parsed.host_str().unwrap_or_default()) {
            return Ok(parsed);
        }
        Err(Error::MalformedEvent(format!(
            "ResponseURL {} is not an https URL of an S3 host under amazonaws.com; refusing to send the answer there",
            redact(&parsed)
        )))
    }
}

fn is_loopback(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        }
}

/// S3's hosts: `s3.amazonaws.com`, `bucket.s3.us-east-1.amazonaws.com`,
/// `s3-external-1.amazonaws.com`, `bucket.s3.dualstack.eu-west-1.amazonaws.com`, and the same
/// under `amazonaws.com.cn`.
fn is_s3_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let Some(prefix) =
        host.strip_suffix(".amazonaws.com").or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    prefix.split('.').any(|label| label == "s3" || label.starts_with("s3-"))
}

/// The URL without its credentials, query string and fragment: safe to log.
pub fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Fails only for URLs that cannot have credentials (then there are none to strip).
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// The longest one PUT may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The answer's TLS: rustls with the functions' crypto provider, verifying S3 against the
/// system's roots as reqwest does by default (the platform verifier).
fn answer_tls() -> std::result::Result<rustls::ClientConfig, String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    rustls::ClientConfig::builder_with_provider(crate::aws::crypto_provider())
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map(|builder| builder.with_no_client_auth())
        .map_err(|e| format!("cannot set up HTTPS: {e}"))
}

/// How long delivering an answer may take with the retries [`Responder`] makes: what the
/// engine keeps back at the end of an invocation.
pub fn delivery_budget(attempts: u32, first_backoff: Duration) -> Duration {
    let backoffs: Duration =
        (0..attempts.saturating_sub(1)).map(|i| first_backoff * 2u32.pow(i)).sum();
    ATTEMPT_TIMEOUT * attempts + backoffs
}

/// Sends answers with bounded retries.
#[derive(Debug, Clone)]
pub struct Responder {
    // Built on the first answer, not at start: the TLS set-up loads the system's certificates,
    // which would otherwise add to every cold start.
    http: std::sync::Arc<std::sync::OnceLock<Result<reqwest::Client, String>>>,
    policy: UrlPolicy,
    attempts: u32,
    first_backoff: Duration,
}

impl Responder {
    /// A responder that accepts URLs by `policy`.
    pub fn new(policy: UrlPolicy) -> Self {
        Self {
            http: Default::default(),
            policy,
            attempts: 3,
            first_backoff: Duration::from_millis(250),
        }
    }

    /// What delivering one answer may take at most, all retries included.
    pub fn budget(&self) -> Duration {
        delivery_budget(self.attempts, self.first_backoff)
    }

    /// The HTTPS client; an error (no usable TLS set-up) is reported, never a panic, since
    /// this runs outside the guard that turns a handler's panic into an answer.
    fn http(&self) -> Result<&reqwest::Client> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .tls_backend_preconfigured(answer_tls()?)
                    .connect_timeout(Duration::from_secs(2))
                    .timeout(ATTEMPT_TIMEOUT)
                    // A pre-signed URL is answered where it points: a redirect is a failed
                    // delivery, never followed (it would carry the answer elsewhere).
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| format!("cannot set up HTTPS: {e}"))
            })
            .as_ref()
            .map_err(|e| Error::Answer(e.clone()))
    }

    /// The URL policy in force.
    pub fn policy(&self) -> UrlPolicy {
        self.policy
    }

    /// Answers the request of `envelope` with `result`, within CloudFormation's limits, before
    /// `deadline`: the one place every answer goes through (the engine's, and the acceptance
    /// loop's, which answers for the engine later). `request_physical_id`: the id the request
    /// carried (a failed Create has none, and gets a placeholder). Returns what was answered.
    pub async fn answer(
        &self,
        envelope: &Envelope,
        request_physical_id: Option<&str>,
        result: Result<Outcome, Failure>,
        deadline: Instant,
    ) -> Result<serde_json::Value> {
        let url = self.policy.check(&envelope.response_url)?;
        let mut answer = build_answer(envelope, request_physical_id, result);
        let body = encode_answer(&mut answer);
        let summary = serde_json::json!({
            "Status": answer.status,
            "PhysicalResourceId": answer.physical_resource_id,
            "Reason": answer.reason,
        });
        self.send(&url, body, deadline).await?;
        tracing::info!(
            status = summary["Status"].as_str().unwrap_or_default(),
            physical_id = summary["PhysicalResourceId"].as_str().unwrap_or_default(),
            reason = summary["Reason"].as_str().unwrap_or_default(),
            url = %redact(&url),
            "answered CloudFormation"
        );
        Ok(summary)
    }

    /// PUTs `body` to `url` before `deadline`, retrying a bounded number of times on network
    /// errors and 5xx answers (a 3xx or 4xx will not change). CloudFormation's pre-signed URL is
    /// signed without a content type, so the `Content-Type` header is sent empty, as AWS's own
    /// examples do.
    pub async fn send(&self, url: &Url, body: Vec<u8>, deadline: Instant) -> Result<()> {
        let http = self.http()?;
        let mut backoff = self.first_backoff;
        let mut last_error = String::new();
        let mut attempts = 0;
        while attempts < self.attempts {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                last_error = format!("{last_error} (then the invocation's time was up)");
                break;
            }
            attempts += 1;
            let sent = http
                .put(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "")
                .timeout(ATTEMPT_TIMEOUT.min(left))
                .body(body.clone())
                .send()
                .await;
            let retry = match sent {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    // Without the URL: reqwest's errors would print the signed query string.
                    last_error = format!("HTTP {}", response.status());
                    response.status().is_server_error()
                }
                Err(err) => {
                    last_error = err.without_url().to_string();
                    true
                }
            };
            tracing::warn!(attempts, error = %last_error, url = %redact(url), "answer attempt failed");
            if !retry {
                break;
            }
            if attempts < self.attempts {
                tokio::time::sleep(backoff.min(deadline.saturating_duration_since(Instant::now())))
                    .await;
                backoff *= 2;
            }
        }
        // Counted by the functions stack's AnswersNotDelivered alarm (a metric filter on this
        // message, templates/functions.yaml).
        tracing::error!(attempts, error = %last_error, url = %redact(url), "answer not delivered");
        Err(Error::Answer(format!(
            "PUT to {} failed after {attempts} attempt(s), last: {last_error}",
            redact(url),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudformation_s3_urls_are_accepted() {
        let policy = UrlPolicy::default();
        for url in [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3A/x?X-Amz-Signature=1",
            "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/x",
            "https://s3.amazonaws.com/bucket/x",
            "https://s3-external-1.amazonaws.com/bucket/x",
            "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x",
        ] {
            assert!(policy.check(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn other_urls_are_refused() {
        let policy = UrlPolicy::default();
        for url in [
            "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "https://example.com/x",
            "https://s3.amazonaws.com.evil.example/x",
            "https://lambda.us-east-1.amazonaws.com/x",
            "https://evil-s3.example.com/x",
            "http://127.0.0.1:5000/bucket/x",
            "not a url",
        ] {
            assert!(policy.check(url).is_err(), "{url}");
        }
    }

    #[test]
    fn loopback_is_accepted_only_under_local_emulation() {
        let local = UrlPolicy { allow_loopback: true };
        assert!(local.check("http://127.0.0.1:5000/bucket/x?sig=1").is_ok());
        assert!(local.check("http://localhost:5000/bucket/x").is_ok());
        assert!(local.check("http://10.0.0.1:5000/bucket/x").is_err());
    }

    #[test]
    fn logged_urls_carry_neither_credentials_nor_the_signature() {
        let url =
            Url::parse("https://user:pass@s3.amazonaws.com/b/k?X-Amz-Signature=secret#f").unwrap();
        assert_eq!(redact(&url), "https://s3.amazonaws.com/b/k");
    }

    #[test]
    fn the_delivery_budget_covers_every_attempt_and_backoff() {
        // 3 attempts of at most 5 s, with 0.25 s and 0.5 s between them.
        assert_eq!(delivery_budget(3, Duration::from_millis(250)), Duration::from_millis(15_750));
        assert_eq!(Responder::new(UrlPolicy::default()).budget(), Duration::from_millis(15_750));
    }

    #[test]
    fn refusals_never_show_the_signature() {
        let err =
            UrlPolicy::default().check("https://example.com/x?X-Amz-Signature=secret").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
