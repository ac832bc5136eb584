//! The command line: `privatelink-validator check --name api.partner.com ...`, for an engineer
//! on an instance in the VPC. Exit 0 when every check passes, 1 when one fails, 2 on a usage
//! error.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use privatelink_core::ec2::Ec2;
use privatelink_core::validation::request::{self, Files};
use privatelink_core::validation::{
    endpoint, parse_resolver, BodyMatch, Checker, Headers, Identities, Protocol, SecretHeaders,
    StatusSet, Target, TlsVersion,
};

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
    /// How far to check: https (TCP, TLS, HTTP), tls (TCP and the handshake), tcp, or udp (DNS
    /// only: nothing connects to a UDP service).
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
    /// A file holding a JSON object of header names and values kept secret (what a target's
    /// HeadersParameter names in Lambda); its values are never printed.
    #[arg(long = "headers-parameter")]
    headers_parameter: Option<PathBuf>,
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

/// The command line: one check of one target.
#[inline(never)]
pub fn command_line(runtime: &tokio::runtime::Runtime) -> ExitCode {
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
        Ok(checker) => checker
            .with_identities(Identities::from(std::sync::Arc::new(Files)))
            .with_secret_headers(SecretHeaders::from(std::sync::Arc::new(Files))),
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
    target.headers_parameter = args.headers_parameter.map(|p| p.display().to_string());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_keys_flag_is_its_name_in_kebab_case() {
        assert_eq!(kebab_flag("ExpectBody"), "--expect-body");
        assert_eq!(kebab_flag("MinTls"), "--min-tls");
        assert_eq!(kebab_flag("Headers"), "--header");
    }
}
