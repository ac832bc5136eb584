//! What the checks found: JSON for machines, a table for people, and CloudWatch Embedded Metric
//! Format lines so alarms need no API call.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use serde_json::{json, Value};

use super::{Protocol, Target, ZoneTarget};

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
    /// The Availability Zone of the endpoint's interface at this address, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The TLS version negotiated (`TLSv1_3`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<String>,
    /// The HTTP version used: `HTTP/2` when the server chose it by ALPN, else `HTTP/1.1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_version: Option<String>,
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
            zone: None,
            tls_version: None,
            http_version: None,
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

    /// Every check its protocol makes passed (a failure always leaves a reason).
    fn ok(&self) -> bool {
        self.tcp_ok && self.reason.is_none()
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

/// One zone of the endpoint: its own DNS name and its interface's checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneReport {
    /// The Availability Zone.
    pub zone: String,
    /// Its zonal DNS name resolved to its interface's addresses (when it has one).
    pub dns: Option<DnsReport>,
    /// Its interface's addresses.
    pub addresses: Vec<IpAddr>,
    /// Its DNS name and every check of its addresses passed.
    pub ok: bool,
    /// The first failure.
    pub reason: Option<String>,
    /// The slowest of its addresses' timings (and its DNS lookup's).
    pub timings: Timings,
}

/// Everything found about one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetReport {
    /// The name checked.
    pub name: String,
    /// The endpoint behind it.
    pub endpoint_id: Option<String>,
    /// `https`, `tls`, `tcp` or `udp`.
    pub protocol: String,
    /// Every check passed.
    pub ok: bool,
    /// The first failure, for the stack's event log.
    pub reason: Option<String>,
    /// A failed scheduled check was made again before this report.
    pub retried: bool,
    /// How the endpoint differs from what it was made as (empty: no drift).
    pub drift: Vec<String>,
    /// The DNS check.
    pub dns: DnsReport,
    /// TCP over all addresses (not for `udp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<CheckOutcome>,
    /// TLS over all addresses (not for `tcp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<CheckOutcome>,
    /// HTTPS over all addresses (only for `https`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https: Option<CheckOutcome>,
    /// The HTTP version the addresses answered with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_version: Option<String>,
    /// Each zone of the endpoint.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<ZoneReport>,
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

fn slowest<'a>(
    addresses: impl Iterator<Item = &'a AddressReport> + Clone,
    dns_ms: Option<u64>,
) -> Timings {
    let max =
        |f: fn(&Timings) -> Option<u64>| addresses.clone().filter_map(|a| f(&a.timings)).max();
    Timings {
        dns_ms,
        connect_ms: max(|t| t.connect_ms),
        tls_ms: max(|t| t.tls_ms),
        first_byte_ms: max(|t| t.first_byte_ms),
    }
}

impl TargetReport {
    /// Puts the DNS check, each address's probe and each zone's DNS check together.
    pub fn new(
        target: &Target,
        dns: DnsReport,
        mut addresses: Vec<AddressReport>,
        zonal: Vec<(&ZoneTarget, DnsReport)>,
    ) -> Self {
        for address in &mut addresses {
            address.zone = target
                .zones
                .iter()
                .find(|z| z.addresses.contains(&address.address.ip()))
                .map(|z| z.zone.clone());
        }
        let connects = target.protocol.connects();
        let tcp = connects.then(|| outcome(&addresses, |a| a.tcp_ok, |_| true));
        let tls =
            target.protocol.has_tls().then(|| outcome(&addresses, |a| a.tls_ok, |a| a.tcp_ok));
        let https = (target.protocol == Protocol::Https)
            .then(|| outcome(&addresses, |a| a.https_ok, |a| a.tls_ok));
        let zones: Vec<ZoneReport> = target
            .zones
            .iter()
            .map(|zone| {
                let dns = zonal.iter().find(|(z, _)| *z == zone).map(|(_, d)| d.clone());
                let probed: Vec<&AddressReport> =
                    addresses.iter().filter(|a| zone.addresses.contains(&a.address.ip())).collect();
                let reason = dns
                    .as_ref()
                    .and_then(|d| d.reason.clone())
                    .or_else(|| probed.iter().find_map(|a| a.reason.clone()))
                    .or_else(|| {
                        zone.addresses.is_empty().then(|| format!("no interface in {}", zone.zone))
                    });
                ZoneReport {
                    zone: zone.zone.clone(),
                    timings: slowest(probed.iter().copied(), dns.as_ref().and_then(|d| d.ms)),
                    dns,
                    addresses: zone.addresses.clone(),
                    ok: reason.is_none(),
                    reason,
                }
            })
            .collect();
        // A `udp` target is checked by DNS alone (no address is probed).
        let probes_ok =
            !connects || (addresses.iter().all(AddressReport::ok) && !addresses.is_empty());
        let checks_ok = dns.ok && probes_ok;
        let ok = checks_ok && target.drift.is_empty() && zones.iter().all(|z| z.ok);
        let reason = if ok {
            None
        } else {
            target
                .drift
                .first()
                .cloned()
                .or_else(|| dns.reason.clone())
                .or_else(|| addresses.iter().find_map(|a| a.reason.clone()))
                .or_else(|| {
                    zones.iter().find(|z| !z.ok).map(|z| {
                        format!("zone {}: {}", z.zone, z.reason.as_deref().unwrap_or("failed"))
                    })
                })
                .or_else(|| Some("no address to probe".to_owned()))
        };
        Self {
            name: target.name.clone(),
            endpoint_id: target.endpoint_id.clone(),
            protocol: target.protocol.to_string(),
            ok,
            reason,
            retried: false,
            drift: target.drift.clone(),
            timings: slowest(addresses.iter(), dns.ms),
            status: addresses.iter().rev().find_map(|a| a.status),
            cert_days_left: addresses.iter().filter_map(|a| a.cert_days_left).min(),
            http_version: addresses.iter().find_map(|a| a.http_version.clone()),
            dns,
            tcp,
            tls,
            https,
            zones,
            addresses,
        }
    }

    /// A table a person reads at a glance: one line per address (with its zone), one per zone
    /// whose own DNS name was checked, the drift, and the reason.
    pub fn to_text(&self) -> String {
        let mark = |ok: bool| if ok { "ok  " } else { "FAIL" };
        let ms = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v} ms"));
        let mut out = String::new();
        let endpoint = self.endpoint_id.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
        let retried = if self.retried { ", retried once" } else { "" };
        let http = self.http_version.as_deref().map(|v| format!(", {v}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {}{endpoint} [{}{http}{retried}]",
            if self.ok { "PASS" } else { "FAIL" },
            self.name,
            self.protocol
        );
        let found = self.dns.found.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            out,
            "  dns    {} {:>7}  {}",
            mark(self.dns.ok),
            ms(self.dns.ms),
            if found.is_empty() { "-" } else { &found }
        );
        for a in &self.addresses {
            let mut line = format!(
                "  {:<22} tcp {} {:>7}",
                a.address.to_string(),
                mark(a.tcp_ok),
                ms(a.timings.connect_ms)
            );
            if self.tls.is_some() {
                let _ = write!(line, " | tls {} {:>7}", mark(a.tls_ok), ms(a.timings.tls_ms));
            }
            if self.https.is_some() {
                let status = a.status.map_or_else(|| "-".to_owned(), |s| s.to_string());
                let _ = write!(
                    line,
                    " | https {} {:>7} status {status}",
                    mark(a.https_ok),
                    ms(a.timings.first_byte_ms)
                );
            }
            if let Some(days) = a.cert_days_left {
                let _ = write!(line, "  cert {days} days left");
            }
            if let Some(zone) = &a.zone {
                let _ = write!(line, "  {zone}");
            }
            let _ = writeln!(out, "{line}");
        }
        for zone in self.zones.iter().filter(|z| z.dns.is_some() || !z.ok) {
            let dns = zone.dns.as_ref();
            let found = dns
                .map(|d| d.found.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  zone {:<17} {}  zonal dns {}",
                zone.zone,
                mark(zone.ok),
                if found.is_empty() { "-" } else { &found }
            );
        }
        for drift in &self.drift {
            let _ = writeln!(out, "  drift: {drift}");
        }
        if let Some(reason) = &self.reason {
            let _ = writeln!(out, "  reason: {reason}");
        }
        out
    }

    /// The CloudWatch Embedded Metric Format lines of this report (namespace
    /// `PrivateLink/Validator`): one for the target, dimensioned by name and endpoint id and
    /// also with no dimension (the fleet, which the template's alarms watch), then one per zone,
    /// dimensioned by name, endpoint id and zone. A metric only where there is a value.
    pub fn to_emf_lines(&self, timestamp_ms: u64) -> Vec<Value> {
        let flag = |ok: bool| json!(u64::from(ok));
        let mut values: Vec<(&str, &str, Value)> =
            vec![("Success", "Count", flag(self.ok)), ("DnsOk", "Count", flag(self.dns.ok))];
        values.extend(self.tls.as_ref().map(|t| ("TlsOk", "Count", flag(t.ok))));
        values.extend(self.https.as_ref().map(|h| ("HttpsOk", "Count", flag(h.ok))));
        if self.endpoint_id.is_some() {
            values.push(("DriftDetected", "Count", flag(!self.drift.is_empty())));
        }
        values.extend(timing_values(&self.timings));
        if let Some(days) = self.cert_days_left {
            values.push(("CertDaysLeft", "None", json!(days)));
        }
        let endpoint = self.endpoint_id.as_deref().unwrap_or("none");
        let mut lines = vec![emf_line(
            timestamp_ms,
            &[&["Name", "EndpointId"], &[]],
            json!({
                "Name": self.name,
                // A dimension must have a value; "none" for a target given without its endpoint.
                "EndpointId": endpoint,
                "Ok": self.ok,
                "Reason": self.reason,
                "Retried": self.retried,
            }),
            values,
        )];
        for zone in &self.zones {
            let mut values = vec![("Success", "Count", flag(zone.ok))];
            values.extend(zone.dns.as_ref().map(|d| ("DnsOk", "Count", flag(d.ok))));
            values.extend(timing_values(&zone.timings));
            lines.push(emf_line(
                timestamp_ms,
                &[&["Name", "EndpointId", "Zone"]],
                json!({
                    "Name": self.name,
                    "EndpointId": endpoint,
                    "Zone": zone.zone,
                    "Ok": zone.ok,
                    "Reason": zone.reason,
                }),
                values,
            ));
        }
        lines
    }

    /// The target's own EMF line (the first of [`Self::to_emf_lines`]).
    pub fn to_emf(&self, timestamp_ms: u64) -> Value {
        self.to_emf_lines(timestamp_ms).swap_remove(0)
    }
}

fn timing_values(timings: &Timings) -> Vec<(&'static str, &'static str, Value)> {
    [
        ("DnsMs", timings.dns_ms),
        ("ConnectMs", timings.connect_ms),
        ("TlsMs", timings.tls_ms),
        ("FirstByteMs", timings.first_byte_ms),
    ]
    .into_iter()
    .filter_map(|(name, v)| Some((name, "Milliseconds", json!(v?))))
    .collect()
}

/// One EMF record: the directive, the `fields` (dimension values and context) and the values.
fn emf_line(
    timestamp_ms: u64,
    dimensions: &[&[&str]],
    mut fields: Value,
    values: Vec<(&str, &str, Value)>,
) -> Value {
    fields["_aws"] = json!({
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [{
            "Namespace": "PrivateLink/Validator",
            "Dimensions": dimensions,
            "Metrics": values.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
        }],
    });
    for (name, _, value) in values {
        fields[name] = value;
    }
    fields
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
        TargetReport::new(&target, dns, vec![probe], vec![])
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
                "TlsOk",
                "HttpsOk",
                "DriftDetected",
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
        assert!(
            !failed.https.as_ref().unwrap().ok
                && failed.tls.as_ref().unwrap().ok
                && failed.tcp.as_ref().unwrap().ok
        );
        assert_eq!(failed.to_emf(0)["Success"], 0);
        assert!(failed.to_text().starts_with("FAIL api.partner.com (vpce-1)"));
    }
}
