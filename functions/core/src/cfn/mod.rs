//! The CloudFormation custom-resource protocol: the request as it arrives, the answer as
//! CloudFormation reads it, and the rules the answer must keep (size, placeholder ids).
//!
//! Everything here is pure; [`engine`] drives it and [`responder`] delivers the answer.

pub mod engine;
pub mod metrics;
pub mod responder;
pub mod stack;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus,
};
use serde_json::Value;
use tokio::time::Instant;

use crate::error::Error;
use crate::text::truncate;

/// CloudFormation refuses an answer larger than this ("Response object is too long").
pub const MAX_ANSWER_BYTES: usize = 4096;
/// We keep `Reason` to this many bytes (its beginning), so the answer stays small.
pub const MAX_REASON_BYTES: usize = 1024;
/// `PhysicalResourceId` may be at most 1 KB.
pub const MAX_PHYSICAL_ID_BYTES: usize = 1024;

const PLACEHOLDER_PREFIX: &str = "privatelink-failed-create-";
const INTERRUPTED_PREFIX: &str = "privatelink-interrupted-create-";

/// What a handler knows about the request it serves.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The stack's ARN.
    pub stack_id: String,
    /// CloudFormation's request id (the same when CloudFormation retries).
    pub request_id: String,
    /// The resource's logical id.
    pub logical_id: String,
    /// The resource type as the template declares it (`Custom::PrivateLinkEndpoint`...).
    pub resource_type: String,
    /// Where the answer goes, for a handler that hands the answer over to someone else.
    pub response_url: String,
    /// When the handler must stop waiting and return, leaving the engine time to answer.
    pub deadline: Instant,
    /// What a Delete may touch, as CloudFormation's state says (see [`stack::judge`]).
    pub delete_scope: DeleteScope,
}

impl RequestContext {
    /// A context for tests: `budget` from now.
    #[cfg(test)]
    pub fn for_test(budget: Duration) -> Self {
        Self {
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/test/00000000-0000-0000-0000-000000000000".into(),
            request_id: "00000000-0000-0000-0000-000000000001".into(),
            logical_id: "Resource".into(),
            resource_type: "Custom::Test".into(),
            response_url: "https://s3.amazonaws.com/test".into(),
            deadline: Instant::now() + budget,
            delete_scope: DeleteScope::default(),
        }
    }

    /// Time left before [`RequestContext::deadline`].
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The stack's name, read from its ARN (`arn:...:stack/NAME/guid`).
    pub fn stack_name(&self) -> &str {
        self.stack_id.split('/').nth(1).filter(|s| !s.is_empty()).unwrap_or(&self.stack_id)
    }
}

/// What a stack's ARN says (`arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<guid>`):
/// the partition, Region and account the stack, and every resource it makes here, live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackArn<'a> {
    /// `aws`, `aws-cn`, `aws-us-gov`...
    pub partition: &'a str,
    /// The stack's Region.
    pub region: &'a str,
    /// The stack's account.
    pub account: &'a str,
}

impl<'a> StackArn<'a> {
    /// The parts of `stack_id`, or `None` when it is not such an ARN.
    pub fn parse(stack_id: &'a str) -> Option<Self> {
        let mut parts = stack_id.split(':');
        let (Some("arn"), Some(partition), Some(_service), Some(region), Some(account)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let arn = Self { partition, region, account };
        (![partition, region, account].contains(&"")).then_some(arn)
    }
}

/// How much a Delete may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteScope {
    /// The resource the id names, or, for a placeholder id, what the Create behind it left
    /// (found by its owner tags).
    #[default]
    WhatTheOperationMade,
    /// Only the resource the id names: a cleanup Delete of a replaced resource, whose id is
    /// never a placeholder (a failed or interrupted Update keeps the old id).
    OnlyTheNamedResource,
}

/// What CloudFormation asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Make the resource.
    Create {
        /// `ResourceProperties`.
        properties: Value,
    },
    /// Change it, in place or by replacement (a different id in the answer).
    Update {
        /// The id answered before.
        physical_id: String,
        /// The new `ResourceProperties`.
        properties: Value,
        /// `OldResourceProperties`: on a rollback, the ones that failed.
        old_properties: Value,
    },
    /// Remove it.
    Delete {
        /// The id answered before: possibly a placeholder, or one CloudFormation made up.
        physical_id: String,
        /// `ResourceProperties`, possibly invalid ones from a failed Create.
        properties: Value,
    },
}

impl Request {
    /// `Create`, `Update` or `Delete`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Create { .. } => "Create",
            Self::Update { .. } => "Update",
            Self::Delete { .. } => "Delete",
        }
    }

    /// The id CloudFormation knows the resource by, if it has one yet.
    pub fn physical_id(&self) -> Option<&str> {
        match self {
            Self::Create { .. } => None,
            Self::Update { physical_id, .. } | Self::Delete { physical_id, .. } => {
                Some(physical_id)
            }
        }
    }
}

/// The fields that every answer copies from the request, and where to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The pre-signed S3 URL to PUT the answer to.
    pub response_url: String,
    /// The stack's ARN.
    pub stack_id: String,
    /// CloudFormation's id of this request (reused when it retries).
    pub request_id: String,
    /// The resource's logical id in the template.
    pub logical_id: String,
    /// The resource type, e.g. `Custom::PrivateLinkEndpoint`.
    pub resource_type: String,
}

/// An event that reached the function: a request, one refused with a reason, or one that can't
/// be answered at all.
#[derive(Debug)]
pub enum Parsed {
    /// A well-formed request.
    Request(Envelope, Request),
    /// Not a request we understand, but it says where to answer: refused, answered FAILED with
    /// the reason.
    Refused {
        /// Where to answer, and for what.
        envelope: Envelope,
        /// The event's `PhysicalResourceId`, if it has one.
        physical_id: Option<String>,
        /// Why it is refused.
        reason: Error,
    },
    /// Not even that: log it and reject it.
    Malformed(Error),
}

/// Reads an event. Never fails: what cannot be understood is classified, not thrown.
pub fn parse_event(event: Value) -> Parsed {
    let Value::Object(fields) = &event else {
        return Parsed::Malformed(Error::MalformedEvent("the event is not a JSON object".into()));
    };
    let text = |key: &str| fields.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut missing = Vec::new();
    let mut take = |key: &'static str| {
        text(key).filter(|s| !s.is_empty()).unwrap_or_else(|| {
            missing.push(key);
            String::new()
        })
    };
    let envelope = Envelope {
        response_url: take("ResponseURL"),
        stack_id: take("StackId"),
        request_id: take("RequestId"),
        logical_id: take("LogicalResourceId"),
        resource_type: text("ResourceType").unwrap_or_default(),
    };
    if !missing.is_empty() {
        return Parsed::Malformed(Error::MalformedEvent(format!(
            "not a CloudFormation custom-resource request: {} missing",
            missing.join(", ")
        )));
    }
    let physical_id = text("PhysicalResourceId");
    let request_type = text("RequestType").unwrap_or_default();
    match serde_json::from_value::<CloudFormationCustomResourceRequest<Value, Value>>(event) {
        Ok(CloudFormationCustomResourceRequest::Create(r)) => {
            Parsed::Request(envelope, Request::Create { properties: r.resource_properties })
        }
        Ok(CloudFormationCustomResourceRequest::Update(r)) => Parsed::Request(
            envelope,
            Request::Update {
                physical_id: r.physical_resource_id,
                properties: r.resource_properties,
                old_properties: r.old_resource_properties,
            },
        ),
        Ok(CloudFormationCustomResourceRequest::Delete(r)) => Parsed::Request(
            envelope,
            Request::Delete {
                physical_id: r.physical_resource_id,
                properties: r.resource_properties,
            },
        ),
        Ok(_) => Parsed::Refused {
            envelope,
            physical_id,
            reason: Error::MalformedEvent(format!(
                "unknown RequestType {}",
                crate::text::quoted(&request_type)
            )),
        },
        Err(err) => {
            let why = if matches!(request_type.as_str(), "Create" | "Update" | "Delete") {
                format!("a {request_type} request that does not parse: {err}")
            } else {
                format!("unknown RequestType {}", crate::text::quoted(&request_type))
            };
            Parsed::Refused { envelope, physical_id, reason: Error::MalformedEvent(why) }
        }
    }
}

/// An event as the Runtime API delivers it, read field by field.
///
/// The runtime would parse the whole event as one JSON value, and serde_json refuses values
/// nested deeper than 128 levels: a hand-made event with deep `ResourceProperties` would then
/// never reach the engine, and CloudFormation would never be answered. Here each top-level field
/// is kept as raw JSON (which the parser skips over without a depth limit) and read on its own.
#[derive(Debug)]
pub enum RawEvent {
    /// A JSON object: its fields, unread.
    Fields(BTreeMap<String, Box<serde_json::value::RawValue>>),
    /// Anything else (a list, a string...): not an event that can be answered.
    NotAnObject,
}

impl RawEvent {
    /// Whether the event has a top-level field `key`.
    pub fn has(&self, key: &str) -> bool {
        matches!(self, Self::Fields(fields) if fields.contains_key(key))
    }

    /// The event as JSON, and the fields that could not be read (nested too deeply), which are
    /// null in it.
    pub fn read(self) -> (Value, Vec<String>) {
        let Self::Fields(fields) = self else {
            return (Value::Null, Vec::new());
        };
        let mut object = serde_json::Map::new();
        let mut unreadable = Vec::new();
        for (key, raw) in fields {
            match serde_json::from_str::<Value>(raw.get()) {
                Ok(value) => {
                    object.insert(key, value);
                }
                Err(_) => {
                    object.insert(key.clone(), Value::Null);
                    unreadable.push(key);
                }
            }
        }
        (Value::Object(object), unreadable)
    }
}

impl<'de> serde::Deserialize<'de> for RawEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawEvent;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an event")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawEvent, A::Error> {
                let mut fields = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    fields.insert(key, map.next_value()?);
                }
                Ok(RawEvent::Fields(fields))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawEvent, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(RawEvent::NotAnObject)
            }

            fn visit_str<E>(self, _: &str) -> Result<RawEvent, E> {
                Ok(RawEvent::NotAnObject)
            }

            fn visit_bool<E>(self, _: bool) -> Result<RawEvent, E> {
                Ok(RawEvent::NotAnObject)
            }

            fn visit_i64<E>(self, _: i64) -> Result<RawEvent, E> {
                Ok(RawEvent::NotAnObject)
            }

            fn visit_u64<E>(self, _: u64) -> Result<RawEvent, E> {
                Ok(RawEvent::NotAnObject)
            }

            fn visit_f64<E>(self, _: f64) -> Result<RawEvent, E> {
                Ok(RawEvent::NotAnObject)
            }

            fn visit_unit<E>(self) -> Result<RawEvent, E> {
                Ok(RawEvent::NotAnObject)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A handler's successful result: the resource's id and its attributes for `Fn::GetAtt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The `PhysicalResourceId`: a different one on Update means replacement.
    pub physical_id: String,
    /// Attributes, all strings (lists comma-joined).
    pub data: BTreeMap<String, String>,
}

impl Outcome {
    /// An outcome without attributes.
    pub fn new(physical_id: impl Into<String>) -> Self {
        Self { physical_id: physical_id.into(), data: BTreeMap::new() }
    }

    /// Adds an attribute.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.data.insert(key.to_owned(), value.into());
        self
    }
}

/// What a handler hands back to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer CloudFormation now with this outcome.
    Now(Outcome),
    /// Someone else answers later (the acceptance waiter): the engine must not answer.
    Later {
        /// Who will answer, for the log (an execution ARN).
        by: String,
    },
    /// Nobody answers: the operation the event belongs to is over (a redelivery), and an
    /// answer already stored must not be overwritten.
    Over {
        /// The resource's status.
        status: String,
    },
}

impl From<Outcome> for Reply {
    fn from(outcome: Outcome) -> Self {
        Self::Now(outcome)
    }
}

/// The id a failed Create answers with. CloudFormation then sends a Delete with it, which must
/// succeed and clean up whatever the Create left (found by tags, not by this id).
pub fn placeholder_id(request_id: &str) -> String {
    format!("{PLACEHOLDER_PREFIX}{request_id}")
}

/// The id a Create answers with when it was cut off by the deadline: an AWS call it made may
/// still complete, so the Delete that follows looks for a while for what appears.
pub fn interrupted_id(request_id: &str) -> String {
    format!("{INTERRUPTED_PREFIX}{request_id}")
}

/// Whether `id` is a placeholder made by [`placeholder_id`] or [`interrupted_id`].
pub fn is_placeholder(id: &str) -> bool {
    id.starts_with(PLACEHOLDER_PREFIX) || id.starts_with(INTERRUPTED_PREFIX)
}

/// Whether what the Create behind the id `id` made may still appear: it was interrupted, or
/// the id is one CloudFormation made up for a Create it cancelled (whose calls we can't know).
pub fn may_still_appear(id: &str) -> bool {
    !id.starts_with(PLACEHOLDER_PREFIX)
}

/// How long a Delete of an interrupted (or cancelled) Create looks for what that Create's
/// calls may still make: an AWS call cut off by the deadline can complete a little later.
pub const LATE_CREATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(30);

/// `find` once, and when it finds nothing and the Create behind `physical_id` may still make
/// something, again every `every` for [`LATE_CREATE_WINDOW`] at most (never past the
/// handler's deadline), until it finds something.
pub async fn find_what_a_create_left<T, F, Fut>(
    ctx: &RequestContext,
    physical_id: &str,
    every: std::time::Duration,
    mut find: F,
) -> crate::error::Result<Vec<T>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::error::Result<Vec<T>>>,
{
    let started = tokio::time::Instant::now();
    loop {
        let found = find().await?;
        let looked_long_enough =
            !may_still_appear(physical_id) || started.elapsed() >= LATE_CREATE_WINDOW;
        if !found.is_empty() || looked_long_enough || ctx.remaining() <= every {
            return Ok(found);
        }
        tracing::info!(
            "nothing found yet; the interrupted Create may still make it: looking again"
        );
        tokio::time::sleep(every).await;
    }
}

/// Why a request failed, for the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The `Reason`.
    pub reason: String,
    /// Cut off by the deadline: calls it made may still complete.
    pub interrupted: bool,
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Self { reason, interrupted: false }
    }
}

/// Builds the answer to `request` from the handler's result, within CloudFormation's limits.
pub fn build_answer(
    envelope: &Envelope,
    request_physical_id: Option<&str>,
    result: Result<Outcome, Failure>,
) -> CloudFormationCustomResourceResponse {
    let interrupted = result.as_ref().err().is_some_and(|f| f.interrupted);
    let fallback_id = || match request_physical_id {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ if interrupted => interrupted_id(&envelope.request_id),
        _ => placeholder_id(&envelope.request_id),
    };
    let mut answer = CloudFormationCustomResourceResponse::default();
    answer.stack_id = envelope.stack_id.clone();
    answer.request_id = envelope.request_id.clone();
    answer.logical_resource_id = envelope.logical_id.clone();
    match result {
        Ok(outcome) if !outcome.physical_id.is_empty() => {
            answer.status = CloudFormationCustomResourceResponseStatus::Success;
            answer.physical_resource_id = outcome.physical_id;
            answer.data = outcome.data.into_iter().collect();
        }
        Ok(_) => {
            answer.status = CloudFormationCustomResourceResponseStatus::Failed;
            answer.physical_resource_id = fallback_id();
            answer.reason =
                Some("Internal error: the handler returned an empty resource id".into());
        }
        Err(failure) => {
            answer.status = CloudFormationCustomResourceResponseStatus::Failed;
            answer.physical_resource_id = fallback_id();
            answer.reason = Some(truncate(&failure.reason, MAX_REASON_BYTES));
        }
    }
    if answer.physical_resource_id.len() > MAX_PHYSICAL_ID_BYTES {
        answer.physical_resource_id = placeholder_id(&envelope.request_id);
        answer.status = CloudFormationCustomResourceResponseStatus::Failed;
        answer.reason = Some("Internal error: the resource id is longer than 1 KB".into());
        answer.data.clear();
    }
    answer
}

/// Serializes `answer`; one that would exceed [`MAX_ANSWER_BYTES`] is first turned into a FAILED
/// answer that says which attributes made it too long, since CloudFormation would refuse it.
pub fn encode_answer(answer: &mut CloudFormationCustomResourceResponse) -> Vec<u8> {
    let body = serde_json::to_vec(&*answer).expect("an answer is plain strings");
    if body.len() <= MAX_ANSWER_BYTES {
        return body;
    }
    let mut sizes: Vec<(usize, &String)> = answer.data.iter().map(|(k, v)| (v.len(), k)).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let largest: Vec<String> =
        sizes.iter().take(3).map(|(len, key)| format!("{key} ({len} bytes)")).collect();
    let reason = format!(
        "The answer would be {} bytes, over CloudFormation's limit of {MAX_ANSWER_BYTES}; largest attributes: {}. {}",
        body.len(),
        if largest.is_empty() { "none".to_owned() } else { largest.join(", ") },
        answer.reason.as_deref().unwrap_or("Use fewer values (for example fewer SourceCidrs).")
    );
    answer.status = CloudFormationCustomResourceResponseStatus::Failed;
    answer.reason = Some(truncate(&reason, MAX_REASON_BYTES));
    answer.data.clear();
    serde_json::to_vec(&*answer).expect("an answer is plain strings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_region_and_account_are_read_from_the_stack_arn() {
        let stack = "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/partner-api/guid";
        assert_eq!(
            StackArn::parse(stack),
            Some(StackArn { partition: "aws-cn", region: "cn-north-1", account: "123456789012" })
        );
        assert_eq!(StackArn::parse("not-an-arn"), None);
        assert_eq!(StackArn::parse("arn:aws:cloudformation::123456789012:stack/s/1"), None);
    }
    use serde_json::json;

    fn create_event() -> Value {
        json!({
            "RequestType": "Create",
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?sig=1",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/guid",
            "RequestId": "req-1",
            "ResourceType": "Custom::PrivateLinkEndpoint",
            "LogicalResourceId": "Endpoint",
            "ResourceProperties": {"ServiceToken": "arn", "VpcId": "vpc-1"}
        })
    }

    #[test]
    fn a_create_event_parses_with_its_properties() {
        let Parsed::Request(envelope, Request::Create { properties }) = parse_event(create_event())
        else {
            panic!("expected a Create");
        };
        assert_eq!(envelope.logical_id, "Endpoint");
        assert_eq!(properties["VpcId"], "vpc-1");
    }

    #[test]
    fn an_update_event_carries_old_and_new_properties() {
        let mut event = create_event();
        event["RequestType"] = json!("Update");
        event["PhysicalResourceId"] = json!("vpce-1");
        event["OldResourceProperties"] = json!({"VpcId": "vpc-0"});
        let Parsed::Request(_, Request::Update { physical_id, properties, old_properties }) =
            parse_event(event)
        else {
            panic!("expected an Update");
        };
        assert_eq!(physical_id, "vpce-1");
        assert_eq!(properties["VpcId"], "vpc-1");
        assert_eq!(old_properties["VpcId"], "vpc-0");
    }

    #[test]
    fn an_unknown_request_type_is_answerable_as_failed() {
        let mut event = create_event();
        event["RequestType"] = json!("Upgrade");
        let Parsed::Refused { reason: err, .. } = parse_event(event) else {
            panic!("expected unanswerable");
        };
        assert!(err.to_string().contains("Upgrade"), "{err}");
    }

    #[test]
    fn events_without_a_response_url_or_not_objects_are_malformed() {
        let mut event = create_event();
        event.as_object_mut().unwrap().remove("ResponseURL");
        assert!(matches!(parse_event(event), Parsed::Malformed(_)));
        assert!(matches!(parse_event(json!([1, 2])), Parsed::Malformed(_)));
        assert!(matches!(parse_event(json!("Create")), Parsed::Malformed(_)));
    }

    fn envelope() -> Envelope {
        Envelope {
            response_url: "https://s3.amazonaws.com/x".into(),
            stack_id: "stack".into(),
            request_id: "req-1".into(),
            logical_id: "Endpoint".into(),
            resource_type: "Custom::PrivateLinkEndpoint".into(),
        }
    }

    #[test]
    fn a_failed_create_answers_with_a_placeholder_id() {
        let answer = build_answer(&envelope(), None, Err(Failure::from("boom".to_owned())));
        assert!(is_placeholder(&answer.physical_resource_id));
        assert_eq!(answer.status, CloudFormationCustomResourceResponseStatus::Failed);
    }

    #[test]
    fn a_failed_update_keeps_the_resource_id() {
        let answer =
            build_answer(&envelope(), Some("vpce-1"), Err(Failure::from("boom".to_owned())));
        assert_eq!(answer.physical_resource_id, "vpce-1");
    }

    #[test]
    fn a_long_reason_keeps_its_beginning_within_one_kilobyte() {
        let reason = format!("Start. {}", "é".repeat(2000));
        let answer = build_answer(&envelope(), None, Err(Failure::from(reason)));
        let kept = answer.reason.unwrap();
        assert!(kept.len() <= MAX_REASON_BYTES);
        assert!(kept.starts_with("Start. é"));
    }

    #[test]
    fn an_answer_over_4096_bytes_becomes_a_failed_answer_naming_the_largest_attribute() {
        let outcome = Outcome::new("sg-1")
            .with("SourceCidrs", "10.0.0.0/32,".repeat(400))
            .with("GroupId", "sg-1");
        let mut answer = build_answer(&envelope(), None, Ok(outcome));
        let body = encode_answer(&mut answer);
        assert_eq!(answer.status, CloudFormationCustomResourceResponseStatus::Failed);
        assert!(body.len() <= MAX_ANSWER_BYTES);
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["Status"], "FAILED");
        assert!(answer["Reason"].as_str().unwrap().contains("SourceCidrs (4800 bytes)"));
        assert_eq!(answer["Data"], json!({}));
    }

    #[test]
    fn a_successful_answer_has_the_fields_cloudformation_reads() {
        let mut answer =
            build_answer(&envelope(), None, Ok(Outcome::new("vpce-1").with("State", "available")));
        let body = encode_answer(&mut answer);
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["Status"], "SUCCESS");
        assert_eq!(answer["PhysicalResourceId"], "vpce-1");
        assert_eq!(answer["StackId"], "stack");
        assert_eq!(answer["RequestId"], "req-1");
        assert_eq!(answer["LogicalResourceId"], "Endpoint");
        assert_eq!(answer["Data"]["State"], "available");
    }
}
