"""`privatelink-validator`, black-box: the real binary as a command line, as a scheduled Lambda and
as the `Custom::PrivateLinkValidation` gate (under the Lambda Runtime API), against a loopback
stand-in for the partner: a DNS server answering for api.partner.com and HTTPS servers on
127.0.0.2 and 127.0.0.3 (the endpoint's interfaces) with certificates from a CA made for the
test. No traffic leaves loopback."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.harness.cfn import stack_id
from tests.harness.partner import PartnerDns, PartnerHttps

BINARY = Path(__file__).resolve().parent.parent / "target" / "debug" / "privatelink-validator"
NAME = "api.partner.com"
GOOD = ["127.0.0.2", "127.0.0.3"]
TYPE = "Custom::PrivateLinkValidation"
# These targets name an endpoint id for their metrics' dimensions only: the emulator has no such
# endpoint to read (its zones and drift are tested in test_validator_fleet.py).
NO_ENDPOINT_CHECKS = {"VALIDATOR_ENDPOINT_CHECKS": "false"}


@pytest.fixture
def https():
    server = PartnerHttps(GOOD, [NAME])
    yield server
    server.stop()


@pytest.fixture
def dns():
    server = PartnerDns({NAME: GOOD})
    yield server
    server.stop()


@pytest.fixture
def ca_file(https, tmp_path) -> Path:
    path = tmp_path / "partner-ca.pem"
    path.write_text(https.ca_pem)
    return path


def check(dns, https, ca_file, *extra: str, expect=GOOD, timeout_s: float = 30) -> tuple[int, Any, str]:
    """Runs `privatelink-validator check` with --format json; returns (exit code, report, stderr)."""
    assert BINARY.is_file(), f"build it first: {BINARY}"
    args = [str(BINARY), "check", "--name", NAME, "--port", str(https.port), "--resolver", dns.address,
            "--ca-file", str(ca_file), "--format", "json", "--timeout-ms", "2000"]
    for ip in expect:
        args += ["--expect-ip", ip]
    done = subprocess.run(args + list(extra), capture_output=True, text=True, timeout=timeout_s)
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else done.stdout
    return done.returncode, report, done.stderr


def test_a_healthy_target_passes_every_check_with_timings_and_certificate_expiry(dns, https, ca_file):
    code, report, _ = check(dns, https, ca_file)
    assert code == 0, report
    assert report["ok"] is True and report["reason"] is None
    assert report["dns"]["found"] == GOOD
    assert [a["address"] for a in report["addresses"]] == [f"{ip}:{https.port}" for ip in GOOD]
    for a in report["addresses"]:
        assert a["tcp_ok"] and a["tls_ok"] and a["https_ok"] and a["status"] == 200
        assert a["cert_days_left"] in (89, 90)  # the stand-in's certificate is valid for 90 days
        assert all(a["timings"][k] is not None for k in ("connect_ms", "tls_ms", "first_byte_ms"))
    assert report["timings"]["dns_ms"] is not None
    # Every interface was asked for the name, with the name as Host.
    assert sorted(r[:2] for r in https.requests) == [(ip, NAME) for ip in GOOD]


def test_the_text_format_is_a_table_a_person_reads(dns, https, ca_file):
    args = [str(BINARY), "check", "--name", NAME, "--port", str(https.port), "--resolver", dns.address,
            "--ca-file", str(ca_file), "--expect-ip", GOOD[0], "--expect-ip", GOOD[1]]
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == f"PASS {NAME} [https, HTTP/1.1]"  # the protocol, and the HTTP version used
    assert lines[1].split()[:2] == ["dns", "ok"]
    assert all("tcp ok" in line and "https ok" in line for line in lines[2:4]), done.stdout


def test_answers_outside_the_expected_addresses_fail_and_list_both(dns, https, ca_file):
    dns.records[NAME] = ["127.0.0.8", "127.0.0.9"]
    code, report, _ = check(dns, https, ca_file)
    assert code == 1
    reason = report["dns"]["reason"]
    assert "127.0.0.8, 127.0.0.9" in reason and "expected 127.0.0.2, 127.0.0.3" in reason, reason


def test_one_good_and_one_bad_answer_fails_naming_the_bad_one(dns, https, ca_file):
    dns.records[NAME] = ["127.0.0.2", "127.0.0.9"]
    code, report, _ = check(dns, https, ca_file)
    assert code == 1
    assert report["dns"]["ok"] is False
    assert "answers 127.0.0.9 outside" in report["reason"], report["reason"]


def test_nxdomain_fails_saying_what_to_check(dns, https, ca_file):
    dns.records.clear()
    code, report, _ = check(dns, https, ca_file)
    assert code == 1
    assert report["reason"].startswith("NXDOMAIN"), report["reason"]
    assert "Private DNS" in report["reason"]


def test_a_certificate_for_another_name_fails_tls(dns, https, ca_file):
    https.use_certificate(["other.example.com"])
    code, report, _ = check(dns, https, ca_file)
    assert code == 1
    assert report["tls"]["ok"] is False and report["tcp"]["ok"] is True
    assert "not valid for name" in report["reason"] or "NotValidForName" in report["reason"], report["reason"]


def test_an_expired_certificate_fails_tls(dns, https, ca_file):
    https.use_certificate([NAME], expired=True)
    code, report, _ = check(dns, https, ca_file)
    assert code == 1
    assert "expired" in report["reason"], report["reason"]


def test_a_certificate_from_an_untrusted_ca_fails_tls(dns, https, tmp_path):
    other = PartnerHttps(["127.0.0.5"], [NAME])  # only for its CA
    other.stop()
    path = tmp_path / "other-ca.pem"
    path.write_text(other.ca_pem)
    code, report, _ = check(dns, https, path)
    assert code == 1
    assert report["tls"]["ok"] is False, report


def test_http_503_fails_https_with_the_status(dns, https, ca_file):
    https.status = 503
    code, report, _ = check(dns, https, ca_file)
    assert code == 1
    assert report["https"]["ok"] is False and report["status"] == 503
    assert "answered 503, expected 200-299" in report["reason"], report["reason"]
    # ...unless 503 is what the caller expects.
    code, report, _ = check(dns, https, ca_file, "--expect-status", "503")
    assert code == 0, report


def test_a_closed_port_on_one_interface_is_found(dns, https, ca_file):
    dns.records[NAME] = ["127.0.0.2", "127.0.0.4"]  # nothing listens on 127.0.0.4
    code, report, _ = check(dns, https, ca_file, expect=["127.0.0.2", "127.0.0.4"])
    assert code == 1
    bad = [a for a in report["addresses"] if not a["tcp_ok"]]
    assert [a["address"] for a in bad] == [f"127.0.0.4:{https.port}"]
    assert "refused" in bad[0]["reason"].lower(), bad[0]["reason"]


def test_a_server_slower_than_the_timeout_fails_in_time(dns, https, ca_file):
    https.delay_s = 5
    started = time.monotonic()
    code, report, _ = check(dns, https, ca_file)
    assert code == 1
    assert time.monotonic() - started < 4.5
    assert "did not come within 2000 ms" in report["reason"], report["reason"]


@pytest.mark.parametrize("args", [[], ["check"], ["check", "--name", NAME, "--port", "99999"],
                                  ["check", "--name", NAME, "--expect-ip", "not-an-ip"],
                                  ["check", "--name", NAME, "--format", "yaml"], ["frobnicate"]])
def test_usage_errors_exit_2_with_the_usage_on_stderr(args):
    done = subprocess.run([str(BINARY), *args], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Usage" in done.stderr and done.stdout == ""


# --------------------------------------------------------------------------- #
# Lambda: the schedule and the gate
# --------------------------------------------------------------------------- #


def target(dns, https, **extra: Any) -> dict[str, Any]:
    return {"Name": NAME, "ExpectedIps": GOOD, "Port": str(https.port), "Resolver": dns.address,
            "TimeoutMs": "2000", "EndpointId": "vpce-0123456789abcdef0", **extra}


@pytest.fixture
def validator(lambda_function, https):
    return lambda_function("privatelink-validator", env={**NO_ENDPOINT_CHECKS, "VALIDATOR_CA_PEM": https.ca_pem})


def emf_lines(logs: list[str]) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in logs if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


def test_a_scheduled_run_checks_the_event_targets_and_logs_one_emf_line_each(validator, dns, https):
    healthy = target(dns, https)
    broken = target(dns, https, Name="missing.partner.com")
    invocation = validator.invoke({"Targets": [healthy, broken]})
    assert invocation.kind == "response", invocation.body
    summary = invocation.body
    assert summary["ok"] is False and summary["checked"] == 2
    assert [f["name"] for f in summary["failed"]] == ["missing.partner.com"]
    lines = emf_lines(invocation.logs)
    assert [line["Name"] for line in lines] == [NAME, "missing.partner.com"]
    good = lines[0]
    directive = good["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "PrivateLink/Validator"
    assert directive["Dimensions"] == [["Name", "EndpointId"], []]  # per target, and the fleet
    assert isinstance(good["_aws"]["Timestamp"], int)
    for metric in directive["Metrics"]:
        assert isinstance(good[metric["Name"]], (int, float)), metric
    assert good["Success"] == 1 and good["DnsOk"] == 1 and good["HttpsOk"] == 1 and good["CertDaysLeft"] in (89, 90)
    assert lines[1]["Success"] == 0 and lines[1]["DnsOk"] == 0
    assert lines[1]["Report"]["reason"].startswith("NXDOMAIN")


def test_a_scheduled_event_without_targets_checks_the_configured_ones(lambda_function, dns, https):
    fn = lambda_function("privatelink-validator", env={**NO_ENDPOINT_CHECKS,
        "VALIDATOR_CA_PEM": https.ca_pem, "VALIDATOR_TARGETS": json.dumps([target(dns, https)])})
    event = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
             "resources": ["arn:aws:events:us-east-1:123456789012:rule/validator"], "detail": {}}
    invocation = fn.invoke(event)
    assert invocation.kind == "response", invocation.body
    assert invocation.body["ok"] is True and invocation.body["checked"] == 1


def test_a_failed_target_fails_the_invocation_only_when_configured_to(lambda_function, dns, https):
    fn = lambda_function("privatelink-validator", env={**NO_ENDPOINT_CHECKS,
        "VALIDATOR_CA_PEM": https.ca_pem, "VALIDATOR_FAIL_ON_ERROR": "true"})
    https.status = 503
    invocation = fn.invoke({"Targets": [target(dns, https)]})
    assert invocation.kind == "error"
    assert "answered 503" in json.dumps(invocation.body)


def test_the_gate_passes_a_working_endpoint(validator, cfn, dns, https):
    event, key = cfn.create_event(TYPE, "Validation", target(dns, https))
    assert validator.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == f"privatelink-validation-{NAME}"
    assert answer["Data"]["Addresses"] == ",".join(GOOD)
    assert answer["Data"]["Status"] == "200"


def test_a_private_ca_kept_in_parameter_store_is_read_at_start(lambda_function, emulator, cfn, dns, https):
    # A chain longer than Lambda's 4 KB of environment lives in SSM; VALIDATOR_CA_PEM names it.
    # (The name is the one the validator template's role is judged with in test_contracts.py.)
    ssm = boto3.client("ssm", endpoint_url=emulator.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    ssm.put_parameter(Name="/privatelink/partner-ca", Value=https.ca_pem, Type="String",
                      Tier="Advanced", Overwrite=True)
    fn = lambda_function("privatelink-validator", env={**NO_ENDPOINT_CHECKS, "VALIDATOR_CA_PEM": "/privatelink/partner-ca"})
    event, key = cfn.create_event(TYPE, "Validation", target(dns, https))
    assert fn.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "SUCCESS", answer


def test_the_gate_retries_until_the_checks_pass(validator, cfn, dns, https):
    https.status = 503
    threading.Timer(2.5, lambda: setattr(https, "status", 200)).start()
    event, key = cfn.create_event(TYPE, "Validation", target(dns, https, RetryIntervalSeconds=1, TimeoutSeconds=30))
    assert validator.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "SUCCESS", answer
    assert int(answer["Data"]["Attempts"]) >= 2


def test_the_gate_fails_after_its_timeout_with_the_failing_checks_reason(validator, cfn, dns, https):
    https.status = 503
    stack = stack_id()
    props = target(dns, https, RetryIntervalSeconds=1, TimeoutSeconds=3)
    event, key = cfn.create_event(TYPE, "Validation", props, stack)
    started = time.monotonic()
    assert validator.invoke(event).kind == "response"
    assert time.monotonic() - started < 10
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    assert f"Validation of {NAME} failed after" in answer["Reason"] and "answered 503" in answer["Reason"], answer["Reason"]
    deleted_event, deleted_key = cfn.delete_event(TYPE, "Validation", answer["PhysicalResourceId"], props, stack)
    assert validator.invoke(deleted_event).kind == "response"
    assert cfn.answer(deleted_key)["Status"] == "SUCCESS"


def test_the_gate_names_bad_properties(validator, cfn):
    event, key = cfn.create_event(TYPE, "Validation", {"Port": "0", "ExpectStatus": "fine"})
    assert validator.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    for name in ("Name", "Port", "ExpectStatus"):
        assert f"{name}:" in answer["Reason"], answer["Reason"]


def test_targets_without_a_resolver_ask_the_configured_one(lambda_function, dns, https):
    fn = lambda_function("privatelink-validator", env={**NO_ENDPOINT_CHECKS,
        "VALIDATOR_CA_PEM": https.ca_pem, "VALIDATOR_RESOLVER": dns.address})
    without_resolver = {k: v for k, v in target(dns, https).items() if k != "Resolver"}
    invocation = fn.invoke({"Targets": [without_resolver]})
    assert invocation.kind == "response", invocation.body
    assert invocation.body["ok"] is True, invocation.body["failed"]


def made_endpoint(ec2, vpc, service, *more_tags: dict[str, str]) -> dict[str, Any]:
    """An endpoint tagged as Custom::PrivateLinkEndpoint tags what it makes."""
    return ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc.vpc_id, ServiceName=service.service_name,
        SubnetIds=[vpc.subnet("a")], PrivateDnsEnabled=True,
        TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": [
            {"Key": "privatelink-lambdas:stack-id", "Value": stack_id()},
            {"Key": "privatelink-lambdas:logical-id", "Value": "Endpoint"}, *more_tags]}])["VpcEndpoint"]


def discovered(lambda_function, dns, https, vpc) -> Any:
    """One scheduled run with Discover=true and no targets, as the validator stack makes it."""
    fn = lambda_function("privatelink-validator", env={
        "VALIDATOR_DISCOVER": "true", "VALIDATOR_VPC_ID": vpc.vpc_id,
        "VALIDATOR_RESOLVER": dns.address, "VALIDATOR_CA_PEM": https.ca_pem})
    invocation = fn.invoke({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
                            "detail": {}})
    assert invocation.kind == "response", invocation.body
    return invocation


def test_discovery_checks_the_available_endpoints_made_in_its_vpc(lambda_function, ec2, dns, https,
                                                                   consumer_vpc, provider):
    made = made_endpoint(ec2, consumer_vpc, provider())
    ec2.create_vpc_endpoint(  # not made by this project: not checked
        VpcEndpointType="Interface", VpcId=consumer_vpc.vpc_id, ServiceName=provider().service_name,
        SubnetIds=[consumer_vpc.subnet("b")], PrivateDnsEnabled=False)
    invocation = discovered(lambda_function, dns, https, consumer_vpc)
    assert invocation.body["checked"] == 1, invocation.body
    # The target's line, then one per zone of the endpoint.
    line, zone_line = emf_lines(invocation.logs)
    assert zone_line["Zone"] == "us-east-1a"
    assert line["Name"] == "api.partner.com" and line["EndpointId"] == made["VpcEndpointId"]
    # The stand-in answers with its own addresses, not the endpoint's: found and reported.
    assert line["Success"] == 0 and "outside" in line["Report"]["reason"], line["Report"]


def test_discovery_checks_an_endpoints_dns_names_like_its_private_dns_name(lambda_function, ec2, dns, https,
                                                                          consumer_vpc, provider):
    # An endpoint with DnsNames (kept in its tag) and Private DNS on: both names are checked.
    made = made_endpoint(ec2, consumer_vpc, provider(),
                         {"Key": "privatelink-lambdas:dns-names", "Value": "partner-api.internal.example"})
    dns.records["partner-api.internal.example"] = GOOD
    invocation = discovered(lambda_function, dns, https, consumer_vpc)
    assert invocation.body["checked"] == 2, invocation.body
    names = {line["Name"] for line in emf_lines(invocation.logs) if "Zone" not in line}
    assert names == {"api.partner.com", "partner-api.internal.example"}
    assert all(line["EndpointId"] == made["VpcEndpointId"] for line in emf_lines(invocation.logs))


def test_a_redirect_fails_by_default_and_says_where_it_points(dns, https, ca_file):
    # A 3xx is not the API answering (it may point out of the VPC).
    https.status, https.location = 302, "https://login.partner.example/"
    code, report, _ = check(dns, https, ca_file)
    assert code == 1
    assert 'answered 302 (a redirect to "https://login.partner.example/"), expected 200-299' in report["reason"], report
    # Expected, it passes, and the report still says where it points.
    code, report, _ = check(dns, https, ca_file, "--expect-status", "200-399")
    assert code == 0, report
    assert report["addresses"][0]["location"] == '"https://login.partner.example/"'


def test_a_dns_server_that_does_not_answer_fails_within_the_targets_time(dns, https, ca_file):
    # The resolver's own attempts would take several times the limit: one deadline bounds it.
    dns.delay_s = 10
    started = time.monotonic()
    code, report, _ = check(dns, https, ca_file)
    assert code == 1
    assert time.monotonic() - started < 4.5
    assert "got no answer within 2000 ms" in report["reason"], report["reason"]


def test_a_path_without_its_leading_slash_is_a_usage_error():
    done = subprocess.run([str(BINARY), "check", "--name", NAME, "--path", "health"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "must start with /" in done.stderr, done.stderr


def test_the_gates_timeout_bounds_a_check_under_way_with_its_own_reason(validator, cfn, dns, https):
    https.delay_s = 20
    event, key = cfn.create_event(TYPE, "Validation", target(dns, https, TimeoutMs="30000", TimeoutSeconds="2"))
    started = time.monotonic()
    assert validator.invoke(event, deadline_s=60).kind == "response"
    answer = cfn.answer(key)
    assert time.monotonic() - started < 10
    assert answer["Status"] == "FAILED"
    assert "a check was still running when TimeoutSeconds (2 s) ran out" in answer["Reason"], answer["Reason"]


@pytest.mark.parametrize("env, named", [
    ({"VALIDATOR_TARGETS": "[{\"Name\": "}, "VALIDATOR_TARGETS is not a JSON list"),
    ({"VALIDATOR_TARGETS": json.dumps([{"Name": NAME, "Prot": "443"}])}, "VALIDATOR_TARGETS"),
    ({"VALIDATOR_CA_PEM": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"}, "VALIDATOR_CA_PEM"),
    ({"VALIDATOR_RESOLVER": "the vpc resolver"}, "VALIDATOR_RESOLVER"),
    ({"VALIDATOR_CONCURRENCY": "0"}, "VALIDATOR_CONCURRENCY"),
], ids=["targets-not-json", "targets-misspelt-key", "ca-not-pem", "resolver", "concurrency"])
def test_a_bad_configuration_is_answered_never_left_hanging(lambda_function, cfn, dns, https, env, named):
    # Exiting at start would leave every gate event unanswered: the stack would wait an hour.
    fn = lambda_function("privatelink-validator", env={**NO_ENDPOINT_CHECKS, **env})
    stack = stack_id()
    event, key = cfn.create_event(TYPE, "Validation", target(dns, https), stack)
    assert fn.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    assert "The validator's configuration is unusable" in answer["Reason"] and named in answer["Reason"], answer
    # The stack stays deletable...
    event, key = cfn.delete_event(TYPE, "Validation", answer["PhysicalResourceId"], target(dns, https), stack)
    assert fn.invoke(event).kind == "response"
    assert cfn.answer(key)["Status"] == "SUCCESS"
    # ...and a scheduled run fails saying why.
    scheduled = fn.invoke({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})
    assert scheduled.kind == "error" and named in json.dumps(scheduled.body), scheduled.body
