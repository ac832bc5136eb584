//! What the checks found: JSON for machines, a table for people, and CloudWatch Embedded Metric
//! Format lines so alarms need no API call.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use serde_json::{json, Value};

use super::Target;

/// Time each phase took, in milliseconds, as blackbox_exporter reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    /// The DNS lookup.
    pub dns_ms: Option<u64>,
    /// The TCP connect.
    pub connect_ms: Option<u64>,
    /// The TLS handshake.
    pub tls_ms: Option<u64>,
    /// From sending the request to the response's head.
    pub first_byte_ms: Option<u64>,
}

/// The DNS check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DnsReport {
    /// Every answer is one of the expected addresses (and there is one).
    pub ok: bool,
    /// Why not.
    pub reason: Option<String>,
    /// The A and AAAA answers.
    pub found: Vec<IpAddr>,
    /// The endpoint's addresses.
    pub expected: Vec<IpAddr>,
    /// How long the lookup took.
    pub ms: Option<u64>,
}

/// The TCP, TLS and HTTPS checks of one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressReport {
    /// The address and port.
    pub address: SocketAddr,
    /// TCP connected.
    pub tcp_ok: bool,
    /// The TLS handshake verified the certificate for the name.
    pub tls_ok: bool,
    /// HTTPS answered an expected status.
    pub https_ok: bool,
    /// The first failure.
    pub reason: Option<String>,
    /// The HTTP status.
    pub status: Option<u16>,
    /// Where a 3xx answer points (quoted as received).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The earliest notAfter in the presented chain (seconds since the epoch).
    pub cert_not_after: Option<i64>,
    /// Whole days until then.
    pub cert_days_left: Option<i64>,
    /// Phase timings.
    pub timings: Timings,
}

impl AddressReport {
    /// A report of an address not probed yet.
    pub fn new(address: SocketAddr) -> Self {
        Self {
            address,
            tcp_ok: false,
            tls_ok: false,
            https_ok: false,
            reason: None,
            status: None,
            location: None,
            cert_not_after: None,
            cert_days_left: None,
            timings: Timings::default(),
        }
    }

    /// Ends the probe with `reason`.
    pub fn fail(mut self, reason: String) -> Self {
        self.reason = Some(reason);
        self
    }

    fn ok(&self) -> bool {
        self.tcp_ok && self.tls_ok && self.https_ok
    }
}

/// One check's outcome over all addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckOutcome {
    /// Whether it passed everywhere.
    pub ok: bool,
    /// The first failure.
    pub reason: Option<String>,
}

/// Everything found about one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetReport {
    /// The name checked.
    pub name: String,
    /// The endpoint behind it.
    pub endpoint_id: Option<String>,
    /// Every check passed.
    pub ok: bool,
    /// The first failure, for the stack's event log.
    pub reason: Option<String>,
    /// The DNS check.
    pub dns: DnsReport,
    /// TCP over all addresses.
    pub tcp: CheckOutcome,
    /// TLS over all addresses.
    pub tls: CheckOutcome,
    /// HTTPS over all addresses.
    pub https: CheckOutcome,
    /// The last HTTP status seen.
    pub status: Option<u16>,
    /// The fewest days any certificate has left.
    pub cert_days_left: Option<i64>,
    /// The slowest address's timings (and the DNS lookup's).
    pub timings: Timings,
    /// Each address probed.
    pub addresses: Vec<AddressReport>,
}

fn outcome(
    addresses: &[AddressReport],
    passed: impl Fn(&AddressReport) -> bool,
    reached: impl Fn(&AddressReport) -> bool,
) -> CheckOutcome {
    let failed = addresses.iter().find(|a| reached(a) && !passed(a));
    CheckOutcome {
        ok: !addresses.is_empty() && addresses.iter().all(&passed),
        reason: failed
            .and_then(|a| a.reason.clone())
            .or_else(|| addresses.is_empty().then(|| "no address to probe".to_owned())),
    }
}

impl TargetReport {
    /// Puts the DNS check and each address's probe together.
    pub fn new(target: &Target, dns: DnsReport, addresses: Vec<AddressReport>) -> Self {
        let tcp = outcome(&addresses, |a| a.tcp_ok, |_| true);
        let tls = outcome(&addresses, |a| a.tls_ok, |a| a.tcp_ok);
        let https = outcome(&addresses, |a| a.https_ok, |a| a.tls_ok);
        let ok = dns.ok && addresses.iter().all(AddressReport::ok) && !addresses.is_empty();
        let reason = if ok {
            None
        } else {
            dns.reason
                .clone()
                .or_else(|| addresses.iter().find_map(|a| a.reason.clone()))
                .or_else(|| Some("no address to probe".to_owned()))
        };
        let slowest =
            |f: fn(&Timings) -> Option<u64>| addresses.iter().filter_map(|a| f(&a.timings)).max();
        Self {
            name: target.name.clone(),
            endpoint_id: target.endpoint_id.clone(),
            ok,
            reason,
            timings: Timings {
                dns_ms: dns.ms,
                connect_ms: slowest(|t| t.connect_ms),
                tls_ms: slowest(|t| t.tls_ms),
                first_byte_ms: slowest(|t| t.first_byte_ms),
            },
            status: addresses.iter().rev().find_map(|a| a.status),
            cert_days_left: addresses.iter().filter_map(|a| a.cert_days_left).min(),
            dns,
            tcp,
            tls,
            https,
            addresses,
        }
    }

    /// A table a person reads at a glance.
    pub fn to_text(&self) -> String {
        let mark = |ok: bool| if ok { "ok  " } else { "FAIL" };
        let ms = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v} ms"));
        let mut out = String::new();
        let endpoint = self.endpoint_id.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
        let _ = writeln!(out, "{} {}{endpoint}", if self.ok { "PASS" } else { "FAIL" }, self.name);
        let found = self.dns.found.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            out,
            "  dns    {} {:>7}  {}",
            mark(self.dns.ok),
            ms(self.dns.ms),
            if found.is_empty() { "-" } else { &found }
        );
        for a in &self.addresses {
            let status = a.status.map_or_else(|| "-".to_owned(), |s| s.to_string());
            let cert =
                a.cert_days_left.map_or_else(String::new, |d| format!("  cert {d} days left"));
            let _ = writeln!(
                out,
                "  {:<22} tcp {} {:>7} | tls {} {:>7} | https {} {:>7} status {status}{cert}",
                a.address.to_string(),
                mark(a.tcp_ok),
                ms(a.timings.connect_ms),
                mark(a.tls_ok),
                ms(a.timings.tls_ms),
                mark(a.https_ok),
                ms(a.timings.first_byte_ms),
            );
        }
        if let Some(reason) = &self.reason {
            let _ = writeln!(out, "  reason: {reason}");
        }
        out
    }

    /// One CloudWatch Embedded Metric Format line: namespace `PrivateLink/Validator`,
    /// dimensions the name and the endpoint id, a metric only where there is a value.
    pub fn to_emf(&self, timestamp_ms: u64) -> Value {
        let flag = |ok: bool| u64::from(ok);
        let mut values: Vec<(&str, &str, Value)> = vec![
            ("Success", "Count", json!(flag(self.ok))),
            ("DnsOk", "Count", json!(flag(self.dns.ok))),
            ("HttpsOk", "Count", json!(flag(self.https.ok))),
        ];
        let timings = [
            ("DnsMs", self.timings.dns_ms),
            ("ConnectMs", self.timings.connect_ms),
            ("TlsMs", self.timings.tls_ms),
            ("FirstByteMs", self.timings.first_byte_ms),
        ];
        values.extend(
            timings.into_iter().filter_map(|(name, v)| Some((name, "Milliseconds", json!(v?)))),
        );
        if let Some(days) = self.cert_days_left {
            values.push(("CertDaysLeft", "None", json!(days)));
        }
        let mut line = json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "PrivateLink/Validator",
                    "Dimensions": [["Name", "EndpointId"]],
                    "Metrics": values.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
                }],
            },
            "Name": self.name,
            // A dimension must have a value; "none" for a target given without its endpoint.
            "EndpointId": self.endpoint_id.as_deref().unwrap_or("none"),
            "Ok": self.ok,
            "Reason": self.reason,
        });
        for (name, _, value) in values {
            line[name] = value;
        }
        line
    }
}

/// The summary of several reports, as the scheduled Lambda returns it.
pub fn summary(reports: &[TargetReport]) -> Value {
    json!({
        "ok": reports.iter().all(|r| r.ok),
        "checked": reports.len(),
        "failed": reports.iter().filter(|r| !r.ok).map(|r| json!({"name": r.name, "endpoint_id": r.endpoint_id, "reason": r.reason})).collect::<Vec<_>>(),
        "targets": reports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(ok: bool) -> TargetReport {
        let target =
            Target { endpoint_id: Some("vpce-1".into()), ..Target::new("api.partner.com") };
        let address: SocketAddr = "10.0.1.4:443".parse().unwrap();
        let mut probe = AddressReport::new(address);
        probe.tcp_ok = true;
        probe.tls_ok = true;
        probe.https_ok = ok;
        probe.status = Some(if ok { 200 } else { 503 });
        probe.cert_days_left = Some(42);
        probe.timings =
            Timings { dns_ms: None, connect_ms: Some(1), tls_ms: Some(5), first_byte_ms: Some(9) };
        if !ok {
            probe.reason = Some("HTTPS / answered 503".into());
        }
        let dns = DnsReport {
            ok: true,
            found: vec![address.ip()],
            expected: vec![address.ip()],
            ms: Some(2),
            ..DnsReport::default()
        };
        TargetReport::new(&target, dns, vec![probe])
    }

    #[test]
    fn the_emf_line_follows_the_format() {
        let line = report(true).to_emf(1_700_000_000_000);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(directive["Namespace"], "PrivateLink/Validator");
        // Every dimension and every metric named in the directive has a top-level value.
        for dimension in directive["Dimensions"][0].as_array().unwrap() {
            assert!(line[dimension.as_str().unwrap()].is_string(), "{dimension}");
        }
        let metrics = directive["Metrics"].as_array().unwrap();
        for metric in metrics {
            assert!(line[metric["Name"].as_str().unwrap()].is_number(), "{metric}");
        }
        let names: Vec<&str> = metrics.iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "Success",
                "DnsOk",
                "HttpsOk",
                "DnsMs",
                "ConnectMs",
                "TlsMs",
                "FirstByteMs",
                "CertDaysLeft"
            ]
        );
        assert_eq!(line["Success"], 1);
        assert_eq!(line["CertDaysLeft"], 42);
    }

    #[test]
    fn a_failure_reports_its_first_reason_and_zero_success() {
        let failed = report(false);
        assert!(!failed.ok);
        assert_eq!(failed.reason.as_deref(), Some("HTTPS / answered 503"));
        assert!(!failed.https.ok && failed.tls.ok && failed.tcp.ok);
        assert_eq!(failed.to_emf(0)["Success"], 0);
        assert!(failed.to_text().starts_with("FAIL api.partner.com (vpce-1)"));
    }
}
