//! The checks themselves: DNS through hickory, then TCP, TLS (tokio-rustls, so the chain and the
//! phase timings are at hand) and HTTP (hyper: HTTP/2 when the server chose it by ALPN, else
//! HTTP/1.1) over that same connection, as far as the target's protocol goes.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use super::report::{AddressReport, DnsReport};
use super::request::BODY_LIMIT;
use super::{BodyMatch, Protocol, Target};

fn ms_since(start: Instant) -> u64 {
    crate::lambda::millis(start.elapsed())
}

/// Resolves the target's name (A and AAAA) through `server` (else the system's resolver) and
/// compares the answers with the expected IPs.
pub async fn resolve(target: &Target, server: Option<SocketAddr>, deadline: Instant) -> DnsReport {
    let mut report = DnsReport { expected: target.expected.clone(), ..DnsReport::default() };
    let builder = match server {
        Some(server) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = server.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = server.port();
            let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
                server.ip(),
                true,
                vec![udp, tcp],
            )]);
            Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        }
        None => match TokioResolver::builder_tokio() {
            Ok(builder) => builder,
            Err(err) => {
                report.reason = Some(format!("cannot read the system's DNS configuration: {err}"));
                return report;
            }
        },
    };
    let mut builder = builder;
    let options = builder.options_mut();
    options.timeout = target.timeout;
    options.attempts = 2;
    options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    // Like `dig`: ask DNS, not /etc/hosts, and never answer from a cache of an earlier check.
    options.use_hosts_file = ResolveHosts::Never;
    options.cache_size = 0;
    let resolver = match builder.build() {
        Ok(resolver) => resolver,
        Err(err) => {
            report.reason = Some(format!("cannot set up DNS: {err}"));
            return report;
        }
    };
    let fqdn = format!("{}.", target.name.trim_end_matches('.'));
    let started = Instant::now();
    let Ok(answer) = timeout_at(deadline, resolver.lookup_ip(fqdn.as_str())).await else {
        report.ms = Some(ms_since(started));
        report.reason = Some(format!(
            "DNS lookup of {} got no answer within {} ms",
            target.name,
            target.timeout.as_millis()
        ));
        return report;
    };
    report.ms = Some(ms_since(started));
    match answer {
        Ok(lookup) => {
            let mut found: Vec<IpAddr> = lookup.iter().collect();
            found.sort();
            found.dedup();
            report.found = found;
        }
        Err(err) if err.is_nx_domain() => {
            report.reason = Some(format!(
                "NXDOMAIN: {} does not exist for this resolver; is Private DNS on for the endpoint, and are enableDnsSupport and enableDnsHostnames on for the VPC?",
                target.name
            ));
            return report;
        }
        Err(err) if err.is_no_records_found() => {
            report.reason = Some(format!("{} has no A or AAAA record", target.name));
            return report;
        }
        Err(err) => {
            report.reason = Some(format!("DNS lookup of {} failed: {err}", target.name));
            return report;
        }
    }
    let outside: Vec<String> = report
        .found
        .iter()
        .filter(|ip| !target.expected.is_empty() && !target.expected.contains(ip))
        .map(ToString::to_string)
        .collect();
    if report.found.is_empty() {
        report.reason = Some(format!("{} has no A or AAAA record", target.name));
    } else if !outside.is_empty() {
        report.reason = Some(format!(
            "{} answers {} outside the endpoint's addresses (found {}; expected {}): another record (public DNS, a conflicting private hosted zone) answers for the name",
            target.name,
            outside.join(", "),
            join(&report.found),
            join(&target.expected),
        ));
    } else {
        report.ok = true;
    }
    report
}

fn join(ips: &[IpAddr]) -> String {
    ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Connects to one address and checks TCP, then (unless the protocol is `tcp`) TLS for the
/// name, then (for `https`) the HTTP answer, all before the target's `deadline`. `tls`: the
/// configuration for the handshake, when the protocol has one.
pub async fn probe(
    tls: Option<Result<Arc<rustls::ClientConfig>, String>>,
    target: &Target,
    ip: IpAddr,
    deadline: Instant,
) -> AddressReport {
    let mut report = AddressReport::new(SocketAddr::new(ip, target.port));
    match check_phases(&mut report, tls, target, deadline).await {
        Ok(()) => report,
        Err(reason) => report.fail(reason),
    }
}

/// The phases in order, each recorded in `report` as it passes; the first failure is the
/// reason.
async fn check_phases(
    report: &mut AddressReport,
    tls: Option<Result<Arc<rustls::ClientConfig>, String>>,
    target: &Target,
    deadline: Instant,
) -> Result<(), String> {
    let phase = Phase { target, address: report.address, deadline };
    let started = Instant::now();
    let stream = phase.connect().await?;
    report.timings.connect_ms = Some(ms_since(started));
    report.tcp_ok = true;
    let Some(tls) = tls else { return Ok(()) };
    let tls = tls.map_err(|err| format!("TLS cannot be checked: {err}"))?;

    let started = Instant::now();
    let stream = phase.handshake(tls, stream).await?;
    report.timings.tls_ms = Some(ms_since(started));
    report.tls_ok = true;
    let session = stream.get_ref().1;
    report.tls_version = session.protocol_version().and_then(|v| v.as_str()).map(str::to_owned);
    if let Some(chain) = session.peer_certificates() {
        report.cert_not_after = chain.iter().filter_map(|der| not_after(der)).min();
        report.cert_days_left = report.cert_not_after.map(days_left);
    }
    if target.protocol != Protocol::Https {
        return Ok(());
    }
    let h2 = session.alpn_protocol() == Some(b"h2");
    report.http_version = Some(if h2 { "HTTP/2" } else { "HTTP/1.1" }.to_owned());

    let started = Instant::now();
    let (response, driver) = phase.send(stream, h2).await?;
    report.timings.first_byte_ms = Some(ms_since(started));
    let answered = phase.check_answer(report, response, driver).await;
    report.https_ok = answered.is_ok();
    answered
}

/// What every phase of one address's check knows.
struct Phase<'a> {
    target: &'a Target,
    address: SocketAddr,
    deadline: Instant,
}

type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;
/// The task that drives a connection's HTTP; aborted once the answer is read.
type Driver = tokio::task::JoinHandle<()>;

impl Phase<'_> {
    /// The target's time limit, as the reasons say it.
    fn limit(&self) -> u128 {
        self.target.timeout.as_millis()
    }

    async fn connect(&self) -> Result<TcpStream, String> {
        let (address, limit) = (self.address, self.limit());
        match timeout_at(self.deadline, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(err)) => Err(format!("TCP connect to {address} failed: {err} (check the endpoint's security group and the interface in that zone)")),
            Err(_) => Err(format!("TCP connect to {address} timed out after {limit} ms")),
        }
    }

    async fn handshake(
        &self,
        tls: Arc<rustls::ClientConfig>,
        stream: TcpStream,
    ) -> Result<TlsStream, String> {
        let (address, limit, name) = (self.address, self.limit(), &self.target.name);
        let Ok(server_name) = ServerName::try_from(name.clone()) else {
            return Err(format!("{name} is not a name TLS can check"));
        };
        let connector = tokio_rustls::TlsConnector::from(tls);
        match timeout_at(self.deadline, connector.connect(server_name, stream)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(err)) => Err(format!("TLS handshake with {address} for {name} failed: {err}")),
            Err(_) => Err(format!("TLS handshake with {address} timed out after {limit} ms")),
        }
    }

    /// Sends the target's request over HTTP/2 (`h2`) or HTTP/1.1; the response's head and the
    /// task driving the connection.
    async fn send(
        &self,
        stream: TlsStream,
        h2: bool,
    ) -> Result<(hyper::Response<Incoming>, Driver), String> {
        let (address, limit, target) = (self.address, self.limit(), self.target);
        let io = TokioIo::new(stream);
        let (response, driver) = if h2 {
            let handshake = hyper::client::conn::http2::handshake(TokioExecutor::new(), io);
            let (mut sender, connection) = match timeout_at(self.deadline, handshake).await {
                Ok(Ok(parts)) => parts,
                Ok(Err(err)) => return Err(format!("HTTP/2 to {address} failed: {err}")),
                Err(_) => return Err(format!("HTTP/2 to {address} timed out after {limit} ms")),
            };
            let driver = tokio::spawn(async move {
                let _ = connection.await;
            });
            // HTTP/2 carries the scheme and authority in the request itself.
            let uri = format!("https://{}{}", target.name, target.path);
            let request = request(target, &uri, false).inspect_err(|_| driver.abort())?;
            (timeout_at(self.deadline, sender.send_request(request)).await, driver)
        } else {
            let handshake = hyper::client::conn::http1::handshake(io);
            let (mut sender, connection) = match timeout_at(self.deadline, handshake).await {
                Ok(Ok(parts)) => parts,
                Ok(Err(err)) => return Err(format!("HTTP to {address} failed: {err}")),
                Err(_) => return Err(format!("HTTP to {address} timed out after {limit} ms")),
            };
            let driver = tokio::spawn(async move {
                let _ = connection.await;
            });
            let request = request(target, &target.path, true).inspect_err(|_| driver.abort())?;
            (timeout_at(self.deadline, sender.send_request(request)).await, driver)
        };
        match response {
            Ok(Ok(response)) => Ok((response, driver)),
            Ok(Err(err)) => {
                driver.abort();
                Err(format!("HTTPS request to {address} failed: {err}"))
            }
            Err(_) => {
                driver.abort();
                Err(format!("HTTPS response from {address} did not come within {limit} ms"))
            }
        }
    }

    /// The status (and where a redirect points) into `report`, checked against the expected
    /// ones; then the body, when the target expects something of it.
    async fn check_answer(
        &self,
        report: &mut AddressReport,
        response: hyper::Response<Incoming>,
        driver: Driver,
    ) -> Result<(), String> {
        let (address, target) = (self.address, self.target);
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(hyper::header::LOCATION)
            .map(|l| crate::text::quoted(&String::from_utf8_lossy(l.as_bytes())));
        report.status = Some(status);
        let redirect = location.filter(|_| (300..400).contains(&status));
        report.location = redirect.clone();
        if !target.expect_status.contains(status) {
            driver.abort();
            let expected = &target.expect_status;
            let pointing = redirect.map(|l| format!(" (a redirect to {l})")).unwrap_or_default();
            return Err(format!(
                "HTTPS {} {} from {address} answered {status}{pointing}, expected {expected}",
                target.method, target.path
            ));
        }
        let Some(expected) = &target.expect_body else {
            driver.abort();
            return Ok(());
        };
        let body = timeout_at(self.deadline, read_body(response.into_body())).await;
        driver.abort();
        let limit = self.limit();
        let body = match body {
            Ok(Ok(body)) => body,
            Ok(Err(err)) => {
                return Err(format!("the body from {address} could not be read: {err}"))
            }
            Err(_) => {
                return Err(format!("the body from {address} did not come within {limit} ms"))
            }
        };
        self.match_body(expected, body).await
    }

    /// Whether the body holds what the target expects. Off the async threads, and bounded by
    /// the deadline like the I/O before it: the pattern's compiled size bounds the work
    /// (`PATTERN_SIZE_LIMIT`), the deadline the wait.
    async fn match_body(&self, expected: &BodyMatch, body: String) -> Result<(), String> {
        let (address, limit, target) = (self.address, self.limit(), self.target);
        let length = body.len();
        let matcher = expected.clone();
        let matched =
            timeout_at(self.deadline, tokio::task::spawn_blocking(move || matcher.found_in(&body)))
                .await;
        let shown = crate::text::quoted(&expected.to_string());
        match matched {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(format!(
                "the body of {} {} from {address} (its first {length} bytes) does not hold {shown}",
                target.method, target.path,
            )),
            Ok(Err(_)) => Err(format!("matching the body against {shown} failed")),
            Err(_) => Err(format!(
                "matching the body from {address} against {shown} did not finish within {limit} ms"
            )),
        }
    }
}

/// The request a target asks for; with `host`, a `Host` header (HTTP/1.1).
fn request(target: &Target, uri: &str, host: bool) -> Result<hyper::Request<Empty<Bytes>>, String> {
    let mut builder = hyper::Request::builder()
        .method(target.method.as_str())
        .uri(uri)
        .header(hyper::header::USER_AGENT, "privatelink-validator");
    if host {
        builder = builder.header(hyper::header::HOST, &target.name);
    }
    for (name, value) in &target.headers.0 {
        builder = builder.header(name.as_str(), value.as_str());
    }
    // The error names the method and path, never a header's value.
    builder.body(Empty::<Bytes>::new()).map_err(|_| {
        format!("cannot request {} {} with the headers given", target.method, target.path)
    })
}

/// The body's first [`BODY_LIMIT`] bytes, as text.
async fn read_body(mut body: Incoming) -> Result<String, hyper::Error> {
    let mut read = Vec::new();
    while read.len() < BODY_LIMIT {
        match body.frame().await {
            Some(frame) => {
                if let Ok(data) = frame?.into_data() {
                    read.extend_from_slice(&data);
                }
            }
            None => break,
        }
    }
    read.truncate(BODY_LIMIT);
    Ok(String::from_utf8_lossy(&read).into_owned())
}

/// A certificate's notAfter, in seconds since the epoch.
fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

fn days_left(not_after: i64) -> i64 {
    let now = i64::try_from(crate::lambda::since_epoch().as_secs()).unwrap_or(i64::MAX);
    (not_after - now).div_euclid(86_400)
}
