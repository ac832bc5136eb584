//! Waiting for the provider to accept, past one Lambda invocation: the loop's state, its
//! decision and its timing, here; starting, stopping and waking it, in [`Handoff`] (the Step
//! Functions adapter).
//!
//! When a Create leaves an endpoint in `pendingAcceptance`, `privatelink-endpoint` hands the
//! answer over to a Step Functions loop (Check -> Done? -> Sleep -> Check) instead of answering.
//! Each Check is one call of `privatelink-acceptance-waiter` ([`crate::endpoint::waiter`]),
//! which takes one look at the endpoint and returns the loop's state with `Done` set when the
//! loop should end. Sleep waits for a task token, up to the poll interval: when the provider
//! accepts or rejects, the endpoint's connection notification reaches `privatelink-endpoint`
//! through the functions stack's topic, and [`Handoff::wake`] sends the token, so the next Check
//! comes at once. Only the Check answers CloudFormation; a wake only makes it come sooner.

pub mod announce;
mod step_functions;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ec2::{EndpointState, EndpointView, MadeWith, TAG_MADE_WITH};
use crate::text::sha256_hex;

pub use announce::{Announcement, Announcer};
pub use step_functions::Handoff;

/// The tag that records that CloudFormation was answered for a request (its value).
pub const TAG_ANSWERED: &str = "privatelink-lambdas:answered";
/// Poll interval while CloudFormation waits: acceptance is noticed within one interval.
pub const DEFAULT_POLL_SECS: u64 = 15;
/// Poll interval of a background loop (`WaitForAcceptance: "false"`), which may run for days:
/// slower, so the execution stays far below Step Functions' 25,000-event history limit.
pub const DEFAULT_BACKGROUND_POLL_SECS: u64 = 360;
/// How long a background loop waits when `AcceptanceTimeoutSeconds` is not given.
pub const DEFAULT_BACKGROUND_TIMEOUT_SECS: u64 = 7 * 24 * 3600;
/// CloudFormation's own wait when the resource gives no `ServiceTimeout`.
pub const CLOUDFORMATION_TIMEOUT_SECS: u64 = 3600;
/// The most Check rounds one execution may take. Each round writes about 13 history events
/// (the Check: entered, scheduled, started, succeeded, exited; Choice: entered, exited; the
/// Sleep: entered, scheduled, started, submitted, timed out or succeeded, exited), and a
/// Standard execution ends, uncatchably, at 25,000 (Step Functions quotas): 1,800 rounds leave
/// room for the start, the end and Lambda retries.
pub const MAX_LOOP_ROUNDS: u64 = 1_800;
/// How often a loop that answers CloudFormation looks while the endpoint is `pending`: the
/// provider has accepted, and AWS is making the interfaces (usually a minute or two). Bounded
/// in rounds, since an answering loop waits at most an hour: 720 rounds at this pace.
pub const PENDING_POLL_SECS: u64 = 5;
// An hour of `pending` at that pace stays within the execution's history.
const _: () = assert!(CLOUDFORMATION_TIMEOUT_SECS / PENDING_POLL_SECS <= MAX_LOOP_ROUNDS);

/// The poll interval of a loop of `timeout_secs`: `wanted_secs`, stretched when it would take
/// more than [`MAX_LOOP_ROUNDS`] rounds.
pub fn bounded_poll_interval(timeout_secs: u64, wanted_secs: u64) -> u64 {
    wanted_secs.max(timeout_secs.div_ceil(MAX_LOOP_ROUNDS)).max(1)
}

/// Why an explicit timeout and poll interval can't go together, if they can't.
pub fn rounds_problem(timeout_secs: u64, poll_secs: u64) -> Option<String> {
    let rounds = timeout_secs.div_ceil(poll_secs.max(1));
    (rounds > MAX_LOOP_ROUNDS).then(|| {
        format!(
            "every {poll_secs} s for {timeout_secs} s makes {rounds} checks, more than the {MAX_LOOP_ROUNDS} a Step Functions execution's history holds: poll at least every {} s, or shorten AcceptanceTimeoutSeconds",
            bounded_poll_interval(timeout_secs, poll_secs)
        )
    })
}

/// The connection events that wake a loop: the provider's decision.
pub const LOOP_EVENTS: [&str; 2] = ["Accept", "Reject"];

/// Kept between our timeout and CloudFormation's, for the hand-off, one poll and the answer.
const TIMEOUT_MARGIN_SECS: u64 = 60;

/// The loop's state: the waiter's input and output, carried by Step Functions between Checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitState {
    /// Where to answer (absent for a background loop, which answers nobody).
    #[serde(rename = "ResponseURL", default, skip_serializing_if = "Option::is_none")]
    pub response_url: Option<String>,
    /// The stack's ARN.
    pub stack_id: String,
    /// The request being answered.
    pub request_id: String,
    /// The resource's logical id.
    pub logical_resource_id: String,
    /// The resource type the template declares, for the answer's metric line (absent in a
    /// state started by an older version: `Custom::PrivateLinkEndpoint`).
    #[serde(rename = "ResourceType", default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// The endpoint waited on.
    pub vpc_endpoint_id: String,
    /// Its service, for the reasons.
    pub service_name: String,
    /// Whether to switch Private DNS on once the endpoint is available.
    pub private_dns_enabled: bool,
    /// The service's private DNS name, for the answer's `Data`.
    #[serde(default)]
    pub private_dns_name: Option<String>,
    /// How long to wait for acceptance, from the first Check.
    pub timeout_seconds: u64,
    /// The configured interval between Checks.
    pub poll_interval_seconds: u64,
    /// How long the next Sleep may last, read by the state machine (`TimeoutSecondsPath`): the
    /// poll interval, or less while the endpoint is `pending` (see [`sleep_seconds`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep_seconds: Option<u64>,
    /// When the first Check ran (seconds since the epoch); set by the waiter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    /// Whether the loop is over: the state machine's Choice reads this field.
    #[serde(default)]
    pub done: bool,
    /// What the last Check saw: for people reading the execution's history, and, carried into
    /// each Sleep, for a wake to tell a change from a repeated or forged notification. Always
    /// written (null when nothing was seen): the Sleep's `$.LastState` must resolve.
    #[serde(default)]
    pub last_state: Option<String>,
    /// The subnets `SkipUnsupportedZones` left out, for the answer's `SkippedSubnetIds`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_subnet_ids: Vec<String>,
    /// The zones of `DnsNames`, made before the hand-off, for the answer's `HostedZoneIds`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosted_zone_ids: Vec<String>,
    /// Set by the state machine's Catch when Checks kept failing: answer FAILED with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

impl WaitState {
    /// Whether this loop owes CloudFormation an answer.
    pub fn answers(&self) -> bool {
        self.response_url.is_some()
    }
}

/// What one look at the endpoint calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Available: switch Private DNS on if asked (and not on yet), then succeed.
    Succeed {
        /// Whether `ModifyVpcEndpoint(PrivateDnsEnabled=true)` is needed first.
        enable_private_dns: bool,
    },
    /// Still pending: look again after the interval.
    KeepWaiting,
    /// Waited too long for the provider.
    TimedOut,
    /// Rejected, failed or expired: it will not become available.
    Failed {
        /// The endpoint's state.
        state: String,
        /// Its `LastError`.
        last_error: Option<String>,
    },
    /// Deleted or gone: the stack has moved on.
    Gone,
    /// CloudFormation was already answered for this request (a retried Check).
    AlreadyAnswered,
}

/// Decides the next step from what was observed; `now` in seconds since the epoch.
pub fn decide(state: &WaitState, endpoint: Option<&EndpointView>, now: u64) -> Step {
    let Some(endpoint) = endpoint.filter(|e| !e.state.is_deleted()) else {
        return Step::Gone;
    };
    if state.answers() && endpoint.tags.get(TAG_ANSWERED) == Some(&state.request_id) {
        return Step::AlreadyAnswered;
    }
    if endpoint.state == EndpointState::Available {
        return Step::Succeed {
            // Only what the resource's own operation planned, as its tag records: the loop's
            // state is the waiter's input, which a hand-made invocation could also carry.
            enable_private_dns: state.private_dns_enabled
                && !endpoint.private_dns_enabled
                && planned_private_dns(endpoint),
        };
    }
    if endpoint.state.is_failed() {
        return Step::Failed {
            state: endpoint.state.to_string(),
            last_error: endpoint.last_error.clone(),
        };
    }
    let started = state.started_at.unwrap_or(now);
    if now >= started.saturating_add(state.timeout_seconds) {
        Step::TimedOut
    } else {
        Step::KeepWaiting
    }
}

/// Whether the endpoint's [`TAG_MADE_WITH`] tag, written by the Create or Update that handed it
/// to the loop, says Private DNS is to be on.
fn planned_private_dns(endpoint: &EndpointView) -> bool {
    endpoint.tags.get(TAG_MADE_WITH).and_then(|v| MadeWith::parse(v)).is_some_and(|m| m.private_dns)
}

/// How long the Sleep after a Check that saw `endpoint_state` lasts: the poll interval, but
/// while a loop that answers CloudFormation sees the provider's acceptance being carried out
/// (`pending`), at most [`PENDING_POLL_SECS`]: the stack is answered soon after the endpoint is
/// available, once a connection notification has woken the loop at the acceptance.
pub fn sleep_seconds(state: &WaitState, endpoint_state: Option<&EndpointState>) -> u64 {
    match (state.answers(), endpoint_state) {
        (true, Some(EndpointState::Pending)) => state.poll_interval_seconds.min(PENDING_POLL_SECS),
        _ => state.poll_interval_seconds,
    }
    .max(1)
}

/// How long a loop that answers CloudFormation may wait: `AcceptanceTimeoutSeconds`, but never
/// past CloudFormation's own wait (`ServiceTimeout`, default an hour) less a margin.
pub fn answering_timeout(acceptance_timeout: u64, service_timeout: Option<u64>) -> u64 {
    let cloudformation = service_timeout.unwrap_or(CLOUDFORMATION_TIMEOUT_SECS);
    acceptance_timeout.min(cloudformation.saturating_sub(TIMEOUT_MARGIN_SECS).max(1))
}

/// The execution name for one request: deterministic, so a redelivered event starts no second
/// loop (at most 80 characters of `[A-Za-z0-9-_]`, as Step Functions requires). It carries the
/// endpoint's id, the one to give the provider, where the console's execution list shows it.
pub fn execution_name(
    stack_id: &str,
    logical_id: &str,
    endpoint_id: &str,
    request_id: &str,
) -> String {
    let request = sha256_hex(request_id)[..16].to_owned();
    let endpoint: String =
        endpoint_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(22).collect();
    format!("{}{endpoint}-{request}", execution_prefix(stack_id, logical_id))
}

/// The part of [`execution_name`] shared by every request of one resource.
pub fn execution_prefix(stack_id: &str, logical_id: &str) -> String {
    let resource = sha256_hex(format!("{stack_id}\n{logical_id}"))[..20].to_owned();
    let readable: String =
        logical_id.chars().filter(|c| c.is_ascii_alphanumeric()).take(18).collect();
    format!("{readable}-{resource}-")
}

/// Whether an execution (its name, or its ARN, which ends with the name) is a loop of the
/// endpoint `endpoint_id`: [`execution_name`] carries the id between dashes.
pub fn names_endpoint(execution: &str, endpoint_id: &str) -> bool {
    execution.contains(&format!("-{endpoint_id}-"))
}

/// Now, in seconds since the epoch (the loop's clock).
pub fn epoch_seconds() -> u64 {
    crate::lambda::since_epoch().as_secs()
}

/// Where a loop is, as the newest events of its execution's history say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoopPhase {
    /// In its Sleep: this token ends it.
    Sleeping {
        /// The Sleep's task token.
        token: String,
        /// The endpoint's state as the Check before the Sleep saw it.
        last_state: Option<String>,
    },
    /// In its Check (or between states): it looks at the endpoint now, or sleeps soon.
    Busy,
    /// The execution is over.
    Ended,
}

/// Reads the loop's phase from its history's newest events, newest first: `(type, the
/// TaskScheduled event's parameters)`. A Sleep is the scheduled task whose `Payload` carries
/// `Sleep.TaskToken` and that has not ended (only `TaskStarted` and `TaskSubmitted` after it).
pub fn loop_phase<'a>(
    newest_first: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> LoopPhase {
    for (kind, parameters) in newest_first {
        match kind {
            "TaskStarted" | "TaskSubmitted" => continue,
            "TaskScheduled" => {
                let sleep = parameters
                    .and_then(|p| serde_json::from_str::<Value>(p).ok())
                    .and_then(|p| p.pointer("/Payload/Sleep").cloned());
                let token = sleep.as_ref().and_then(|s| s.get("TaskToken")?.as_str());
                let last_state = sleep.as_ref().and_then(|s| s.get("LastState")?.as_str());
                return token.map_or(LoopPhase::Busy, |token| LoopPhase::Sleeping {
                    token: token.to_owned(),
                    last_state: last_state.map(str::to_owned),
                });
            }
            "ExecutionSucceeded" | "ExecutionFailed" | "ExecutionAborted" | "ExecutionTimedOut" => {
                return LoopPhase::Ended
            }
            _ => return LoopPhase::Busy,
        }
    }
    LoopPhase::Busy
}

/// Whether the endpoint is in the state `now` that the loop's last Check saw (`last`): both
/// known and the same.
pub fn unchanged(last: Option<&str>, now: Option<&str>) -> bool {
    matches!((last, now), (Some(last), Some(now)) if last.eq_ignore_ascii_case(now))
}

/// The VPC endpoint ids a connection notification names. AWS does not document the message's
/// fields, so the ids are found wherever they stand: `vpce-` and 8 to 17 hex digits (a
/// service's `vpce-svc-...` or a notification's `vpce-nfn-...` is none).
pub fn mentioned_endpoints(message: &str) -> Vec<String> {
    let mut found: Vec<String> = message
        .match_indices("vpce-")
        .filter_map(|(at, _)| {
            let before = message[..at].chars().next_back();
            let id_len = message[at + 5..]
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(message.len() - at - 5);
            let boundary = before.is_none_or(|c| !c.is_ascii_alphanumeric() && c != '-');
            (boundary && (8..=17).contains(&id_len))
                .then(|| message[at..at + 5 + id_len].to_owned())
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> WaitState {
        WaitState {
            response_url: Some("https://s3.amazonaws.com/x".into()),
            stack_id: "stack".into(),
            request_id: "r-1".into(),
            logical_resource_id: "Endpoint".into(),
            resource_type: None,
            vpc_endpoint_id: "vpce-1".into(),
            service_name: "svc".into(),
            private_dns_enabled: true,
            private_dns_name: Some("api.partner.com".into()),
            timeout_seconds: 100,
            poll_interval_seconds: 15,
            sleep_seconds: None,
            started_at: Some(1000),
            done: false,
            last_state: None,
            skipped_subnet_ids: vec![],
            hosted_zone_ids: vec![],
            error: None,
        }
    }

    fn endpoint(state: &str) -> EndpointView {
        let made = MadeWith { private_dns: true, ..MadeWith::default() };
        EndpointView {
            id: "vpce-1".into(),
            state: EndpointState::parse(state),
            tags: [(TAG_MADE_WITH.to_owned(), made.to_tag_value())].into(),
            ..EndpointView::default()
        }
    }

    #[test]
    fn pending_states_keep_waiting_until_the_timeout() {
        for pending in ["pendingAcceptance", "pending", "PENDINGACCEPTANCE"] {
            assert_eq!(decide(&state(), Some(&endpoint(pending)), 1050), Step::KeepWaiting);
            assert_eq!(decide(&state(), Some(&endpoint(pending)), 1100), Step::TimedOut);
        }
    }

    #[test]
    fn available_succeeds_switching_private_dns_on_only_when_asked_and_off() {
        let on = EndpointView { private_dns_enabled: true, ..endpoint("available") };
        assert_eq!(
            decide(&state(), Some(&endpoint("available")), 1001),
            Step::Succeed { enable_private_dns: true }
        );
        assert_eq!(decide(&state(), Some(&on), 1001), Step::Succeed { enable_private_dns: false });
        let not_asked = WaitState { private_dns_enabled: false, ..state() };
        assert_eq!(
            decide(&not_asked, Some(&endpoint("available")), 1001),
            Step::Succeed { enable_private_dns: false }
        );
        // A state asking for it, where the resource's operation did not plan it (its tag says
        // off, or there is none): a hand-made state can't switch Private DNS on.
        let off = MadeWith { private_dns: false, ..MadeWith::default() };
        let mut planned_off = endpoint("available");
        planned_off.tags.insert(TAG_MADE_WITH.into(), off.to_tag_value());
        let mut untagged = endpoint("available");
        untagged.tags.clear();
        for endpoint in [planned_off, untagged] {
            assert_eq!(
                decide(&state(), Some(&endpoint), 1001),
                Step::Succeed { enable_private_dns: false }
            );
        }
    }

    #[test]
    fn final_states_fail_with_the_last_error() {
        let rejected = EndpointView {
            last_error: Some("Rejected: by provider".into()),
            ..endpoint("rejected")
        };
        assert_eq!(
            decide(&state(), Some(&rejected), 1001),
            Step::Failed {
                state: "rejected".into(),
                last_error: Some("Rejected: by provider".into())
            }
        );
    }

    #[test]
    fn a_deleted_or_missing_endpoint_ends_the_loop_without_answering() {
        assert_eq!(decide(&state(), None, 1001), Step::Gone);
        assert_eq!(decide(&state(), Some(&endpoint("deleted")), 1001), Step::Gone);
    }

    #[test]
    fn an_answered_request_is_never_answered_again() {
        let mut answered = endpoint("available");
        answered.tags.insert(TAG_ANSWERED.into(), "r-1".into());
        assert_eq!(decide(&state(), Some(&answered), 1001), Step::AlreadyAnswered);
        // ...but the tag of an earlier request does not count.
        answered.tags.insert(TAG_ANSWERED.into(), "r-0".into());
        assert!(matches!(decide(&state(), Some(&answered), 1001), Step::Succeed { .. }));
    }

    #[test]
    fn the_timeout_never_passes_cloudformations_own() {
        assert_eq!(answering_timeout(3300, None), 3300);
        assert_eq!(answering_timeout(7200, None), 3540);
        assert_eq!(answering_timeout(3300, Some(600)), 540);
        assert_eq!(answering_timeout(30, Some(600)), 30);
    }

    #[test]
    fn execution_names_are_deterministic_valid_carry_the_endpoint_and_share_a_prefix() {
        const STACK: &str = "arn:aws:cloudformation:us-east-1:1:stack/s/g";
        const ENDPOINT: &str = "vpce-0123456789abcdef0";
        let name = execution_name(STACK, "PartnerEndpoint", ENDPOINT, "r-1");
        assert_eq!(name, execution_name(STACK, "PartnerEndpoint", ENDPOINT, "r-1"));
        assert!(name.contains(ENDPOINT), "{name}");
        assert!(name.len() <= 80);
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert!(name.starts_with(&execution_prefix(STACK, "PartnerEndpoint")));
        assert!(names_endpoint(&name, ENDPOINT) && !names_endpoint(&name, "vpce-0123456789abcdef"));
        assert_ne!(name, execution_name(STACK, "PartnerEndpoint", ENDPOINT, "r-2"));
        let long = execution_name("s", &"L".repeat(255), ENDPOINT, "r");
        assert!(long.len() <= 80, "{}", long.len());
        assert!(long.contains(ENDPOINT));
    }

    #[test]
    fn a_loop_never_takes_more_checks_than_the_execution_history_holds() {
        // The defaults fit as they are.
        assert_eq!(bounded_poll_interval(3540, DEFAULT_POLL_SECS), DEFAULT_POLL_SECS);
        assert_eq!(
            bounded_poll_interval(DEFAULT_BACKGROUND_TIMEOUT_SECS, DEFAULT_BACKGROUND_POLL_SECS),
            DEFAULT_BACKGROUND_POLL_SECS
        );
        // A short interval over a long wait is stretched to 1,800 checks at most.
        assert_eq!(bounded_poll_interval(7 * 24 * 3600, 5), 336);
        assert_eq!(bounded_poll_interval(3540, 1), 2);
        for (timeout, poll) in [(3540, 1), (30 * 24 * 3600, 1), (100, 1), (1, 3600)] {
            let interval = bounded_poll_interval(timeout, poll);
            assert!(timeout.div_ceil(interval) <= MAX_LOOP_ROUNDS, "{timeout}/{interval}");
        }
        assert_eq!(rounds_problem(1800, 1), None);
        assert!(rounds_problem(1801, 1).is_some());
        let problem = rounds_problem(86_400, 1).expect("86,400 checks is too many");
        assert!(problem.contains("poll at least every 48 s"), "{problem}");
    }

    #[test]
    fn the_state_round_trips_with_the_field_names_the_state_machine_reads() {
        let json = serde_json::to_value(state()).unwrap();
        assert_eq!(json["Done"], false);
        assert_eq!(json["PollIntervalSeconds"], 15);
        assert_eq!(json["ResponseURL"], "https://s3.amazonaws.com/x");
        let back: WaitState = serde_json::from_value(json).unwrap();
        assert_eq!(back, state());
    }

    #[test]
    fn an_answering_loop_looks_sooner_while_the_accepted_endpoint_is_being_made() {
        let answering = state();
        assert_eq!(sleep_seconds(&answering, Some(&EndpointState::Pending)), PENDING_POLL_SECS);
        assert_eq!(sleep_seconds(&answering, Some(&EndpointState::PendingAcceptance)), 15);
        assert_eq!(sleep_seconds(&answering, None), 15);
        // A shorter interval stays as it is; a background loop keeps its pace.
        let quick = WaitState { poll_interval_seconds: 2, ..state() };
        assert_eq!(sleep_seconds(&quick, Some(&EndpointState::Pending)), 2);
        let background = WaitState { response_url: None, ..state() };
        assert_eq!(sleep_seconds(&background, Some(&EndpointState::Pending)), 15);
    }

    fn scheduled(parameters: &str) -> (&'static str, Option<&str>) {
        ("TaskScheduled", Some(parameters))
    }

    #[test]
    fn a_loop_is_woken_only_by_a_state_its_last_check_did_not_see() {
        assert!(unchanged(Some("pendingAcceptance"), Some("pendingacceptance")));
        assert!(!unchanged(Some("pendingAcceptance"), Some("pending")));
        assert!(!unchanged(Some("pendingAcceptance"), Some("gone")));
        // Unknown on either side: woken, as before states were compared.
        assert!(!unchanged(None, Some("pending")));
        assert!(!unchanged(Some("pending"), None));
    }

    #[test]
    fn a_loop_is_asleep_only_while_its_sleep_task_is_open() {
        let sleep = r#"{"FunctionName":"f","InvocationType":"Event","Payload":{"Sleep":{"TaskToken":"tok","VpcEndpointId":"vpce-1","LastState":"pendingAcceptance"}}}"#;
        let check = r#"{"FunctionName":"f","Payload":{"VpcEndpointId":"vpce-1"}}"#;
        let asleep = LoopPhase::Sleeping {
            token: "tok".into(),
            last_state: Some("pendingAcceptance".into()),
        };
        assert_eq!(
            loop_phase([("TaskSubmitted", None), ("TaskStarted", None), scheduled(sleep)]),
            asleep
        );
        assert_eq!(loop_phase([scheduled(sleep), ("TaskStateEntered", None)]), asleep);
        // The Sleep ended (timed out, or woken): the loop is checking.
        assert_eq!(
            loop_phase([("TaskTimedOut", None), ("TaskSubmitted", None), scheduled(sleep)]),
            LoopPhase::Busy
        );
        assert_eq!(loop_phase([("TaskStarted", None), scheduled(check)]), LoopPhase::Busy);
        assert_eq!(loop_phase([("ChoiceStateEntered", None)]), LoopPhase::Busy);
        assert_eq!(loop_phase([scheduled("not json")]), LoopPhase::Busy);
        assert_eq!(loop_phase([("ExecutionAborted", None), scheduled(sleep)]), LoopPhase::Ended);
        assert_eq!(loop_phase([("ExecutionSucceeded", None)]), LoopPhase::Ended);
        assert_eq!(loop_phase(std::iter::empty()), LoopPhase::Busy);
    }

    #[test]
    fn a_notification_names_its_endpoints_wherever_they_stand() {
        let message = r#"{"VpcEndpointId":"vpce-0123456789abcdef0","ServiceId":"vpce-svc-0aaaabbbbccccdddd","endpointArn":"arn:aws:ec2:us-east-1:1:vpc-endpoint/vpce-12345678","notification":"vpce-nfn-0123456789abcdef0"}"#;
        assert_eq!(mentioned_endpoints(message), ["vpce-0123456789abcdef0", "vpce-12345678"]);
        assert_eq!(
            mentioned_endpoints("vpce-0123456789abcdef0 and vpce-0123456789abcdef0"),
            ["vpce-0123456789abcdef0"]
        );
        // Not ids: too short, too long, or part of a longer word.
        assert!(mentioned_endpoints("vpce-123 vpce-0123456789abcdef012 xvpce-12345678").is_empty());
        assert!(mentioned_endpoints("").is_empty());
    }
}
