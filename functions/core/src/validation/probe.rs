//! The checks themselves: DNS through hickory, then TCP, TLS (tokio-rustls, so the chain and the
//! phase timings are at hand) and HTTP/1.1 (hyper) over that same connection.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use super::report::{AddressReport, DnsReport};
use super::Target;

fn ms_since(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
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

/// Connects to one address and checks TCP, then TLS for the name, then the HTTPS status, all
/// before the target's `deadline`.
pub async fn probe(
    tls: Result<Arc<rustls::ClientConfig>, String>,
    target: &Target,
    ip: IpAddr,
    deadline: Instant,
) -> AddressReport {
    let address = SocketAddr::new(ip, target.port);
    let mut report = AddressReport::new(address);
    let tls = match tls {
        Ok(tls) => tls,
        Err(err) => return report.fail(format!("TLS cannot be checked: {err}")),
    };
    let limit = target.timeout.as_millis();

    let started = Instant::now();
    let stream = match timeout_at(deadline, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => return report.fail(format!("TCP connect to {address} failed: {err} (check the endpoint's security group and the interface in that zone)")),
        Err(_) => return report.fail(format!("TCP connect to {address} timed out after {limit} ms")),
    };
    report.timings.connect_ms = Some(ms_since(started));
    report.tcp_ok = true;

    let Ok(server_name) = ServerName::try_from(target.name.clone()) else {
        return report.fail(format!("{} is not a name TLS can check", target.name));
    };
    let started = Instant::now();
    let connector = tokio_rustls::TlsConnector::from(tls);
    let stream = match timeout_at(deadline, connector.connect(server_name, stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            return report
                .fail(format!("TLS handshake with {address} for {} failed: {err}", target.name))
        }
        Err(_) => {
            return report.fail(format!("TLS handshake with {address} timed out after {limit} ms"))
        }
    };
    report.timings.tls_ms = Some(ms_since(started));
    report.tls_ok = true;
    if let Some(chain) = stream.get_ref().1.peer_certificates() {
        report.cert_not_after = chain.iter().filter_map(|der| not_after(der)).min();
        report.cert_days_left = report.cert_not_after.map(days_left);
    }

    let started = Instant::now();
    let (mut sender, connection) =
        match timeout_at(deadline, hyper::client::conn::http1::handshake(TokioIo::new(stream)))
            .await
        {
            Ok(Ok(parts)) => parts,
            Ok(Err(err)) => return report.fail(format!("HTTP to {address} failed: {err}")),
            Err(_) => return report.fail(format!("HTTP to {address} timed out after {limit} ms")),
        };
    let driver = tokio::spawn(connection);
    let request = hyper::Request::get(&target.path)
        .header(hyper::header::HOST, &target.name)
        .header(hyper::header::USER_AGENT, "privatelink-validator")
        .body(Empty::<Bytes>::new());
    let request = match request {
        Ok(request) => request,
        Err(err) => return report.fail(format!("cannot request {}: {err}", target.path)),
    };
    let response = timeout_at(deadline, sender.send_request(request)).await;
    driver.abort();
    let (status, location) = match response {
        Ok(Ok(response)) => {
            let location = response
                .headers()
                .get(hyper::header::LOCATION)
                .map(|l| crate::properties::quoted(&String::from_utf8_lossy(l.as_bytes())));
            (response.status().as_u16(), location)
        }
        Ok(Err(err)) => return report.fail(format!("HTTPS request to {address} failed: {err}")),
        Err(_) => {
            return report
                .fail(format!("HTTPS response from {address} did not come within {limit} ms"))
        }
    };
    report.timings.first_byte_ms = Some(ms_since(started));
    report.status = Some(status);
    let redirect = location.filter(|_| (300..400).contains(&status));
    report.location = redirect.clone();
    if target.expect_status.contains(status) {
        report.https_ok = true;
    } else {
        let expected = &target.expect_status;
        let pointing = redirect.map(|l| format!(" (a redirect to {l})")).unwrap_or_default();
        return report.fail(format!(
            "HTTPS {} from {address} answered {status}{pointing}, expected {expected}",
            target.path
        ));
    }
    report
}

/// A certificate's notAfter, in seconds since the epoch.
fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

fn days_left(not_after: i64) -> i64 {
    let now = crate::runtime::since_epoch().as_secs() as i64;
    (not_after - now).div_euclid(86_400)
}
