//! `privatelink-validator`: the runbook's `dig` and `curl` checks, three ways.
//!
//! - `privatelink-validator check --name api.partner.com ...`: an engineer on an instance in the
//!   VPC; exit 0 when every check passes, 1 when one fails, 2 on a usage error.
//! - Under the Lambda Runtime API (no arguments): a scheduled check of the targets in the event,
//!   the configuration or discovered, and the `Custom::PrivateLinkValidation` deploy-time gate.

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use lambda_runtime::{service_fn, LambdaEvent};
use privatelink_core::aws;
use privatelink_core::cfn::engine::Engine;
use privatelink_core::cfn::responder::{Responder, UrlPolicy};
use privatelink_core::cfn::stack::StackCheck;
use privatelink_core::cfn::RawEvent;
use privatelink_core::ec2::Ec2;
use privatelink_core::error::Error;
use privatelink_core::lambda::{self, optional_env};
use privatelink_core::validation::gate::{Misconfigured, ValidationResource};
use privatelink_core::validation::request::{self, Files, PemSource};
use privatelink_core::validation::schedule::{Schedule, Sources};
use privatelink_core::validation::{
    endpoint, parse_resolver, BodyMatch, Checker, Headers, Identities, Protocol, StatusSet, Target,
    TlsVersion,
};
use serde_json::Value;

#[derive(Parser)]
#[command(
    name = "privatelink-validator",
    version,
    about = "Checks that a PrivateLink endpoint's name resolves to its private IPs and answers (HTTPS, TLS or TCP), in every zone"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check one name: DNS, then TCP, TLS and HTTPS (as far as --protocol goes) on each of its
    /// addresses; with --endpoint-id, each zone's own name and the endpoint's drift too.
    Check(CheckArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The DNS name, e.g. api.partner.com.
    #[arg(long)]
    name: String,
    /// The endpoint (EC2 API): without --expect-ip, its interfaces' addresses are expected; each
    /// zone's own DNS name is checked, and how the endpoint drifted from what it was made as.
    #[arg(long = "endpoint-id")]
    endpoint_id: Option<String>,
    /// An address the name must resolve to (repeat for each); also --expected-ips A,B, the
    /// target key's name.
    #[arg(long = "expect-ip", visible_alias = "expected-ips", value_delimiter = ',')]
    expect_ip: Vec<IpAddr>,
    /// The service port.
    #[arg(long, default_value_t = 443)]
    port: u16,
    /// The path to request (starting with /).
    #[arg(long, default_value = "/", value_parser = path_arg)]
    path: String,
    /// A DNS server (IP or IP:PORT) instead of the system's.
    #[arg(long, value_parser = resolver_arg)]
    resolver: Option<std::net::SocketAddr>,
    /// PEM certificates trusted besides the system's roots (a private CA).
    #[arg(long = "ca-file")]
    ca_file: Option<PathBuf>,
    /// Accepted HTTP statuses, e.g. 200-299 or 200,204 (a 3xx only when listed: then where
    /// it points is reported).
    #[arg(long = "expect-status", default_value = "200-299")]
    expect_status: StatusSet,
    /// How far to check: https (TCP, TLS, HTTP), tls (TCP and the handshake) or tcp.
    #[arg(long, default_value = "https")]
    protocol: Protocol,
    /// The HTTP method.
    #[arg(long, default_value = "GET", value_parser = method_arg)]
    method: String,
    /// A request header, NAME:VALUE (repeat for each); values are never printed.
    // Read as text and parsed after: clap's own error would print the value.
    #[arg(long = "header")]
    header: Vec<String>,
    /// What the body (its first 64 KB) must hold: a substring, or regex:<pattern>.
    #[arg(long = "expect-body")]
    expect_body: Option<BodyMatch>,
    /// The lowest TLS version accepted: 1.2 or 1.3.
    #[arg(long = "min-tls", default_value = "1.2")]
    min_tls: TlsVersion,
    /// A PEM file holding a client certificate chain and its key, for mutual TLS.
    #[arg(long = "client-cert")]
    client_cert: Option<PathBuf>,
    /// Time limit of each check, in milliseconds.
    #[arg(long = "timeout-ms", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=120_000))]
    timeout_ms: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn path_arg(text: &str) -> Result<String, String> {
    if text.starts_with('/') {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} must start with /"))
    }
}

/// The command line's flag for a target key: `ExpectBody` is `--expect-body`.
fn kebab_flag(key: &str) -> String {
    let mut flag = String::from("-");
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            flag.push('-');
        }
        flag.push(c.to_ascii_lowercase());
    }
    match flag.as_str() {
        "--headers" => "--header".to_owned(),
        _ => flag,
    }
}

fn method_arg(text: &str) -> Result<String, String> {
    let method = text.to_ascii_uppercase();
    if request::is_method(&method) {
        Ok(method)
    } else {
        Err(format!("{text:?} is not an HTTP method"))
    }
}

fn resolver_arg(text: &str) -> Result<std::net::SocketAddr, String> {
    parse_resolver(text).ok_or_else(|| format!("\"{text}\" is not IP or IP:PORT"))
}

/// Lambda gives a function CPU in proportion to its memory, one whole vCPU at 1,769 MB
/// (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html>).
const ONE_VCPU_MB: u64 = 1769;

/// Many targets' TLS handshakes are CPU work that one thread serializes: worker threads, where
/// there is more than one CPU to run them. Not in a Lambda of one vCPU or less (the template's
/// 128 MB): there they would share the same fraction of one CPU, and starting them was a
/// quarter of what the validator's start-up ran beyond the floor's (callgrind, `make bench`).
fn tokio_runtime(lambda: bool) -> std::io::Result<tokio::runtime::Runtime> {
    let memory_mb = optional_env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|mb| mb.parse().ok());
    match lambda && memory_mb.is_some_and(|mb: u64| mb <= ONE_VCPU_MB) {
        true => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        false => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
    }
}

fn main() -> ExitCode {
    let lambda =
        std::env::args_os().len() <= 1 && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let runtime = tokio_runtime(lambda).expect("a tokio runtime starts");
    match lambda {
        true => lambda_mode(&runtime),
        false => command_line(&runtime),
    }
}

// Each mode in a frame of its own, never inlined: the stack probes of a frame touch every page
// of it, and a Lambda's start-up must not pay for the command line's futures (nor the other
// way round). The futures themselves go on the heap, as each event's does (`serve::serve`).

/// Lambda mode: serves events until the process ends.
#[inline(never)]
fn lambda_mode(runtime: &tokio::runtime::Runtime) -> ExitCode {
    match runtime.block_on(Box::pin(serve_lambda())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}

/// The command line: one check of one target.
#[inline(never)]
fn command_line(runtime: &tokio::runtime::Runtime) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version: asked for, so stdout and success.
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // A usage error: the error and the usage on stderr, exit 2.
            let _ = err.print();
            eprintln!("\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let Command::Check(args) = cli.command;
    runtime.block_on(Box::pin(check(args)))
}

/// The usage of `check` when that is what was asked for, else of the whole command.
fn usage() -> String {
    let mut command = Cli::command();
    command.build();
    let asked_check = std::env::args().nth(1).as_deref() == Some("check");
    match command.find_subcommand_mut("check").filter(|_| asked_check) {
        Some(check) => check.render_usage().to_string(),
        None => command.render_usage().to_string(),
    }
}

async fn check(args: CheckArgs) -> ExitCode {
    let ca = match &args.ca_file {
        Some(path) => match std::fs::read(path) {
            Ok(pem) => Some(pem),
            Err(err) => {
                return usage_error(&format!("cannot read --ca-file {}: {err}", path.display()))
            }
        },
        None => None,
    };
    let checker = match Checker::new(ca.as_deref()) {
        Ok(checker) => checker.with_identities(Identities::from(std::sync::Arc::new(Files))),
        Err(err) => return usage_error(&err.to_string()),
    };
    let mut headers = Vec::with_capacity(args.header.len());
    for header in &args.header {
        match request::parse_header(header) {
            Ok(parsed) => headers.push(parsed),
            Err(problem) => return usage_error(&format!("--header: {problem}")),
        }
    }
    let mut target = Target::new(args.name);
    target.endpoint_id = args.endpoint_id;
    target.expected = args.expect_ip;
    target.port = args.port;
    target.path = args.path;
    target.resolver = args.resolver;
    target.expect_status = args.expect_status;
    target.timeout = Duration::from_millis(args.timeout_ms);
    target.protocol = args.protocol;
    target.method = args.method;
    target.headers = Headers(headers);
    target.expect_body = args.expect_body;
    target.min_tls = args.min_tls;
    target.client_cert = args.client_cert.map(|p| p.display().to_string());
    if let Some((key, kind)) = target.misplaced_options().first() {
        return usage_error(&format!(
            "{} is one of the {kind}; --protocol is {}",
            kebab_flag(key),
            target.protocol
        ));
    }
    if target.endpoint_id.is_some() {
        if let Err(err) = endpoint::read(&Ec2::lazy(), &mut target).await {
            eprintln!(
                "cannot read endpoint {}: {err}",
                target.endpoint_id.as_deref().unwrap_or_default()
            );
            return ExitCode::from(1);
        }
    }
    let report = checker.check(&target).await;
    match args.format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => {
            println!("{}", serde_json::to_string_pretty(&report).expect("a report is plain data"))
        }
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Where `VALIDATOR_CA_PEM` has the private CA: the PEM itself, or the name or ARN of an SSM
/// Parameter Store parameter holding it (for chains past Lambda's 4 KB of environment).
#[derive(Debug, PartialEq, Eq)]
enum CaSource {
    Pem(String),
    Parameter(String),
}

impl CaSource {
    fn of(value: String) -> Self {
        if value.trim_start().starts_with("-----BEGIN") {
            Self::Pem(value)
        } else {
            Self::Parameter(value)
        }
    }
}

/// The value of an SSM parameter, decrypted (a SecureString), or of a Secrets Manager secret
/// named `/aws/reference/secretsmanager/<secret>`.
async fn parameter_value(name: &str) -> Result<String, String> {
    let ssm = aws_sdk_ssm::Client::new(aws::aws_config().await);
    let out = ssm.get_parameter().name(name).with_decryption(true).send().await.map_err(|e| {
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

/// Client certificates (`ClientCert`) in Lambda: Parameter Store parameters (SecureString), or
/// Secrets Manager secrets through `/aws/reference/secretsmanager/<secret>`.
struct Parameters;

impl PemSource for Parameters {
    fn pem<'a>(
        &'a self,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(parameter_value(name))
    }
}

/// A future behind a `dyn` pointer: its `poll` stays a function of its own, never inlined into
/// the caller's. A future's `poll` takes a stack frame as large as everything inlined into it,
/// and stack probes touch each of its pages on entry, whichever branch then runs: the SSM read
/// of a private CA and the misconfigured server, inlined into the serving future, made a 52 KB
/// frame and 12 of the validator's 20 stack page faults before its first `/next` (perf, `make
/// bench`), in a start that uses neither.
type Detached<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

fn detached<'a, T>(future: impl Future<Output = T> + 'a) -> Detached<'a, T> {
    Box::pin(future)
}

/// Lambda mode: a CloudFormation event goes to the gate, anything else is a scheduled run.
async fn serve_lambda() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    let responder = Responder::new(UrlPolicy::from_env());
    let (checker, schedule) = match detached(configuration()).await {
        Ok(served) => served,
        Err(problem) => return detached(serve_misconfigured(problem, responder)).await,
    };
    let gate = Engine::new(ValidationResource::new(checker), responder)
        .with_stack_check(StackCheck::lazy());
    // Each event's future on the heap: see `serve::serve`.
    lambda_runtime::run(service_fn(|event: LambdaEvent<RawEvent>| {
        Box::pin(async {
            if is_cloudformation_event(&event.payload) {
                gate.handle(event).await
            } else {
                schedule.run(&event.payload.read().0).await
            }
        })
    }))
    .await
}

/// Serves a validator whose configuration is unusable. Exiting would fail every invocation
/// before the handler runs, and a gate event would never be answered (the stack would wait for
/// its ServiceTimeout): gate events are answered FAILED and scheduled runs fail, naming it.
async fn serve_misconfigured(
    problem: String,
    responder: Responder,
) -> Result<(), lambda_runtime::Error> {
    tracing::error!(problem, "the validator's configuration is unusable: gate events are answered FAILED and scheduled runs fail, naming it");
    let gate = Engine::new(Misconfigured::new(problem.clone()), responder)
        .with_stack_check(StackCheck::lazy());
    lambda_runtime::run(service_fn(|event: LambdaEvent<RawEvent>| {
        Box::pin(async {
            if is_cloudformation_event(&event.payload) {
                gate.handle(event).await
            } else {
                Err(Error::Misconfigured(problem.clone()))
            }
        })
    }))
    .await
}

fn is_cloudformation_event(payload: &RawEvent) -> bool {
    payload.has("RequestType") && payload.has("ResponseURL")
}

/// The checker and the schedule from the environment, or what is wrong with it (naming the
/// variable).
async fn configuration() -> Result<(Checker, Schedule), String> {
    let default_resolver = match optional_env("VALIDATOR_RESOLVER") {
        Some(text) => Some(
            parse_resolver(&text)
                .ok_or_else(|| format!("VALIDATOR_RESOLVER is not IP or IP:PORT: {text:?}"))?,
        ),
        None => None,
    };
    let private_ca = match optional_env("VALIDATOR_CA_PEM").map(CaSource::of) {
        None => None,
        Some(CaSource::Pem(pem)) => Some(pem),
        Some(CaSource::Parameter(name)) => Some(
            detached(parameter_value(&name))
                .await
                .map_err(|e| format!("VALIDATOR_CA_PEM names a parameter: {e}"))?,
        ),
    };
    let checker = Checker::new(private_ca.as_deref().map(str::as_bytes))
        .map_err(|e| format!("VALIDATOR_CA_PEM: {e}"))?
        .with_default_resolver(default_resolver)
        .with_identities(Identities::from(std::sync::Arc::new(Parameters)));
    let configured = match optional_env("VALIDATOR_TARGETS") {
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
    let discovery = optional_env("VALIDATOR_DISCOVER")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        .then(|| (Ec2::lazy(), optional_env("VALIDATOR_VPC_ID")));
    // Reading endpoints needs the EC2 API: off where the VPC can't reach it.
    let endpoints = optional_env("VALIDATOR_ENDPOINT_CHECKS")
        .is_none_or(|v| !v.eq_ignore_ascii_case("false"))
        .then(Ec2::lazy);
    let concurrency = match optional_env("VALIDATOR_CONCURRENCY") {
        Some(text) => text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            format!("VALIDATOR_CONCURRENCY is not a whole number above 0: {text:?}")
        })?,
        // From `make bench`: 1,000 targets on 2 cores stay within 1.5x the ideal and 32 MiB at
        // 128; at 256 the handshakes' CPU, not the network, sets the pace, in more memory.
        None => 128,
    };
    let fail_on_error =
        optional_env("VALIDATOR_FAIL_ON_ERROR").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let schedule = Schedule::new(
        checker.clone(),
        Sources { configured, discovery, endpoints },
        concurrency,
        fail_on_error,
    );
    Ok((checker, schedule))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_keys_flag_is_its_name_in_kebab_case() {
        assert_eq!(kebab_flag("ExpectBody"), "--expect-body");
        assert_eq!(kebab_flag("MinTls"), "--min-tls");
        assert_eq!(kebab_flag("Headers"), "--header");
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
}
