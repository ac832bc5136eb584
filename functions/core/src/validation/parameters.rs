//! Secrets in Lambda: Parameter Store parameters (a SecureString is decrypted), or Secrets
//! Manager secrets through `/aws/reference/secretsmanager/<secret>`. They hold the private CA
//! (`VALIDATOR_CA_PEM` naming a parameter) and the targets' client certificates (`ClientCert`).

use std::future::Future;
use std::pin::Pin;

use aws_sdk_ssm::Client;

use super::request::PemSource;
use crate::aws::LazyClient;

/// Parameters read with SSM's `GetParameter`.
#[derive(Debug, Clone, Default)]
pub struct Parameters {
    ssm: LazyClient<Client>,
}

impl Parameters {
    /// Parameters read with a client made on first use ([`LazyClient`]): a validator with no
    /// secret to read never makes one.
    pub fn lazy() -> Self {
        Self::default()
    }

    /// The value of the parameter `name` (a name or an ARN), decrypted.
    pub async fn value(&self, name: &str) -> Result<String, String> {
        let ssm = self.ssm.get(Client::new).await;
        let out =
            ssm.get_parameter().name(name).with_decryption(true).send().await.map_err(|e| {
                format!(
                    "the SSM parameter {name} could not be read: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(e)
                )
            })?;
        out.parameter()
            .and_then(|p| p.value())
            .map(str::to_owned)
            .ok_or_else(|| format!("the SSM parameter {name} has no value"))
    }
}

impl PemSource for Parameters {
    fn pem<'a>(
        &'a self,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(self.value(name))
    }
}
