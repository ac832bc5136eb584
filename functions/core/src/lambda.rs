//! The Lambda environment every function reads: its log level and logs, its settings, and the
//! wall clock its deadlines are measured in.

use std::time::Duration;

use lambda_runtime::tracing::subscriber::{self, filter::LevelFilter};

/// The project's version (the workspace's), in every function's first log line and in the tag
/// `privatelink-lambdas:version` of what it makes.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Structured JSON logs on stdout (CloudWatch reads them as fields), at the level of
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`, default INFO, at most DEBUG (see [`log_level`]). A
/// level, not `EnvFilter`'s per-module directives: those bring a regex engine (280 KB of every
/// binary) and its start-up. The first line, logged with the first event, says which function
/// and version runs ([`log_version_once`]).
pub fn init_logging() {
    let asked = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).ok();
    let level = log_level(asked.as_deref());
    subscriber::fmt()
        .json()
        .with_target(false)
        .with_current_span(true)
        .with_span_list(false)
        .with_max_level(level)
        .init();
}

/// Logs which function and version runs, once per process. Called with the first event, not at
/// start: formatting one log line before the first `/next` was 14,000 instructions of a cold
/// start's 130,000 in the functions' own code, and 4 more page faults (`make bench`).
pub fn log_version_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
        tracing::info!(version = VERSION, function, "privatelink-lambdas {VERSION}");
    });
}

/// The log level for the level asked for (`None` or unreadable: INFO). TRACE is logged as
/// DEBUG: at TRACE the Lambda runtime logs each raw event, whose `ResponseURL` is a signed
/// capability to answer for the stack and whose properties may hold header values.
pub fn log_level(asked: Option<&str>) -> LevelFilter {
    asked
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO)
        .min(LevelFilter::DEBUG)
}

/// The wall-clock time since the Unix epoch (zero if the clock is before it): what Lambda's
/// deadlines, EMF timestamps and certificate expiries are measured in.
pub fn since_epoch() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

/// A duration in whole milliseconds, as logs and Lambda's deadlines count them (saturating: no
/// duration here comes near 584 million years).
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// An optional setting from the environment: unset and blank are the same.
pub fn optional_env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::{log_level, LevelFilter};

    #[test]
    fn trace_is_logged_as_debug_so_no_raw_event_reaches_the_log() {
        assert_eq!(log_level(Some("trace")), LevelFilter::DEBUG);
        assert_eq!(log_level(Some("TRACE")), LevelFilter::DEBUG);
        assert_eq!(log_level(Some("debug")), LevelFilter::DEBUG);
        assert_eq!(log_level(Some("warn")), LevelFilter::WARN);
        assert_eq!(log_level(Some("loud")), LevelFilter::INFO);
        assert_eq!(log_level(None), LevelFilter::INFO);
    }
}
