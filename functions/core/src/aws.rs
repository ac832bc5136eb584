//! The AWS side every function shares: the SDK configuration (read once, on first use), clients
//! made on first use, and the one crypto provider under every TLS connection.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// AWS configuration from the standard sources (so `AWS_ENDPOINT_URL`, `AWS_REGION` and the
/// function's credentials just work), with retries that ride out throttling
/// (`RequestLimitExceeded`) and 5xx answers, and timeouts so no call can hang the invocation.
/// Read once per process, when a client is first needed.
pub async fn aws_config() -> &'static SdkConfig {
    static CONFIG: tokio::sync::OnceCell<SdkConfig> = tokio::sync::OnceCell::const_new();
    CONFIG.get_or_init(load_aws_config).await
}

/// An AWS SDK client made on first use from [`aws_config()`]: nothing of it is done at start, so
/// it costs no cold start. Clones share the one client.
#[derive(Debug)]
pub struct LazyClient<C>(std::sync::Arc<tokio::sync::OnceCell<C>>);

impl<C> Default for LazyClient<C> {
    fn default() -> Self {
        Self(Default::default())
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self(std::sync::Arc::clone(&self.0))
    }
}

impl<C> LazyClient<C> {
    /// A client that is already made (by a caller with a configuration of its own).
    pub fn ready(client: C) -> Self {
        Self(std::sync::Arc::new(tokio::sync::OnceCell::new_with(Some(client))))
    }

    /// The client, made with `new` (an SDK's `Client::new`) on first use.
    pub async fn get(&self, new: impl FnOnce(&SdkConfig) -> C) -> &C {
        self.0.get_or_init(|| async { new(aws_config().await) }).await
    }
}

/// The crypto under every TLS connection the functions make (the SDK's, the CloudFormation
/// answer's, the validator's checks): ring, a small library in Rust and assembly. aws-lc, the
/// SDK's default, is 1 MB more of each binary; all it would add here is the hybrid post-quantum
/// key exchange (X25519MLKEM768), which rustls offers only with aws-lc.
pub fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

async fn load_aws_config() -> SdkConfig {
    // rustls with ring, the system's trusted roots read when the first client connects.
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
    #[cfg(not(feature = "sdk-dns-hickory"))]
    let https = https.build_https();
    #[cfg(feature = "sdk-dns-hickory")]
    let https = https.build_with_resolver(dns::HickoryDns::default());
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(6)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(5)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(20))
                .build(),
        )
        .load()
        .await
}

/// Host names of the AWS APIs resolved by hickory (from `/etc/resolv.conf` and `/etc/hosts`)
/// instead of libc's `getaddrinfo`: the validator's statically linked command line must not load
/// the system's NSS modules, which a static glibc can't use across glibc versions. Built only
/// with the `sdk-dns-hickory` feature (the CLI's build in `make release`): the functions keep
/// the SDK's default, which adds nothing to their start-up.
#[cfg(feature = "sdk-dns-hickory")]
mod dns {
    use std::net::IpAddr;
    use std::sync::{Arc, OnceLock};

    use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
    use hickory_resolver::TokioResolver;

    /// The system's DNS configuration, read on the first lookup.
    #[derive(Debug, Clone, Default)]
    pub struct HickoryDns(Arc<OnceLock<Result<TokioResolver, String>>>);

    impl HickoryDns {
        fn resolver(&self) -> Result<&TokioResolver, ResolveDnsError> {
            self.0
                .get_or_init(|| {
                    TokioResolver::builder_tokio()
                        .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?
                        .build()
                        .map_err(|e| format!("cannot set up DNS: {e}"))
                })
                .as_ref()
                .map_err(|e| ResolveDnsError::new(e.clone()))
        }
    }

    impl ResolveDns for HickoryDns {
        fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
            DnsFuture::new(async move {
                let lookup =
                    self.resolver()?.lookup_ip(name).await.map_err(ResolveDnsError::new)?;
                Ok(lookup.iter().collect::<Vec<IpAddr>>())
            })
        }
    }
}
