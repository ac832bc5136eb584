//! What a check asks of a target beyond its name: the protocol, the HTTP request (method,
//! headers, the body expected), the lowest TLS version, and a client certificate.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

use crate::text::quoted;

/// How far a check goes on each address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Protocol {
    /// TCP, TLS, then an HTTP request (HTTP/2 when the server offers it by ALPN).
    #[default]
    Https,
    /// TCP, then a TLS handshake: chain, name, expiry; no HTTP (Kafka, databases).
    Tls,
    /// A TCP connect only.
    Tcp,
    /// DNS only: a UDP service (PrivateLink carries UDP) answers nothing a check could read
    /// without speaking its protocol, so the name and its addresses are what is checked.
    Udp,
}

impl Protocol {
    /// `https`, `tls`, `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Https => "https",
            Self::Tls => "tls",
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }

    /// Whether the check makes a TLS handshake.
    pub fn has_tls(self) -> bool {
        matches!(self, Self::Https | Self::Tls)
    }

    /// Whether the check connects to each address (every protocol but `udp`).
    pub fn connects(self) -> bool {
        self != Self::Udp
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "https" => Ok(Self::Https),
            "tls" => Ok(Self::Tls),
            "tcp" => Ok(Self::Tcp),
            "udp" => Ok(Self::Udp),
            _ => Err(format!("{} is not one of https, tls, tcp, udp", quoted(text))),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lowest TLS version a check accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TlsVersion {
    /// TLS 1.2 or 1.3 (rustls's safe default).
    #[default]
    V1_2,
    /// TLS 1.3 only.
    V1_3,
}

impl FromStr for TlsVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().trim_start_matches("TLSv").trim_start_matches("tls") {
            "1.2" => Ok(Self::V1_2),
            "1.3" => Ok(Self::V1_3),
            _ => {
                Err(format!("{} is not a TLS version this check takes (1.2 or 1.3)", quoted(text)))
            }
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V1_2 => "1.2",
            Self::V1_3 => "1.3",
        })
    }
}

/// The most of a response body a check reads for `ExpectBody`.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The most a `regex:` pattern may compile to, counted repetitions expanded (the `regex-lite`
/// NFA's heap size): a match takes time proportional to this size times the body's length, so
/// this bounds each check's CPU work (`((a{50}){50}){20}b` would need 50,000 states). At this
/// limit the costliest patterns (`(?:a*){225}b`, `[^}]{0,183}b`) take about a quarter of a
/// second over a whole [`BODY_LIMIT`] body on this project's build machine.
pub const PATTERN_SIZE_LIMIT: usize = 16 * 1024;
/// The longest `regex:` pattern, in bytes.
pub const PATTERN_LENGTH_LIMIT: usize = 1024;

/// What the body (its first [`BODY_LIMIT`] bytes) must hold: a substring, or, written
/// `regex:<pattern>`, a regular expression.
#[derive(Debug, Clone)]
pub enum BodyMatch {
    /// A substring.
    Contains(String),
    /// A regular expression (`regex-lite` syntax).
    Matches(regex_lite::Regex),
}

impl BodyMatch {
    /// Whether `body` holds what is expected.
    pub fn found_in(&self, body: &str) -> bool {
        match self {
            Self::Contains(text) => body.contains(text.as_str()),
            Self::Matches(regex) => regex.is_match(body),
        }
    }
}

impl FromStr for BodyMatch {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.strip_prefix("regex:") {
            Some(pattern) if pattern.len() > PATTERN_LENGTH_LIMIT => Err(format!(
                "the pattern is {} bytes long, more than the {PATTERN_LENGTH_LIMIT} a pattern may have",
                pattern.len()
            )),
            Some(pattern) => regex_lite::RegexBuilder::new(pattern)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .map(Self::Matches)
                .map_err(|e| match e.to_string().contains("size limit") {
                    true => format!(
                        "{} compiles to more than the {} KiB a pattern may take (counted repetitions such as {{50}} are expanded): write a smaller pattern",
                        quoted(pattern),
                        PATTERN_SIZE_LIMIT / 1024
                    ),
                    false => format!("{} is not a regular expression: {e}", quoted(pattern)),
                }),
            None if text.is_empty() => Err("must not be empty".to_owned()),
            None => Ok(Self::Contains(text.to_owned())),
        }
    }
}

impl PartialEq for BodyMatch {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl fmt::Display for BodyMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Contains(text) => f.write_str(text),
            Self::Matches(regex) => write!(f, "regex:{}", regex.as_str()),
        }
    }
}

/// Request headers. Their values are never printed (a `Debug` shows the names only): an
/// `Authorization` or API key must not reach a log.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(name, _)| format!("{name}: <hidden>"))).finish()
    }
}

/// `NAME:VALUE` as one header, or why not.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) =
        text.split_once(':').ok_or_else(|| format!("{} is not NAME:VALUE", shown_header(text)))?;
    let name = name.trim();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!("{} is not a header name", quoted(name)));
    }
    if value.chars().any(|c| c == '\r' || c == '\n') {
        return Err(format!("the value of {name} has a line break"));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

/// A header as a problem shows it: its name only.
fn shown_header(text: &str) -> String {
    quoted(text.split(':').next().unwrap_or_default())
}

/// Whether `method` is an HTTP method token.
pub fn is_method(method: &str) -> bool {
    !method.is_empty() && method.chars().all(|c| c.is_ascii_uppercase() || c == '-')
}

/// A client certificate for mutual TLS: the chain and its key.
#[derive(Debug)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// Its private key.
    pub key: PrivateKeyDer<'static>,
}

impl ClientIdentity {
    /// Reads a PEM holding the certificate chain and the private key.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let chain = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("its certificates do not parse as PEM: {e}"))?;
        if chain.is_empty() {
            return Err("it holds no PEM certificate".to_owned());
        }
        let key = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| format!("it holds no private key that parses as PEM: {e}"))?;
        Ok(Self { chain, key })
    }
}

/// Where client certificates are read from, by the name a target gives (`ClientCert`): a file
/// for the command line, a Parameter Store parameter (or a Secrets Manager secret through
/// `/aws/reference/secretsmanager/...`) in Lambda.
pub trait PemSource: Send + Sync {
    /// The PEM named `name`.
    fn pem<'a>(
        &'a self,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;
}

/// Files, by path.
pub struct Files;

impl PemSource for Files {
    fn pem<'a>(
        &'a self,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(async move {
            tokio::fs::read_to_string(name).await.map_err(|e| format!("cannot read {name}: {e}"))
        })
    }
}

/// Secrets read once per name, on first use (or why they can't be read, kept too: a check names
/// the problem again without reading again). Each user makes of the text what it needs.
#[derive(Clone, Default)]
struct ReadOnce {
    source: Option<Arc<dyn PemSource>>,
    loaded: Arc<tokio::sync::Mutex<HashMap<String, Result<String, String>>>>,
}

impl ReadOnce {
    fn from(source: Arc<dyn PemSource>) -> Self {
        Self { source: Some(source), loaded: Arc::default() }
    }

    /// The secret `name` as `parse` makes it; the error names `what` and `name`, and says why.
    async fn get<T>(
        &self,
        name: &str,
        what: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, String> {
        let text = {
            let mut loaded = self.loaded.lock().await;
            match loaded.get(name) {
                Some(found) => found.clone(),
                None => {
                    let read = match &self.source {
                        None => Err("no source of secrets is configured".to_owned()),
                        Some(source) => source.pem(name).await,
                    };
                    loaded.insert(name.to_owned(), read.clone());
                    read
                }
            }
        };
        text.and_then(|text| parse(&text))
            .map_err(|e| format!("{what} {} can't be used: {e}", quoted(name)))
    }
}

/// Client identities (`ClientCert`), read once per name, on first use.
#[derive(Clone, Default)]
pub struct Identities(ReadOnce);

impl Identities {
    /// Identities read from `source`.
    pub fn from(source: Arc<dyn PemSource>) -> Self {
        Self(ReadOnce::from(source))
    }

    /// The identity named `name`, read on first use; the error says why it can't be used.
    pub async fn get(&self, name: &str) -> Result<Arc<ClientIdentity>, String> {
        let parse = |pem: &str| ClientIdentity::from_pem(pem.as_bytes()).map(Arc::new);
        self.0.get(name, "the client certificate", parse).await
    }
}

/// Header values kept in a secret (`HeadersParameter`: a Parameter Store SecureString, or a
/// Secrets Manager secret through `/aws/reference/secretsmanager/...`; a file on the command
/// line) holding a JSON object of names and values. Read once per name, on first use. A
/// problem names the secret and the header, never a value.
#[derive(Clone, Default)]
pub struct SecretHeaders(ReadOnce);

impl SecretHeaders {
    /// Headers read from `source`.
    pub fn from(source: Arc<dyn PemSource>) -> Self {
        Self(ReadOnce::from(source))
    }

    /// The headers kept in `name`, read on first use; the error says why they can't be used.
    pub async fn get(&self, name: &str) -> Result<Headers, String> {
        self.0.get(name, "the headers of HeadersParameter", headers_from_json).await
    }
}

/// A JSON object of header names and values, as a secret holds them. The problems name a
/// header, never a value (nor the text around a syntax error).
pub fn headers_from_json(text: &str) -> Result<Headers, String> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| format!("it is not JSON (line {}, column {})", e.line(), e.column()))?;
    let Value::Object(fields) = value else {
        return Err("it is not a JSON object of header names and values".to_owned());
    };
    let mut headers = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        let Value::String(value) = value else {
            return Err(format!("the value of {} is not a string", quoted(&name)));
        };
        headers.push(parse_header(&format!("{name}:{value}"))?);
    }
    if headers.is_empty() {
        return Err("it holds no header".to_owned());
    }
    Ok(Headers(headers))
}

impl Headers {
    /// These headers with `secret` added; a header named in both takes the secret's value.
    #[must_use]
    pub fn with(&self, secret: &Headers) -> Headers {
        let mut all: Vec<(String, String)> = self
            .0
            .iter()
            .filter(|(name, _)| !secret.0.iter().any(|(s, _)| s.eq_ignore_ascii_case(name)))
            .cloned()
            .collect();
        all.extend(secret.0.iter().cloned());
        Headers(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_kept_in_a_secret_parse_and_no_problem_shows_a_value() {
        let headers =
            headers_from_json(r#"{"X-Api-Key": "s3cret", "Authorization": "Bearer t0ken"}"#)
                .unwrap();
        assert_eq!(headers.0.len(), 2);
        assert!(!format!("{headers:?}").contains("s3cret"));
        for (text, says) in [
            (r#"{"X-Api-Key": "s3cret"#, "it is not JSON (line 1, column"),
            (r#"["X-Api-Key: s3cret"]"#, "it is not a JSON object"),
            (r#"{"X-Api-Key": 12345}"#, "the value of \"X-Api-Key\" is not a string"),
            (r#"{"X Api": "s3cret"}"#, "\"X Api\" is not a header name"),
            (r#"{"X-Api-Key": "s3cret\r\nEvil: 1"}"#, "the value of X-Api-Key has a line break"),
            ("{}", "it holds no header"),
        ] {
            let problem = headers_from_json(text).unwrap_err();
            assert!(problem.contains(says), "{problem}");
            assert!(!problem.contains("s3cret") && !problem.contains("12345"), "{problem}");
        }
    }

    #[test]
    fn a_secret_header_replaces_a_plain_one_of_the_same_name() {
        let plain =
            Headers(vec![("Accept".into(), "json".into()), ("x-api-key".into(), "old".into())]);
        let secret = Headers(vec![("X-Api-Key".into(), "new".into())]);
        let all = plain.with(&secret);
        assert_eq!(all.0, [("Accept".into(), "json".into()), ("X-Api-Key".into(), "new".into())]);
    }

    #[test]
    fn protocols_and_tls_versions_parse_in_any_case() {
        assert_eq!("TLS".parse::<Protocol>().unwrap(), Protocol::Tls);
        assert_eq!("tcp".parse::<Protocol>().unwrap(), Protocol::Tcp);
        assert_eq!("UDP".parse::<Protocol>().unwrap(), Protocol::Udp);
        assert!(!Protocol::Udp.has_tls() && !Protocol::Udp.connects() && Protocol::Tcp.connects());
        assert!("quic".parse::<Protocol>().unwrap_err().contains("https, tls, tcp, udp"));
        assert_eq!("1.3".parse::<TlsVersion>().unwrap(), TlsVersion::V1_3);
        assert_eq!("TLSv1.2".parse::<TlsVersion>().unwrap(), TlsVersion::V1_2);
        assert!("1.1".parse::<TlsVersion>().is_err());
    }

    #[test]
    fn a_body_match_is_a_substring_unless_written_as_a_regex() {
        let plain: BodyMatch = "status: ok".parse().unwrap();
        assert!(plain.found_in("{\"status: ok\"}") && !plain.found_in("status: down"));
        let regex: BodyMatch = r"regex:^\{.*ok.*\}$".parse().unwrap();
        assert!(regex.found_in("{status ok}") && !regex.found_in("ok"));
        assert!("regex:(".parse::<BodyMatch>().unwrap_err().contains("not a regular expression"));
    }

    #[test]
    fn a_pattern_whose_work_has_no_bound_is_refused_naming_the_limit() {
        let nested = "regex:((a{50}){50}){20}b".parse::<BodyMatch>().unwrap_err();
        assert!(nested.contains("more than the 16 KiB a pattern may take"), "{nested}");
        let long = format!("regex:{}", "a".repeat(PATTERN_LENGTH_LIMIT + 1));
        let long = long.parse::<BodyMatch>().unwrap_err();
        assert!(long.contains("more than the 1024 a pattern may have"), "{long}");
        // What a check needs stays well within the limit.
        assert!(
            r#"regex:^\{"status":\s*"(ok|healthy)"[^}]{0,100}\}$"#.parse::<BodyMatch>().is_ok()
        );
    }

    #[test]
    fn headers_parse_and_never_print_their_values() {
        let header = parse_header("Authorization: Bearer s3cret").unwrap();
        assert_eq!(header, ("Authorization".into(), "Bearer s3cret".into()));
        let shown = format!("{:?}", Headers(vec![header]));
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(parse_header("no colon").is_err());
        let bad = parse_header("Bad Name: s3cret").unwrap_err();
        assert!(!bad.contains("s3cret"), "{bad}");
        assert!(parse_header("X-A: b\r\nInjected: c").is_err());
    }
}
