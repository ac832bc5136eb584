//! Telling the partner which endpoint to accept. The one value the partner needs while a stack
//! waits is the endpoint's id (with the account it comes from): when an endpoint is handed to
//! the acceptance loop, one message says it, in the log and on the functions stack's
//! notification topic (`NOTIFICATION_TOPIC_ARN`), where whoever talks to the partner reads it.

use crate::aws::LazyClient;
use crate::error::AwsError;

/// SNS takes a subject of at most 100 ASCII characters.
const SUBJECT_LIMIT: usize = 100;

/// What the partner must be asked to accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The endpoint waiting, `vpce-...`.
    pub endpoint_id: String,
    /// The partner's service.
    pub service_name: String,
    /// The consumer's account, which the partner sees as the requester.
    pub account_id: String,
    /// The partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
    /// The service's Region, where the partner accepts (the endpoint's, unless it reaches a
    /// service in another Region).
    pub region: String,
    /// The stack and logical id the endpoint belongs to.
    pub stack_name: String,
    /// The resource's logical id.
    pub logical_id: String,
    /// Whether CloudFormation waits for the answer (else the stack goes on, and only Private
    /// DNS waits).
    pub stack_waits: bool,
}

impl Announcement {
    /// The message's subject: short enough for SNS (and an email's subject line).
    pub fn subject(&self) -> String {
        let mut subject = format!("Ask the partner to accept {}", self.endpoint_id);
        subject.truncate(SUBJECT_LIMIT);
        subject
    }

    /// The line logged and the first line of the message.
    pub fn line(&self) -> String {
        format!(
            "waiting for the partner to accept {} (account {}, {}) in their service {}: give them this id",
            self.endpoint_id, self.account_id, self.region, self.service_name
        )
    }

    /// The whole message: what waits, and what to ask the partner to do.
    pub fn text(&self) -> String {
        let waits = match self.stack_waits {
            true => "CloudFormation waits for the acceptance (up to the resource's timeout)",
            false => "the stack went on; Private DNS is switched on once they accept",
        };
        format!(
            "{line}.\n\n\
             Stack {stack}, resource {logical}: {waits}.\n\n\
             Ask the partner to accept the endpoint connection from {endpoint} (account {account}) \
             in their endpoint service {service}: in the VPC console, Endpoint services > their \
             service > Endpoint connections > Accept endpoint connection request, or\n\n\
             aws ec2 accept-vpc-endpoint-connections --region {region} --service-id <their vpce-svc-... id> \
             --vpc-endpoint-ids {endpoint}\n\n\
             If their service accepts only allowed principals, they first add \
             arn:{partition}:iam::{account}:root to it.\n",
            line = self.line(),
            stack = self.stack_name,
            logical = self.logical_id,
            endpoint = self.endpoint_id,
            account = self.account_id,
            service = self.service_name,
            region = self.region,
            partition = self.partition,
        )
    }
}

/// Publishes announcements to one SNS topic.
#[derive(Debug, Clone)]
pub struct Announcer {
    sns: LazyClient<aws_sdk_sns::Client>,
    topic_arn: String,
}

impl Announcer {
    /// Announcements to `topic_arn`, with a client made on first use (no cold-start cost).
    pub fn lazy(topic_arn: impl Into<String>) -> Self {
        Self { sns: LazyClient::default(), topic_arn: topic_arn.into() }
    }

    /// Publishes one announcement.
    pub async fn publish(&self, announcement: &Announcement) -> Result<(), AwsError> {
        self.sns
            .get(aws_sdk_sns::Client::new)
            .await
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(announcement.subject())
            .message(announcement.text())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("Publish", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement() -> Announcement {
        Announcement {
            endpoint_id: "vpce-0123456789abcdef0".into(),
            service_name: "com.amazonaws.vpce.us-east-1.vpce-svc-0fedcba9876543210".into(),
            account_id: "123456789012".into(),
            partition: "aws".into(),
            region: "us-east-1".into(),
            stack_name: "partner-api".into(),
            logical_id: "Endpoint".into(),
            stack_waits: true,
        }
    }

    #[test]
    fn the_message_names_the_endpoint_the_account_the_service_and_how_to_accept() {
        let text = announcement().text();
        for needed in [
            "vpce-0123456789abcdef0",
            "account 123456789012",
            "com.amazonaws.vpce.us-east-1.vpce-svc-0fedcba9876543210",
            "aws ec2 accept-vpc-endpoint-connections --region us-east-1",
            "--vpc-endpoint-ids vpce-0123456789abcdef0",
            "arn:aws:iam::123456789012:root",
            "Stack partner-api, resource Endpoint: CloudFormation waits",
        ] {
            assert!(text.contains(needed), "{needed:?} missing from:\n{text}");
        }
        assert!(text.starts_with(&announcement().line()));
    }

    #[test]
    fn the_subject_fits_sns() {
        let mut long = announcement();
        long.endpoint_id = "vpce-".to_owned() + &"0".repeat(200);
        assert!(long.subject().len() <= SUBJECT_LIMIT);
        assert_eq!(announcement().subject(), "Ask the partner to accept vpce-0123456789abcdef0");
    }

    #[test]
    fn the_allowed_principal_is_in_the_stacks_partition() {
        let mut gov = announcement();
        gov.partition = "aws-us-gov".into();
        assert!(gov.text().contains("arn:aws-us-gov:iam::123456789012:root"), "{}", gov.text());
    }
}
