//! The runbook's "Testing and Validation", automated: from inside the VPC, the endpoint's name
//! must resolve to the endpoint's private IPs, each of them must accept a TCP connection, answer
//! a verified TLS handshake for the name, and answer HTTPS with an expected status.
//!
//! [`Checker`] runs the checks; [`report`] shapes what they found (JSON, text, CloudWatch
//! Embedded Metric Format); [`gate`] serves `Custom::PrivateLinkValidation`; [`schedule`] is the
//! scheduled Lambda, [`config`] its environment, [`parameters`] where its secrets are read.

pub mod config;
pub mod endpoint;
pub mod gate;
pub mod parameters;
mod probe;
pub mod report;
pub mod request;
pub mod schedule;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::properties::PropertyReader;
use crate::text::quoted;
pub use report::TargetReport;
pub use request::{BodyMatch, Headers, Identities, Protocol, SecretHeaders, TlsVersion};

/// The HTTP statuses a check accepts, e.g. `200-399` or `200,204,300-399`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(Vec<(u16, u16)>);

impl StatusSet {
    /// Whether `status` is accepted.
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|(low, high)| (*low..=*high).contains(&status))
    }
}

impl Default for StatusSet {
    fn default() -> Self {
        // 2xx only: a redirect is not the API answering (it may point out of the VPC); a 3xx
        // that is expected is asked for explicitly, and then reported with where it points.
        Self(vec![(200, 299)])
    }
}

impl FromStr for StatusSet {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let parse = |s: &str| s.trim().parse::<u16>().ok().filter(|n| (100..=599).contains(n));
        let ranges = text
            .split(',')
            .map(|part| match part.split_once('-') {
                Some((low, high)) => parse(low).zip(parse(high)).filter(|(l, h)| l <= h),
                None => parse(part).map(|n| (n, n)),
            })
            .collect::<Option<Vec<_>>>()
            .filter(|ranges| !ranges.is_empty());
        ranges.map(Self).ok_or_else(|| {
            format!(
                "{} is not a status set such as 200-399 or 200,204 (100-599)",
                crate::text::quoted(text)
            )
        })
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(l, h)| if l == h { l.to_string() } else { format!("{l}-{h}") })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// One name to check, and what it must answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The DNS name, e.g. `api.partner.com`.
    pub name: String,
    /// The endpoint behind it, for reports and metrics.
    pub endpoint_id: Option<String>,
    /// The endpoint's private IPs; empty: whatever the name resolves to is probed.
    pub expected: Vec<IpAddr>,
    /// The service port.
    pub port: u16,
    /// The path requested.
    pub path: String,
    /// The accepted HTTP statuses (default 200-299).
    pub expect_status: StatusSet,
    /// The time limit of each check.
    pub timeout: Duration,
    /// A DNS server to ask instead of the system's (the VPC's resolver inside a VPC).
    pub resolver: Option<SocketAddr>,
    /// How far the check goes: `https` (default), `tls` or `tcp`.
    pub protocol: Protocol,
    /// The HTTP method (default `GET`).
    pub method: String,
    /// Request headers; their values are never printed.
    pub headers: Headers,
    /// `HeadersParameter`: the secret holding more headers (a JSON object), read when checked.
    pub headers_parameter: Option<String>,
    /// What the response body must hold.
    pub expect_body: Option<BodyMatch>,
    /// The lowest TLS version accepted.
    pub min_tls: TlsVersion,
    /// The client certificate to present (mutual TLS): a file, or a parameter's name in Lambda.
    pub client_cert: Option<String>,
    /// The endpoint's zones, each with its zonal DNS name and its interfaces' addresses (read
    /// from the endpoint when `EndpointId` is given).
    pub zones: Vec<ZoneTarget>,
    /// How the endpoint itself differs from what it was made as (read with the zones).
    pub drift: Vec<String>,
}

impl Target {
    /// The options given that the protocol does not use, each with its kind (`HTTP options`,
    /// `TLS options`): an HTTP option with `tls` or `tcp`, a TLS option with `tcp`.
    pub fn misplaced_options(&self) -> Vec<(&'static str, &'static str)> {
        let http = [
            ("Method", self.method != "GET"),
            ("Headers", !self.headers.0.is_empty()),
            ("HeadersParameter", self.headers_parameter.is_some()),
            ("ExpectBody", self.expect_body.is_some()),
            ("Path", self.path != "/"),
        ];
        let tls = [
            ("MinTls", self.min_tls != TlsVersion::default()),
            ("ClientCert", self.client_cert.is_some()),
        ];
        let mut misplaced = Vec::new();
        if self.protocol != Protocol::Https {
            misplaced
                .extend(http.iter().filter(|(_, given)| *given).map(|(k, _)| (*k, "HTTP options")));
        }
        if !self.protocol.has_tls() {
            misplaced
                .extend(tls.iter().filter(|(_, given)| *given).map(|(k, _)| (*k, "TLS options")));
        }
        misplaced
    }
}

/// One zone of an endpoint: its zonal DNS name must resolve to its interfaces' addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneTarget {
    /// The Availability Zone, e.g. `us-east-1a`.
    pub zone: String,
    /// The zonal DNS name (`vpce-...-us-east-1a.vpce-svc-...`), when the endpoint has one.
    pub dns_name: Option<String>,
    /// The addresses of the endpoint's interface in that zone.
    pub addresses: Vec<IpAddr>,
}

impl Target {
    /// A target with the defaults: port 443, path `/`, statuses 200-299, 5 s for the whole check.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            endpoint_id: None,
            expected: Vec::new(),
            port: 443,
            path: "/".into(),
            expect_status: StatusSet::default(),
            timeout: Duration::from_millis(5000),
            resolver: None,
            protocol: Protocol::default(),
            method: "GET".into(),
            headers: Headers::default(),
            headers_parameter: None,
            expect_body: None,
            min_tls: TlsVersion::default(),
            client_cert: None,
            zones: Vec::new(),
            drift: Vec::new(),
        }
    }

    /// Reads a target from properties (`Name`, `ExpectedIps`, `EndpointId`, `Port`, `Path`,
    /// `ExpectStatus`, `TimeoutMs`, `Resolver`, `Protocol`, `Method`, `Headers`, `ExpectBody`,
    /// `MinTls`, `ClientCert`), as CloudFormation or a schedule sends them.
    pub fn parse(properties: &Value) -> Result<Self> {
        let mut r = PropertyReader::new(properties)?;
        let target = Self::read(&mut r);
        r.finish(target)
    }

    /// Reads the target's properties with `r`, recording problems there.
    pub fn read(r: &mut PropertyReader<'_>) -> Self {
        let mut target = Self::new(r.required_string("Name").unwrap_or_default());
        if target.name.contains(char::is_whitespace) || target.name.len() > 253 {
            r.problem("Name", format!("{} is not a DNS name", crate::text::quoted(&target.name)));
        }
        if let Some(ips) = r.optional_list("ExpectedIps") {
            let (good, bad): (Vec<_>, Vec<_>) =
                ips.iter().partition(|ip| ip.parse::<IpAddr>().is_ok());
            if !bad.is_empty() {
                r.problem(
                    "ExpectedIps",
                    format!(
                        "{} are not IP addresses",
                        bad.iter().map(|b| crate::text::quoted(b)).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            target.expected = good.iter().filter_map(|ip| ip.parse().ok()).collect();
        }
        target.endpoint_id = r.optional_string("EndpointId");
        target.port =
            r.optional_u64("Port", 1..=65535).and_then(|p| u16::try_from(p).ok()).unwrap_or(443);
        if let Some(path) = r.optional_string("Path") {
            if !path.starts_with('/') {
                r.problem("Path", format!("{} must start with /", crate::text::quoted(&path)));
            }
            target.path = path;
        }
        if let Some(set) = r.optional_parsed("ExpectStatus") {
            target.expect_status = set;
        }
        if let Some(ms) = r.optional_u64("TimeoutMs", 1..=120_000) {
            target.timeout = Duration::from_millis(ms);
        }
        if let Some(resolver) = r.optional_string("Resolver") {
            match parse_resolver(&resolver) {
                Some(address) => target.resolver = Some(address),
                None => r.problem(
                    "Resolver",
                    format!("{} is not IP or IP:PORT", crate::text::quoted(&resolver)),
                ),
            }
        }
        if let Some(protocol) = r.optional_parsed("Protocol") {
            target.protocol = protocol;
        }
        if let Some(method) = r.optional_string("Method") {
            let method = method.to_ascii_uppercase();
            if request::is_method(&method) {
                target.method = method;
            } else {
                r.problem("Method", format!("{} is not an HTTP method", quoted(&method)));
            }
        }
        target.headers = read_headers(r);
        target.headers_parameter = r.optional_string("HeadersParameter");
        target.expect_body = r.optional_parsed("ExpectBody");
        if let Some(version) = r.optional_parsed("MinTls") {
            target.min_tls = version;
        }
        target.client_cert = r.optional_string("ClientCert");
        for (key, kind) in target.misplaced_options() {
            r.problem(key, format!("is one of the {kind}; Protocol is {}", target.protocol));
        }
        target
    }
}

/// `Headers`: an object of header names and values (what a template writes). A problem
/// names the header, never its value.
fn read_headers(r: &mut PropertyReader<'_>) -> Headers {
    let mut headers = Vec::new();
    let mut problems = Vec::new();
    r.optional_object("Headers", |inner| {
        // An object: read each field as a string value.
        for name in inner.keys() {
            if let Some(value) = inner.optional_string(&name) {
                match request::parse_header(&format!("{name}:{value}")) {
                    Ok(header) => headers.push(header),
                    Err(problem) => problems.push(problem),
                }
            }
        }
    });
    for problem in problems {
        r.problem("Headers", problem);
    }
    Headers(headers)
}

/// `IP`, `IP:PORT` or `[IPv6]:PORT`; port 53 when not given.
pub fn parse_resolver(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// Which TLS configuration a check needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TlsKey {
    min_tls: TlsVersion,
    /// Offer HTTP/2 and HTTP/1.1 by ALPN (an `https` check); none for a `tls` check.
    alpn: bool,
    client_cert: Option<String>,
}

type Shared<T> = Arc<std::sync::OnceLock<std::result::Result<T, String>>>;

/// Runs the checks. Cheap to clone; the certificate verifier is built once, on the first check,
/// and each TLS configuration (lowest version, ALPN, client certificate) once, when first needed.
#[derive(Clone)]
pub struct Checker {
    extra_roots: Arc<Vec<CertificateDer<'static>>>,
    verifier: Shared<Arc<rustls_platform_verifier::Verifier>>,
    configs: Arc<std::sync::Mutex<std::collections::HashMap<TlsKey, Arc<rustls::ClientConfig>>>>,
    identities: Identities,
    secret_headers: SecretHeaders,
    default_resolver: Option<SocketAddr>,
}

impl Checker {
    /// A checker that verifies certificates against the system's roots plus `extra_roots_pem`
    /// (a private CA's PEM certificates), which are read now so a bad one fails at start.
    pub fn new(extra_roots_pem: Option<&[u8]>) -> Result<Self> {
        let extra: Vec<CertificateDer<'static>> = match extra_roots_pem {
            None => Vec::new(),
            Some(pem) => {
                CertificateDer::pem_slice_iter(pem).collect::<std::result::Result<_, _>>().map_err(
                    |e| Error::property("CA certificates", format!("do not parse as PEM: {e}")),
                )?
            }
        };
        if extra_roots_pem.is_some() && extra.is_empty() {
            return Err(Error::property("CA certificates", "hold no PEM certificate"));
        }
        Ok(Self {
            extra_roots: Arc::new(extra),
            verifier: Default::default(),
            configs: Default::default(),
            identities: Identities::default(),
            secret_headers: SecretHeaders::default(),
            default_resolver: None,
        })
    }

    /// Reads client certificates (`ClientCert`) from `identities`.
    pub fn with_identities(mut self, identities: Identities) -> Self {
        self.identities = identities;
        self
    }

    /// Reads the headers targets keep in a secret (`HeadersParameter`) from `secret_headers`.
    pub fn with_secret_headers(mut self, secret_headers: SecretHeaders) -> Self {
        self.secret_headers = secret_headers;
        self
    }

    /// The platform's verifier with the extra roots, built on first use: it loads the system's
    /// certificates, which would otherwise add to every cold start.
    fn verifier(&self) -> std::result::Result<Arc<rustls_platform_verifier::Verifier>, String> {
        self.verifier
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new_with_extra_roots(
                    self.extra_roots.iter().cloned(),
                    crate::aws::crypto_provider(),
                )
                .map(Arc::new)
                .map_err(|e| format!("cannot set up certificate verification: {e}"))
            })
            .clone()
    }

    /// The TLS configuration a target needs.
    async fn tls(&self, target: &Target) -> std::result::Result<Arc<rustls::ClientConfig>, String> {
        let key = TlsKey {
            min_tls: target.min_tls,
            alpn: target.protocol == Protocol::Https,
            client_cert: target.client_cert.clone(),
        };
        if let Some(config) = self.configs.lock().expect("not poisoned").get(&key) {
            return Ok(Arc::clone(config));
        }
        let verifier = self.verifier()?;
        let versions: &[&rustls::SupportedProtocolVersion] = match key.min_tls {
            TlsVersion::V1_2 => rustls::DEFAULT_VERSIONS,
            TlsVersion::V1_3 => &[&rustls::version::TLS13],
        };
        let builder = rustls::ClientConfig::builder_with_provider(crate::aws::crypto_provider())
            .with_protocol_versions(versions)
            .map_err(|e| e.to_string())?
            // A verifying verifier (the platform's, with the extra roots): nothing is skipped.
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &key.client_cert {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let identity = self.identities.get(name).await?;
                builder
                    .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
                    .map_err(|e| {
                        format!("the client certificate {} can't be used: {e}", quoted(name))
                    })?
            }
        };
        if key.alpn {
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        }
        let config = Arc::new(config);
        self.configs.lock().expect("not poisoned").insert(key, Arc::clone(&config));
        Ok(config)
    }

    /// Asks `resolver` for targets that name none, instead of the system's resolver.
    pub fn with_default_resolver(mut self, resolver: Option<SocketAddr>) -> Self {
        self.default_resolver = resolver;
        self
    }

    /// Checks one target: DNS (the name, and each zone's own name), then each address as far
    /// as its protocol goes, all at once.
    pub fn check<'a>(
        &'a self,
        target: &'a Target,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = TargetReport> + Send + 'a>> {
        // Boxed: the check's state machine is the validator's largest, and each caller (the
        // schedule, the gate, the command line) would otherwise get a copy of its own. One copy
        // kept the validator's zip under the 3 MB of `make bench`.
        Box::pin(self.check_target(target))
    }

    async fn check_target(&self, target: &Target) -> TargetReport {
        // One deadline for the whole target: DNS (whatever the resolver's own retries) and
        // every address's checks.
        let deadline = tokio::time::Instant::now() + target.timeout;
        let resolver = target.resolver.or(self.default_resolver);
        let mut lookups = tokio::task::JoinSet::new();
        for (index, zone) in target.zones.iter().enumerate() {
            let Some(name) = zone.dns_name.clone() else { continue };
            let zonal = Target { name, expected: zone.addresses.clone(), ..target.clone() };
            lookups.spawn(async move { (index, probe::resolve(&zonal, resolver, deadline).await) });
        }
        let dns = probe::resolve(target, resolver, deadline).await;
        let addresses =
            if target.expected.is_empty() { dns.found.clone() } else { target.expected.clone() };
        // Headers kept in a secret join the request; a secret that can't be used fails every
        // address with why (never a value), and nothing is sent without them.
        let with_secret;
        let (target, unusable) = match &target.headers_parameter {
            None => (target, None),
            Some(name) => match self.secret_headers.get(name).await {
                Ok(secret) => {
                    with_secret =
                        Target { headers: target.headers.with(&secret), ..target.clone() };
                    (&with_secret, None)
                }
                Err(problem) => (target, Some(problem)),
            },
        };
        let tls = match (target.protocol.has_tls(), &unusable) {
            (true, None) => Some(self.tls(target).await),
            _ => None,
        };
        // A `udp` target is checked by DNS alone: nothing connects to its addresses.
        let addresses = if target.protocol.connects() { addresses } else { Vec::new() };
        let mut probes = tokio::task::JoinSet::new();
        for (index, address) in addresses.into_iter().enumerate() {
            let (tls, target, unusable) = (tls.clone(), target.clone(), unusable.clone());
            probes.spawn(async move {
                let report = match unusable {
                    Some(problem) => {
                        report::AddressReport::new(SocketAddr::new(address, target.port))
                            .fail(problem)
                    }
                    None => probe::probe(tls, &target, address, deadline).await,
                };
                (index, report)
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = probes.join_next().await {
            results.push(joined.expect("a probe does not panic"));
        }
        results.sort_by_key(|(index, _)| *index);
        let mut zonal = Vec::new();
        while let Some(joined) = lookups.join_next().await {
            zonal.push(joined.expect("a lookup does not panic"));
        }
        zonal.sort_by_key(|(index, _)| *index);
        TargetReport::new(
            target,
            dns,
            results.into_iter().map(|(_, r)| r).collect(),
            zonal.into_iter().map(|(index, dns)| (&target.zones[index], dns)).collect(),
        )
    }

    /// Checks every target, at most `concurrency` at a time; reports in the targets' order.
    pub async fn check_all(&self, targets: &[Target], concurrency: usize) -> Vec<TargetReport> {
        let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let mut running = tokio::task::JoinSet::new();
        for (index, target) in targets.iter().cloned().enumerate() {
            let (checker, limit) = (self.clone(), Arc::clone(&limit));
            running.spawn(async move {
                let _permit = limit.acquire_owned().await.expect("the semaphore is never closed");
                (index, checker.check(&target).await)
            });
        }
        let mut reports = Vec::with_capacity(targets.len());
        while let Some(joined) = running.join_next().await {
            reports.push(joined.expect("a check does not panic"));
        }
        reports.sort_by_key(|(index, _)| *index);
        reports.into_iter().map(|(_, report)| report).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_sets_parse_ranges_and_lists() {
        let set: StatusSet = "200,204,300-399".parse().unwrap();
        assert!(set.contains(204) && set.contains(301) && !set.contains(201) && !set.contains(503));
        assert_eq!(set.to_string(), "200,204,300-399");
        for bad in ["", "abc", "399-200", "99", "200-700"] {
            assert!(bad.parse::<StatusSet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_target_reads_string_typed_properties_with_defaults() {
        let target = Target::parse(&json!({
            "Name": "api.partner.com", "ExpectedIps": "10.0.1.4,10.0.2.4", "Port": "8443",
            "TimeoutMs": "2500", "Resolver": "10.0.0.2", "ServiceToken": "arn"
        }))
        .unwrap();
        assert_eq!(target.expected.len(), 2);
        assert_eq!(target.port, 8443);
        assert_eq!(target.timeout, Duration::from_millis(2500));
        assert_eq!(target.resolver, Some("10.0.0.2:53".parse().unwrap()));
        assert_eq!(target.path, "/");
        assert_eq!(target.expect_status, StatusSet::default());
    }

    #[test]
    fn every_bad_target_property_is_named() {
        let reason = Target::parse(&json!({
            "ExpectedIps": ["10.0.0.300"], "Port": "0", "Path": "x", "ExpectStatus": "ok",
            "TimeoutMs": "0", "Resolver": "dns.example"
        }))
        .unwrap_err()
        .to_string();
        for property in
            ["Name", "ExpectedIps", "Port", "Path", "ExpectStatus", "TimeoutMs", "Resolver"]
        {
            assert!(reason.contains(&format!("{property}:")), "{property}: {reason}");
        }
    }
}
