//! The validator's configuration in Lambda: its environment read once, at start, each variable
//! checked and named when it is wrong. A configuration that can't be used does not stop the
//! function: the serving layer tells every event why.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;

use super::request::PemSource;
use super::schedule::{Schedule, Sources};
use super::{parse_resolver, Checker, Identities, SecretHeaders, Target};
use crate::ec2::Ec2;

/// Targets checked at once when `VALIDATOR_CONCURRENCY` is not set. From `make bench`: 1,000
/// targets on 2 cores stay within 1.5x the ideal and 32 MiB at 128; at 256 the handshakes' CPU,
/// not the network, sets the pace, in more memory.
pub const DEFAULT_CONCURRENCY: usize = 128;

/// What the validator's environment asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `VALIDATOR_RESOLVER`: the DNS server of targets that name none.
    pub resolver: Option<SocketAddr>,
    /// `VALIDATOR_CA_PEM`: a private CA trusted besides the system's roots.
    pub private_ca: Option<CaSource>,
    /// `VALIDATOR_TARGETS`: a JSON list of targets.
    pub targets: Vec<Target>,
    /// `VALIDATOR_DISCOVER` = `true`: check the endpoints `Custom::PrivateLinkEndpoint` made.
    pub discover: bool,
    /// `VALIDATOR_VPC_ID`: discovery only in this VPC.
    pub vpc_id: Option<String>,
    /// `VALIDATOR_ENDPOINT_CHECKS` (on unless `false`): read each target's endpoint, which
    /// needs the EC2 API (off where the VPC can't reach it).
    pub endpoint_checks: bool,
    /// `VALIDATOR_CONCURRENCY`: targets checked at once.
    pub concurrency: usize,
    /// `VALIDATOR_FAIL_ON_ERROR` = `true`: a run with a failed check fails.
    pub fail_on_error: bool,
}

/// Where `VALIDATOR_CA_PEM` has the private CA: the PEM itself, or the name or ARN of an SSM
/// Parameter Store parameter holding it (for chains past Lambda's 4 KB of environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// The PEM, as given.
    Pem(String),
    /// A parameter's name or ARN.
    Parameter(String),
}

impl CaSource {
    /// A value that starts as PEM does is PEM; anything else names a parameter.
    pub fn of(value: String) -> Self {
        if value.trim_start().starts_with("-----BEGIN") {
            Self::Pem(value)
        } else {
            Self::Parameter(value)
        }
    }
}

fn is_true(value: Option<String>) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

impl Config {
    /// The configuration in the function's environment.
    pub fn from_env() -> Result<Self, String> {
        Self::read(crate::lambda::optional_env)
    }

    /// The configuration in the variables `var` reads (unset or empty: `None`), or what is
    /// wrong with it, naming the variable.
    pub fn read(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let resolver = match var("VALIDATOR_RESOLVER") {
            Some(text) => Some(
                parse_resolver(&text)
                    .ok_or_else(|| format!("VALIDATOR_RESOLVER is not IP or IP:PORT: {text:?}"))?,
            ),
            None => None,
        };
        let targets = match var("VALIDATOR_TARGETS") {
            Some(text) => {
                let items: Vec<Value> = serde_json::from_str(&text)
                    .map_err(|e| format!("VALIDATOR_TARGETS is not a JSON list of targets: {e}"))?;
                items
                    .iter()
                    .map(Target::parse)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("VALIDATOR_TARGETS: {e}"))?
            }
            None => Vec::new(),
        };
        let concurrency = match var("VALIDATOR_CONCURRENCY") {
            Some(text) => text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("VALIDATOR_CONCURRENCY is not a whole number above 0: {text:?}")
            })?,
            None => DEFAULT_CONCURRENCY,
        };
        Ok(Self {
            resolver,
            private_ca: var("VALIDATOR_CA_PEM").map(CaSource::of),
            targets,
            discover: is_true(var("VALIDATOR_DISCOVER")),
            vpc_id: var("VALIDATOR_VPC_ID"),
            endpoint_checks: var("VALIDATOR_ENDPOINT_CHECKS")
                .is_none_or(|v| !v.eq_ignore_ascii_case("false")),
            concurrency,
            fail_on_error: is_true(var("VALIDATOR_FAIL_ON_ERROR")),
        })
    }

    /// The checker and the scheduled check this configuration makes: the private CA read from
    /// `secrets` when it names a parameter (which also serves the targets' `ClientCert`), the
    /// endpoints read with `ec2` when discovery or endpoint checks are on.
    pub async fn into_parts(
        self,
        secrets: Arc<dyn PemSource>,
        ec2: Ec2,
    ) -> Result<(Checker, Schedule), String> {
        let private_ca = match self.private_ca {
            None => None,
            Some(CaSource::Pem(pem)) => Some(pem),
            Some(CaSource::Parameter(name)) => Some(
                secrets
                    .pem(&name)
                    .await
                    .map_err(|e| format!("VALIDATOR_CA_PEM names a parameter: {e}"))?,
            ),
        };
        let checker = Checker::new(private_ca.as_deref().map(str::as_bytes))
            .map_err(|e| format!("VALIDATOR_CA_PEM: {e}"))?
            .with_default_resolver(self.resolver)
            .with_identities(Identities::from(Arc::clone(&secrets)))
            .with_secret_headers(SecretHeaders::from(secrets));
        let sources = Sources {
            configured: self.targets,
            discovery: self.discover.then(|| (ec2.clone(), self.vpc_id)),
            endpoints: self.endpoint_checks.then_some(ec2),
        };
        let schedule =
            Schedule::new(checker.clone(), sources, self.concurrency, self.fail_on_error);
        Ok((checker, schedule))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<Config, String> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::read(|name| vars.get(name).cloned())
    }

    #[test]
    fn an_empty_environment_checks_nothing_configured_with_endpoint_checks_on() {
        let config = read(&[]).unwrap();
        assert_eq!(config.resolver, None);
        assert_eq!(config.private_ca, None);
        assert!(config.targets.is_empty());
        assert!(!config.discover && config.endpoint_checks && !config.fail_on_error);
        assert_eq!(config.concurrency, DEFAULT_CONCURRENCY);
    }

    #[test]
    fn every_variable_is_read() {
        let config = read(&[
            ("VALIDATOR_RESOLVER", "10.0.0.2"),
            ("VALIDATOR_TARGETS", r#"[{"Name": "api.partner.com"}]"#),
            ("VALIDATOR_DISCOVER", "TRUE"),
            ("VALIDATOR_VPC_ID", "vpc-1"),
            ("VALIDATOR_ENDPOINT_CHECKS", "false"),
            ("VALIDATOR_CONCURRENCY", "16"),
            ("VALIDATOR_FAIL_ON_ERROR", "true"),
            ("VALIDATOR_CA_PEM", "/privatelink/partner-ca"),
        ])
        .unwrap();
        assert_eq!(config.resolver, Some("10.0.0.2:53".parse().unwrap()));
        assert_eq!(config.targets.len(), 1);
        assert_eq!(config.targets[0].name, "api.partner.com");
        assert!(config.discover && !config.endpoint_checks && config.fail_on_error);
        assert_eq!(config.vpc_id.as_deref(), Some("vpc-1"));
        assert_eq!(config.concurrency, 16);
        assert_eq!(config.private_ca, Some(CaSource::Parameter("/privatelink/partner-ca".into())));
    }

    #[test]
    fn a_bad_value_is_refused_naming_its_variable() {
        for (name, value) in [
            ("VALIDATOR_RESOLVER", "dns.example"),
            ("VALIDATOR_TARGETS", "{"),
            ("VALIDATOR_TARGETS", r#"[{"Port": 443}]"#),
            ("VALIDATOR_CONCURRENCY", "0"),
            ("VALIDATOR_CONCURRENCY", "many"),
        ] {
            let problem = read(&[(name, value)]).unwrap_err();
            assert!(problem.starts_with(name), "{name}={value}: {problem}");
        }
    }

    #[test]
    fn a_ca_given_as_pem_is_used_as_is_and_anything_else_names_a_parameter() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(CaSource::of(pem.to_owned()), CaSource::Pem(pem.to_owned()));
        assert_eq!(
            CaSource::of("/privatelink/partner-ca".to_owned()),
            CaSource::Parameter("/privatelink/partner-ca".to_owned())
        );
        let arn = "arn:aws:ssm:us-east-1:123456789012:parameter/partner-ca";
        assert_eq!(CaSource::of(arn.to_owned()), CaSource::Parameter(arn.to_owned()));
    }

    #[tokio::test]
    async fn a_pem_that_is_no_certificate_is_refused_naming_the_variable() {
        let config = read(&[("VALIDATOR_CA_PEM", "-----BEGIN CERTIFICATE-----\nnot base64\n")]);
        let problem = config
            .unwrap()
            .into_parts(Arc::new(super::super::request::Files), Ec2::lazy())
            .await
            .err()
            .expect("refused");
        assert!(problem.starts_with("VALIDATOR_CA_PEM"), "{problem}");
    }
}
