//! One CloudWatch embedded metric format (EMF) line for each event a resource function ends:
//! how many events of each resource type, operation and outcome, and how long they took. Read
//! from the function's log by CloudWatch (CloudWatch User Guide, "Specification: Embedded
//! metric format"): no API call, no permission, nothing lost when CloudWatch is slow.
//!
//! Outcomes: `SUCCESS` and `FAILED` (the answer CloudFormation got), `HANDED_OFF` (the
//! acceptance loop answers later, and its answer is counted then, with the whole wait as its
//! duration), `ALREADY_OVER` (a redelivery: nothing done, no answer) and `NOT_DELIVERED` (the
//! answer could not be sent, or the event could not be answered at all).

use serde_json::{json, Value};

/// The namespace of the resource functions' metrics (the validator's is `PrivateLink/Validator`).
pub const NAMESPACE: &str = "PrivateLink/Functions";

/// How the event ended, as the metric's `Outcome` dimension names it.
pub fn outcome(result: &crate::error::Result<Value>) -> &'static str {
    match result {
        Err(_) => "NOT_DELIVERED",
        Ok(value) => match value.get("Status").and_then(Value::as_str) {
            Some("SUCCESS") => "SUCCESS",
            Some("FAILED") => "FAILED",
            Some("HANDED_OFF") => "HANDED_OFF",
            Some("ALREADY_OVER") => "ALREADY_OVER",
            _ => "NOT_DELIVERED",
        },
    }
}

/// The EMF line of one event: `Events` (1) and `DurationMs`, by resource type, operation and
/// outcome, and by resource type and outcome (what an alarm on failures reads).
pub fn line(
    resource_type: &str,
    operation: &str,
    outcome: &str,
    duration_ms: u64,
    timestamp_ms: u64,
) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["ResourceType", "Operation", "Outcome"], ["ResourceType", "Outcome"]],
                "Metrics": [{"Name": "Events", "Unit": "Count"}, {"Name": "DurationMs", "Unit": "Milliseconds"}],
            }],
        },
        // An event too malformed to name its type is still counted.
        "ResourceType": if resource_type.is_empty() { "Unknown" } else { resource_type },
        "Operation": operation,
        "Outcome": outcome,
        "Events": 1,
        "DurationMs": duration_ms,
    })
}

/// Writes the line to stdout, where Lambda sends it to CloudWatch Logs as it is. After the
/// answer and outside the engine's guard: a stdout that can't be written loses the line, never
/// the process (`println!` would panic).
pub fn emit(resource_type: &str, operation: &str, outcome: &str, duration_ms: u64) {
    use std::io::Write;
    let now_ms = crate::lambda::millis(crate::lambda::since_epoch());
    let line = line(resource_type, operation, outcome, duration_ms, now_ms);
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn every_dimension_and_metric_the_directive_names_has_a_value() {
        let line =
            line("Custom::PrivateLinkEndpoint", "Create", "SUCCESS", 1234, 1_700_000_000_000);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000u64);
        for set in directive["Dimensions"].as_array().unwrap() {
            for dimension in set.as_array().unwrap() {
                assert!(line[dimension.as_str().unwrap()].is_string(), "{dimension}");
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            assert!(line[metric["Name"].as_str().unwrap()].is_number(), "{metric}");
        }
        assert_eq!((line["Events"].as_u64(), line["DurationMs"].as_u64()), (Some(1), Some(1234)));
    }

    #[test]
    fn an_event_without_a_type_is_counted_as_unknown() {
        assert_eq!(line("", "Unknown", "NOT_DELIVERED", 0, 0)["ResourceType"], "Unknown");
    }

    #[test]
    fn the_outcome_is_what_the_event_ended_with() {
        for (status, expected) in [
            ("SUCCESS", "SUCCESS"),
            ("FAILED", "FAILED"),
            ("HANDED_OFF", "HANDED_OFF"),
            ("ALREADY_OVER", "ALREADY_OVER"),
        ] {
            assert_eq!(outcome(&Ok(json!({"Status": status}))), expected);
        }
        assert_eq!(outcome(&Err(Error::Answer("refused".into()))), "NOT_DELIVERED");
    }
}
