//! The crate's one error type. Every variant's `Display` is written for the person reading the
//! stack's event log: it says what went wrong and, where there is one, what to do about it.

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One property that is missing or has a value we cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyProblem {
    /// The property's name as written in the template (`Ports`, `SubnetIds`...).
    pub property: String,
    /// What is wrong with it, in words.
    pub problem: String,
}

impl std::fmt::Display for PropertyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.property, self.problem)
    }
}

/// What kind of failure an AWS API call had, classified from its error code so callers can match
/// on meaning rather than on strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The named resource does not exist (or no longer does).
    NotFound,
    /// The resource is still used by another one (`DependencyViolation`).
    DependencyViolation,
    /// A resource with that name already exists (`InvalidGroup.Duplicate`).
    Duplicate,
    /// A security-group rule that is already there (`InvalidPermission.Duplicate`).
    RuleExists,
    /// A security-group rule that is not there (`InvalidPermission.NotFound`).
    RuleNotFound,
    /// The same idempotency token was used with other parameters.
    IdempotencyMismatch,
    /// Still throttled after the SDK's retries (`RequestLimitExceeded`).
    Throttled,
    /// The function's role may not make this call.
    AccessDenied,
    /// The service name is unknown or not shared with this account.
    InvalidServiceName,
    /// Another resource already holds the name (Route 53's `ConflictingDomainExists`).
    Conflict,
    /// AWS refused a parameter.
    InvalidParameter,
    /// The call never got an answer from AWS (network, timeout).
    Transport,
    /// Anything else.
    Other,
}

impl AwsErrorKind {
    /// Classifies an EC2 (or Route 53) error code.
    pub fn from_code(code: &str) -> Self {
        match code {
            "InvalidPermission.NotFound" => Self::RuleNotFound,
            c if c.ends_with(".NotFound") => Self::NotFound,
            "DependencyViolation" => Self::DependencyViolation,
            "InvalidGroup.Duplicate" => Self::Duplicate,
            "InvalidPermission.Duplicate" => Self::RuleExists,
            "IdempotentParameterMismatch" => Self::IdempotencyMismatch,
            "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => Self::Throttled,
            "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => {
                Self::AccessDenied
            }
            "InvalidServiceName" => Self::InvalidServiceName,
            // Route 53.
            "NoSuchHostedZone" | "VPCAssociationNotFound" => Self::NotFound,
            "HostedZoneAlreadyExists" => Self::Duplicate,
            "ConflictingDomainExists" => Self::Conflict,
            "InvalidChangeBatch" | "InvalidInput" | "InvalidVPCId" | "InvalidDomainName" => {
                Self::InvalidParameter
            }
            c if c.starts_with("InvalidParameter")
                || c.ends_with(".Malformed")
                || c == "DuplicateSubnetsInSameZone" =>
            {
                Self::InvalidParameter
            }
            _ => Self::Other,
        }
    }
}

/// A failed AWS API call, classified.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {code}: {message}")]
pub struct AwsError {
    /// The API operation, e.g. `CreateVpcEndpoint`.
    pub operation: &'static str,
    /// What kind of failure it was.
    pub kind: AwsErrorKind,
    /// AWS's error code (`Transport` when there was no answer).
    pub code: String,
    /// AWS's message.
    pub message: String,
}

impl AwsError {
    /// Classifies an SDK error from `operation`.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match err.code() {
            Some(code) => Self {
                operation,
                kind: AwsErrorKind::from_code(code),
                code: code.to_owned(),
                message: err.message().unwrap_or_default().to_owned(),
            },
            None => Self {
                operation,
                kind: AwsErrorKind::Transport,
                code: "Transport".to_owned(),
                message: DisplayErrorContext(&err).to_string(),
            },
        }
    }

    /// `Ok(None)` when the error says the resource does not exist (a read of something gone),
    /// else the error.
    pub fn none_if_not_found<T>(self) -> std::result::Result<Option<T>, AwsError> {
        if self.is_not_found() {
            Ok(None)
        } else {
            Err(self)
        }
    }

    /// A not-found error becomes a problem with `property` (a user's typo, not an AWS failure);
    /// any other stays what it is.
    pub fn not_found_is_property(self, property: &str, value: &str) -> Error {
        if self.is_not_found() {
            Error::property(
                property,
                format!("{value} does not exist in this account and Region ({})", self.message),
            )
        } else {
            Error::Aws(self)
        }
    }

    /// Whether the error says the resource is not there.
    pub fn is_not_found(&self) -> bool {
        self.kind == AwsErrorKind::NotFound
    }
}

/// Everything that can go wrong while serving a custom resource.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more properties are missing or invalid.
    #[error("Invalid properties: {}", join(.0))]
    InvalidProperties(Vec<PropertyProblem>),

    /// An AWS call failed in a way the handler could not recover from.
    #[error("{}", describe_aws(.0))]
    Aws(#[from] AwsError),

    /// The endpoint service does not exist or is not shared with this account.
    #[error("Endpoint service {service} was not found, or is not shared with this account: check ServiceName and ask the provider to allow this account's principal ({detail})")]
    ServiceNotFound {
        /// The service name asked for.
        service: String,
        /// AWS's own words.
        detail: String,
    },

    /// A cross-Region service (`ServiceRegion`) that is not offered to this Region, or not
    /// shared with this account: from here the two look the same.
    #[error("Endpoint service {service} is not offered in {region} from its Region {service_region}, or not shared with this account: check ServiceName and ServiceRegion, and ask the provider to add {region} to the service's supported Regions and to allow this account's principal ({detail})")]
    ServiceNotOfferedHere {
        /// The service name asked for.
        service: String,
        /// `ServiceRegion`.
        service_region: String,
        /// The endpoint's Region.
        region: String,
        /// AWS's own words.
        detail: String,
    },

    /// A subnet lies in an Availability Zone the service is not offered in.
    #[error("Subnet {subnet} is in {zone}, which endpoint service {service} does not offer; it offers {offered}: choose subnets in those zones")]
    ZoneNotOffered {
        /// The subnet.
        subnet: String,
        /// Its Availability Zone.
        zone: String,
        /// The service name.
        service: String,
        /// The zones the service offers, comma-joined.
        offered: String,
    },

    /// A service in another Region serves this Region's subnets only from some zones.
    #[error("Endpoint service {service} in {region} is reachable from this Region only in the zones {allowed}, and {subnets} lie elsewhere: choose subnets in those zones (zone ids are the same in every account: aws ec2 describe-subnets --query 'Subnets[].[SubnetId,AvailabilityZoneId]'), or set SkipUnsupportedZones to true")]
    ZonesNotOfferedRemotely {
        /// The service name.
        service: String,
        /// The service's Region.
        region: String,
        /// The subnets refused, each with its zone id.
        subnets: String,
        /// The zone ids AWS allows, comma-joined.
        allowed: String,
    },

    /// Two of the subnets lie in one Availability Zone.
    #[error("SubnetIds has {first} and {second} in the same Availability Zone {zone}: an endpoint takes at most one subnet per zone")]
    SubnetsShareZone {
        /// One subnet.
        first: String,
        /// The other.
        second: String,
        /// Their zone.
        zone: String,
    },

    /// Private DNS was asked for but the service cannot give it.
    #[error("PrivateDnsEnabled is true, but endpoint service {service} {why}: set PrivateDnsEnabled to false or ask the provider to verify the domain")]
    PrivateDnsUnavailable {
        /// The service name.
        service: String,
        /// Why not.
        why: String,
    },

    /// Another endpoint in the VPC already answers for the service's private DNS name.
    #[error("Private DNS can't be switched on: another endpoint in {vpc} already has private DNS for this name ({detail}). Only one endpoint per VPC can own a private DNS name: set PrivateDnsEnabled to false here, or on the other endpoint first (when replacing an endpoint of a service with the same name, update in two steps)")]
    PrivateDnsConflict {
        /// The VPC.
        vpc: String,
        /// AWS's words.
        detail: String,
    },

    /// The VPC lacks a DNS attribute Private DNS needs: checked before anything is made, since
    /// finding out after the provider accepted throws the acceptance away on rollback.
    #[error("Private DNS needs {missing} on {vpc}, which it has off: turn it on (aws ec2 modify-vpc-attribute --vpc-id {vpc} --{flag}) and retry, or set PrivateDnsEnabled to false")]
    VpcDnsOff {
        /// The VPC.
        vpc: String,
        /// The attributes that are off (`enableDnsHostnames`...), joined with "and".
        missing: String,
        /// The CLI flag for the first of them (`enable-dns-hostnames`).
        flag: String,
    },

    /// The id names a resource this stack's resource did not make.
    #[error("{id} is not one this resource made ({owner}): it is left as it is. Use the id this resource answered with, or a new logical id to make another")]
    NotOwned {
        /// The id asked for.
        id: String,
        /// Whose it is, in words.
        owner: String,
    },

    /// A resource did not reach the state we wait for in the time we had.
    #[error("{what} did not finish in time: {detail}")]
    NotReady {
        /// What we were waiting for.
        what: String,
        /// Where it stood when we gave up, and what to do.
        detail: String,
    },

    /// An endpoint ended in a state it will not leave.
    #[error("VPC endpoint {endpoint} is {state}{}", last_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    EndpointFailed {
        /// The endpoint id.
        endpoint: String,
        /// Its final state.
        state: String,
        /// The endpoint's `LastError`, when it has one.
        last_error: Option<String>,
    },

    /// The security group is still used, by endpoint interfaces that linger after their endpoint.
    #[error("Security group {group} is still in use (DependencyViolation) after retrying for {waited_secs} s: network interfaces of a deleted VPC endpoint can linger for several minutes; retry the stack operation later, or find what uses the group with `aws ec2 describe-network-interfaces --filters Name=group-id,Values={group}`")]
    GroupStillInUse {
        /// The group id.
        group: String,
        /// How long we retried.
        waited_secs: u64,
    },

    /// The endpoint does not work from where the validator runs.
    #[error(
        "Validation of {name} failed after {attempts} attempt(s) in {waited_secs} s: {reason}"
    )]
    ValidationFailed {
        /// The name checked.
        name: String,
        /// How many times.
        attempts: u32,
        /// For how long.
        waited_secs: u64,
        /// The first failing check's reason.
        reason: String,
    },

    /// CloudFormation did not send this event, or not now: it was made by hand, or names
    /// another resource than the one CloudFormation is working on.
    #[error("CloudFormation is not waiting for this {request} of {logical_id} of {stack} ({status}: {why}): nothing was done. Events are acted on only during the stack operation that sent them")]
    NotAwaited {
        /// `Create`, `Update` or `Delete`.
        request: &'static str,
        /// The event's stack.
        stack: String,
        /// The event's logical id.
        logical_id: String,
        /// The resource's status, or why there is none.
        status: String,
        /// Why the event does not fit that status.
        why: String,
    },

    /// CloudFormation could not be asked whether it sent the event (throttled, or no answer).
    #[error("Could not confirm with CloudFormation that it sent this event ({0}): nothing was done. Retry the stack operation")]
    Unconfirmed(AwsError),

    /// The function's own configuration (its environment) can't be used.
    #[error("The validator's configuration is unusable: {0}. Fix the validator stack's parameters (or the function's environment) and retry")]
    Misconfigured(String),

    /// The event is not a CloudFormation custom-resource request we can answer.
    #[error("Malformed event: {0}")]
    MalformedEvent(String),

    /// The answer could not be delivered to CloudFormation.
    #[error("Could not answer CloudFormation: {0}")]
    Answer(String),
}

impl Error {
    /// Whether an AWS call was still throttled after the SDK's retries (`RequestLimitExceeded`):
    /// the operation may run again once the account's request rate allows.
    pub fn is_throttled(&self) -> bool {
        matches!(self, Self::Aws(AwsError { kind: AwsErrorKind::Throttled, .. }))
    }

    /// A single invalid property.
    pub fn property(property: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::InvalidProperties(vec![PropertyProblem {
            property: property.into(),
            problem: problem.into(),
        }])
    }
}

impl Error {
    /// The variant's name: the `errorType` the Lambda runtime reports for an event that could
    /// not be answered (and what a log line names), so a person can tell kinds apart at a glance.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidProperties(_) => "InvalidProperties",
            Self::Aws(_) => "AwsCallFailed",
            Self::ServiceNotFound { .. } => "ServiceNotFound",
            Self::ServiceNotOfferedHere { .. } => "ServiceNotOfferedHere",
            Self::ZoneNotOffered { .. } => "ZoneNotOffered",
            Self::ZonesNotOfferedRemotely { .. } => "ZonesNotOfferedRemotely",
            Self::SubnetsShareZone { .. } => "SubnetsShareZone",
            Self::PrivateDnsUnavailable { .. } => "PrivateDnsUnavailable",
            Self::PrivateDnsConflict { .. } => "PrivateDnsConflict",
            Self::VpcDnsOff { .. } => "VpcDnsOff",
            Self::NotOwned { .. } => "NotOwned",
            Self::NotReady { .. } => "NotReady",
            Self::EndpointFailed { .. } => "EndpointFailed",
            Self::GroupStillInUse { .. } => "GroupStillInUse",
            Self::ValidationFailed { .. } => "ValidationFailed",
            Self::NotAwaited { .. } => "NotAwaited",
            Self::Unconfirmed(_) => "Unconfirmed",
            Self::Misconfigured(_) => "Misconfigured",
            Self::MalformedEvent(_) => "MalformedEvent",
            Self::Answer(_) => "AnswerNotDelivered",
        }
    }
}

/// What the Lambda runtime reports for an event that could not be answered: the error's kind
/// and its words.
impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        Self { error_type: error.kind().to_owned(), error_message: error.to_string() }
    }
}

fn join(problems: &[PropertyProblem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Adds the advice a person needs to the kinds of AWS failure that have one.
fn describe_aws(err: &AwsError) -> String {
    let advice = match err.kind {
        AwsErrorKind::Throttled => {
            " (still throttled when the function's time ran out, after pauses and retries: the account's request rate for this call is shared by every stack deploying in this Region; retry the stack operation, or deploy fewer stacks at once)"
        }
        AwsErrorKind::AccessDenied => {
            " (the function's IAM role lacks this permission: update the functions stack's role)"
        }
        AwsErrorKind::Transport => " (no answer from AWS: check the function's network path to the service's API)",
        _ => "",
    };
    format!("{err}{advice}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_classified_by_meaning() {
        use AwsErrorKind::*;
        let cases = [
            ("InvalidVpcEndpointId.NotFound", NotFound),
            ("InvalidVpcEndpoint.NotFound", NotFound),
            ("InvalidGroup.NotFound", NotFound),
            ("InvalidPermission.NotFound", RuleNotFound),
            ("InvalidPermission.Duplicate", RuleExists),
            ("InvalidGroup.Duplicate", Duplicate),
            ("DependencyViolation", DependencyViolation),
            ("RequestLimitExceeded", Throttled),
            ("UnauthorizedOperation", AccessDenied),
            ("IdempotentParameterMismatch", IdempotencyMismatch),
            ("InvalidServiceName", InvalidServiceName),
            ("InvalidParameterValue", InvalidParameter),
            ("DuplicateSubnetsInSameZone", InvalidParameter),
            ("SomethingNew", Other),
        ];
        for (code, kind) in cases {
            assert_eq!(AwsErrorKind::from_code(code), kind, "{code}");
        }
    }

    #[test]
    fn invalid_properties_are_all_named_in_one_reason() {
        let err = Error::InvalidProperties(vec![
            PropertyProblem { property: "VpcId".into(), problem: "is required".into() },
            PropertyProblem {
                property: "Ports".into(),
                problem: "\"0\" is not a port (1-65535)".into(),
            },
        ]);
        assert_eq!(
            err.to_string(),
            "Invalid properties: VpcId: is required; Ports: \"0\" is not a port (1-65535)"
        );
    }
}
