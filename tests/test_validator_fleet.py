"""The validator for a fleet, black-box: every protocol (HTTPS with HTTP/2 by ALPN, TLS, TCP),
the request options (method, headers, expected body, lowest TLS version, client certificate),
every zone of an endpoint, the endpoint's drift from what it was made as, and the retry of a
failed scheduled check.

The endpoints here are made by the real `privatelink-endpoint` on the emulator, in a consumer
VPC whose CIDR block is on loopback (127.0.0.0/16): its interfaces' addresses are then addresses
the partner stand-in can listen on, so each zone's interface is probed for real. (AWS would not
give a VPC that block; the emulator does not care, and nothing else here depends on it.)"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.harness.cfn import stack_id
from tests.harness.partner import PartnerDns, PartnerHttps, zonal_dns_names
from tests.test_validator import BINARY, NAME, emf_lines, target

REGION = "us-east-1"


def cli(dns, https, ca_file, *extra: str, fmt: str = "json") -> tuple[int, Any, str]:
    """`privatelink-validator check` against the stand-in; the report parsed when JSON."""
    args = [str(BINARY), "check", "--name", NAME, "--port", str(https.port), "--resolver", dns.address,
            "--ca-file", str(ca_file), "--format", fmt, "--timeout-ms", "3000", *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else done.stdout
    return done.returncode, report, done.stdout + done.stderr


def serve(request, **options: Any) -> tuple[PartnerDns, PartnerHttps, Path]:
    https = PartnerHttps(["127.0.0.2", "127.0.0.3"], [NAME], **options)
    dns = PartnerDns({NAME: ["127.0.0.2", "127.0.0.3"]})
    request.addfinalizer(https.stop)
    request.addfinalizer(dns.stop)
    ca_file = Path(request.getfixturevalue("tmp_path")) / "ca.pem"
    ca_file.write_text(https.ca_pem)
    return dns, https, ca_file


# --------------------------------------------------------------------------- #
# Protocols
# --------------------------------------------------------------------------- #


def test_https_negotiates_http2_when_the_server_offers_it_and_says_so(request):
    dns, https, ca_file = serve(request, http2=True)
    code, report, _ = cli(dns, https, ca_file)
    assert code == 0, report
    assert report["http_version"] == "HTTP/2"
    assert {a["http_version"] for a in report["addresses"]} == {"HTTP/2"}
    assert {r.protocol for r in https.requests} == {"HTTP/2"}
    plain_dns, plain, plain_ca = serve(request)
    code, report, _ = cli(plain_dns, plain, plain_ca)
    assert code == 0 and report["http_version"] == "HTTP/1.1", report


def test_tls_checks_the_handshake_and_the_certificate_without_any_http(request):
    dns, https, ca_file = serve(request)
    code, report, _ = cli(dns, https, ca_file, "--protocol", "tls")
    assert code == 0, report
    assert report["protocol"] == "tls" and "https" not in report
    assert all(a["tls_ok"] and a["cert_days_left"] in (89, 90) for a in report["addresses"])
    assert https.requests == []  # no HTTP request was made
    https.use_certificate(["other.example"])
    code, report, _ = cli(dns, https, ca_file, "--protocol", "tls")
    assert code == 1 and "TLS handshake" in report["reason"], report


def test_tcp_only_connects_and_fails_on_a_closed_port(request):
    dns, https, ca_file = serve(request)
    code, report, _ = cli(dns, https, ca_file, "--protocol", "tcp")
    assert code == 0 and report["protocol"] == "tcp" and "tls" not in report, report
    assert https.requests == []
    https.stop()
    code, report, _ = cli(dns, https, ca_file, "--protocol", "tcp")
    assert code == 1 and "TCP connect" in report["reason"], report


def test_udp_checks_dns_alone_and_connects_to_nothing(request):
    # A UDP service (PrivateLink carries UDP) is checked by its name: nothing listens here, and
    # nothing is connected to, yet the check passes while the name resolves as expected.
    dns, https, ca_file = serve(request)
    https.stop()
    expected = ["--expect-ip", "127.0.0.2", "--expect-ip", "127.0.0.3"]
    code, report, _ = cli(dns, https, ca_file, "--protocol", "udp", *expected)
    assert code == 0 and report["ok"] and report["protocol"] == "udp", report
    assert report["addresses"] == [] and not {"tcp", "tls", "https"} & set(report), report
    dns.records[NAME] = ["127.0.0.2", "127.0.0.9"]
    code, report, _ = cli(dns, https, ca_file, "--protocol", "udp", *expected)
    assert code == 1 and "127.0.0.9" in report["reason"], report
    code, _, output = cli(dns, https, ca_file, "--protocol", "udp", "--min-tls", "1.3")
    assert code == 2 and "TLS options" in output, output


def test_http_options_with_another_protocol_are_a_usage_error(request):
    dns, https, ca_file = serve(request)
    code, _, output = cli(dns, https, ca_file, "--protocol", "tcp", "--method", "POST")
    assert code == 2 and "HTTP options" in output


# --------------------------------------------------------------------------- #
# The request
# --------------------------------------------------------------------------- #


def test_method_and_headers_are_sent_and_a_headers_value_is_never_printed(request):
    dns, https, ca_file = serve(request)
    code, report, output = cli(dns, https, ca_file, "--method", "post", "--header", "X-Api-Key: s3cret-value",
                               fmt="text")
    assert code == 0, output
    sent = https.requests[0]
    assert sent.method == "POST" and sent.headers["x-api-key"] == "s3cret-value"
    assert "s3cret-value" not in output
    code, _, output = cli(dns, https, ca_file, "--header", "Bad Header: s3cret-value")
    assert code == 2 and "s3cret-value" not in output


def test_the_body_must_hold_the_expected_text_or_match_the_expression(request):
    dns, https, ca_file = serve(request)
    https.body = b'{"status": "ok", "version": 7}'
    assert cli(dns, https, ca_file, "--expect-body", '"status": "ok"')[0] == 0
    assert cli(dns, https, ca_file, "--expect-body", r'regex:"version": \d+')[0] == 0
    code, report, _ = cli(dns, https, ca_file, "--expect-body", "regex:^down")
    assert code == 1 and 'does not hold "regex:^down"' in report["reason"], report


def test_a_pattern_whose_work_has_no_bound_is_refused_and_the_costliest_allowed_one_stays_in_time(
        request, lambda_function, cfn):
    dns, https, ca_file = serve(request)
    # ((a{50}){50}){20}b is 50,000 states: over a 64 KB body it ran minutes past every timeout.
    code, _, output = cli(dns, https, ca_file, "--expect-body", "regex:((a{50}){50}){20}b")
    assert code == 2 and "more than the 16 KiB a pattern may take" in output, output
    gate = lambda_function("privatelink-validator", env={"VALIDATOR_ENDPOINT_CHECKS": "false",
                                                        "VALIDATOR_CA_PEM": https.ca_pem})
    event, key = cfn.create_event("Custom::PrivateLinkValidation", "Validation",
                                  target(dns, https, ExpectBody="regex:((a{50}){50}){20}b"))
    assert gate.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED" and "16 KiB" in answer["Reason"], answer
    # The costliest pattern within the limit, over a whole 64 KB body: the check still ends
    # within its time, matched or not, and the gate answers.
    https.body = b"a" * 64 * 1024
    event, key = cfn.create_event("Custom::PrivateLinkValidation", "Validation",
                                  target(dns, https, ExpectBody="regex:(?:a*){225}b",
                                         TimeoutSeconds=5, RetryIntervalSeconds=1))
    assert gate.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED", answer
    reason = answer["Reason"]
    # Which of the bounds ends it depends on the build's speed (a debug build matches slower).
    assert any(why in reason for why in ('does not hold "regex:(?:a*){225}b"', "did not finish within",
                                         "still running when TimeoutSeconds (5 s) ran out")), reason


def test_a_server_below_the_lowest_tls_version_fails(request):
    dns, https, ca_file = serve(request, max_tls="1.2")
    code, report, _ = cli(dns, https, ca_file)
    assert code == 0 and {a["tls_version"] for a in report["addresses"]} == {"TLSv1_2"}, report
    code, report, _ = cli(dns, https, ca_file, "--min-tls", "1.3")
    assert code == 1 and "TLS handshake" in report["reason"], report


def test_a_partner_requiring_a_client_certificate_is_checked_with_one(request, tmp_path):
    clients = trustme.CA()
    dns, https, ca_file = serve(request, client_ca=clients)
    code, report, _ = cli(dns, https, ca_file)
    assert code == 1, report  # refused without one
    identity = tmp_path / "client.pem"
    identity.write_bytes(clients.issue_cert("validator@consumer.example").private_key_and_cert_chain_pem.bytes())
    code, report, _ = cli(dns, https, ca_file, "--client-cert", str(identity))
    assert code == 0, report


def put_secret(emulator, store: str, name: str, value: str) -> str:
    """Keeps `value` as a SecureString `/<name>` or a Secrets Manager secret `<name>`; returns
    the name a target gives (the secret through Parameter Store's reference path)."""
    if store == "parameter store":
        emulator.client("ssm").put_parameter(Name=f"/{name}", Value=value, Type="SecureString",
                                                       Overwrite=True)
        return f"/{name}"
    secrets = emulator.client("secretsmanager")
    try:
        secrets.create_secret(Name=name, SecretString=value)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=name, SecretString=value)
    return f"/aws/reference/secretsmanager/{name}"


@pytest.mark.parametrize("store", ["parameter store", "secrets manager"])
def test_the_lambda_reads_its_client_certificate_from_where_the_stack_grants(request, lambda_function, emulator, store):
    clients = trustme.CA()
    dns, https, _ = serve(request, client_ca=clients)
    pem = clients.issue_cert("validator@consumer.example").private_key_and_cert_chain_pem.bytes().decode()
    # The names the validator stack's ClientCertParameter and ClientCertSecretName grant
    # (test_contracts.py judges the calls against them).
    name = put_secret(emulator, store, "privatelink/client-certificate", pem)
    fn = lambda_function("privatelink-validator", env={"VALIDATOR_CA_PEM": https.ca_pem})
    target = {"Name": NAME, "Port": str(https.port), "Resolver": dns.address, "ClientCert": name}
    invocation = fn.invoke({"Targets": [target]})
    assert invocation.kind == "response" and invocation.body["ok"] is True, invocation.body
    assert pem.split("-----BEGIN")[1] not in "\n".join(invocation.logs)  # the key is never logged


@pytest.mark.parametrize("store", ["parameter store", "secrets manager"])
def test_secret_headers_are_read_from_where_the_stack_grants_and_never_shown(request, lambda_function, emulator,
                                                                              cfn, store):
    dns, https, _ = serve(request)
    secret_value = "Bearer t0ken-" + uuid.uuid4().hex
    headers = json.dumps({"Authorization": secret_value, "X-Tenant": "consumer-1"})
    # The names the validator stack's HeadersParameter and HeadersSecretName grant
    # (test_contracts.py judges the calls against them).
    name = put_secret(emulator, store, "privatelink/partner-headers", headers)
    # At DEBUG, the most the functions log (TRACE is logged as DEBUG): still no value.
    fn = lambda_function("privatelink-validator", env={"VALIDATOR_CA_PEM": https.ca_pem,
                                                       "AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    # A plain header of the same name gives way to the secret's.
    target = {"Name": NAME, "Port": str(https.port), "Resolver": dns.address, "HeadersParameter": name,
              "Headers": {"Authorization": "plain", "Accept": "application/json"}}
    invocation = fn.invoke({"Targets": [target]})
    assert invocation.kind == "response" and invocation.body["ok"] is True, invocation.body
    sent = https.requests[0].headers
    assert sent["authorization"] == secret_value and sent["x-tenant"] == "consumer-1"
    assert sent["accept"] == "application/json"
    assert secret_value not in "\n".join(invocation.logs) + json.dumps(invocation.body)
    # The gate too.
    gate = {"ServiceToken": "arn", "TimeoutSeconds": "2", "RetryIntervalSeconds": "1", **target}
    event, key = cfn.create_event("Custom::PrivateLinkValidation", "Gate", gate, stack_id())
    gated = fn.invoke(event)
    assert gated.kind == "response" and cfn.answer(key)["Status"] == "SUCCESS"
    assert secret_value not in "\n".join(gated.logs) + json.dumps(cfn.answer(key))
    if store != "parameter store":
        return
    # A secret that can't be used fails naming it and the header, never a value (read by a new
    # execution environment: each reads a secret once).
    put_secret(emulator, store, "privatelink/partner-headers", '{"Authorization": 4242}')
    fresh = lambda_function("privatelink-validator", env={"VALIDATOR_CA_PEM": https.ca_pem})
    event, key = cfn.create_event("Custom::PrivateLinkValidation", "Gate", gate, stack_id())
    assert fresh.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED", answer
    assert ('the headers of HeadersParameter "/privatelink/partner-headers" can\'t be used: '
            'the value of "Authorization" is not a string') in answer["Reason"], answer
    assert "4242" not in answer["Reason"]


# --------------------------------------------------------------------------- #
# Every zone, drift and the retry: an endpoint made by privatelink-endpoint
# --------------------------------------------------------------------------- #


@pytest.fixture
def loopback_vpc(ec2) -> dict[str, Any]:
    vpc_id = ec2.create_vpc(CidrBlock="127.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnets = {
        az: ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"127.0.{i}.0/24",
                              AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab", start=1)
    }
    return {"vpc_id": vpc_id, "subnets": subnets}


class Fleet:
    """An endpoint made by the real endpoint function, the partner behind its interfaces, DNS
    for its name and each zone's name, and the validator Lambda."""

    def __init__(self, request, lambda_function, cfn, ec2, provider, vpc):
        service = provider()
        endpoint_fn = lambda_function("privatelink-endpoint")
        self.stack = stack_id()
        event, key = cfn.create_event("Custom::PrivateLinkEndpoint", "Endpoint", {
            "ServiceName": service.service_name, "VpcId": vpc["vpc_id"],
            "SubnetIds": [vpc["subnets"]["a"], vpc["subnets"]["b"]]}, self.stack)
        assert endpoint_fn.invoke(event).kind == "response"
        answer = cfn.answer(key)
        assert answer["Status"] == "SUCCESS", answer
        self.ec2, self.service, self.subnets = ec2, service, vpc["subnets"]
        self.endpoint_id = answer["PhysicalResourceId"]
        described = ec2.describe_vpc_endpoints(VpcEndpointIds=[self.endpoint_id])["VpcEndpoints"][0]
        enis = ec2.describe_network_interfaces(NetworkInterfaceIds=described["NetworkInterfaceIds"])["NetworkInterfaces"]
        self.by_zone = {e["AvailabilityZone"]: e["PrivateIpAddress"] for e in enis}
        self.zonal_names = zonal_dns_names(described["DnsEntries"])
        assert set(self.zonal_names) == set(self.by_zone), (self.zonal_names, self.by_zone)
        addresses = list(self.by_zone.values())
        self.https = PartnerHttps(addresses, [NAME])
        records = {NAME: addresses}
        records.update({name: [self.by_zone[zone]] for zone, name in self.zonal_names.items()})
        self.dns = PartnerDns(records)
        request.addfinalizer(self.https.stop)
        request.addfinalizer(self.dns.stop)
        self.validator = lambda_function("privatelink-validator", env={
            "VALIDATOR_CA_PEM": self.https.ca_pem, "VALIDATOR_RESOLVER": self.dns.address})

    def run(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        target = {"Name": NAME, "EndpointId": self.endpoint_id, "Port": str(self.https.port),
                  "TimeoutMs": "3000"}
        invocation = self.validator.invoke({"Targets": [target]})
        assert invocation.kind == "response", invocation.body
        [report] = invocation.body["targets"]
        return report, emf_lines(invocation.logs)


@pytest.fixture
def fleet(request, lambda_function, cfn, ec2, provider, loopback_vpc) -> Fleet:
    return Fleet(request, lambda_function, cfn, ec2, provider, loopback_vpc)


def test_every_zone_is_checked_by_its_own_name_and_reported_with_metrics(fleet):
    report, lines = fleet.run()
    assert report["ok"] is True, report
    assert [z["zone"] for z in report["zones"]] == ["us-east-1a", "us-east-1b"]
    assert all(z["ok"] and z["dns"]["ok"] for z in report["zones"])
    assert {a["zone"] for a in report["addresses"]} == {"us-east-1a", "us-east-1b"}
    target_line, *zone_lines = lines
    assert target_line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Name", "EndpointId"], []]
    assert target_line["DriftDetected"] == 0
    assert [line["Zone"] for line in zone_lines] == ["us-east-1a", "us-east-1b"]
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Name", "EndpointId", "Zone"]]
               for line in zone_lines)
    assert all(line["Success"] == 1 for line in zone_lines)


def test_one_broken_zone_fails_alone_while_the_other_passes(fleet):
    # Zone b's interface stops answering; its zonal name still points at it.
    broken = fleet.by_zone["us-east-1b"]
    fleet.https.stop(broken)
    report, lines = fleet.run()
    assert report["ok"] is False
    zones = {z["zone"]: z for z in report["zones"]}
    assert zones["us-east-1a"]["ok"] is True, zones
    assert zones["us-east-1b"]["ok"] is False and broken in zones["us-east-1b"]["reason"], zones
    by_zone = {line["Zone"]: line["Success"] for line in lines[1:]}
    assert by_zone == {"us-east-1a": 1, "us-east-1b": 0}


def test_a_zonal_name_pointing_elsewhere_fails_that_zone(fleet):
    fleet.dns.records[fleet.zonal_names["us-east-1a"].lower()] = [fleet.by_zone["us-east-1b"]]
    report, _ = fleet.run()
    zones = {z["zone"]: z for z in report["zones"]}
    assert zones["us-east-1a"]["ok"] is False and "outside" in zones["us-east-1a"]["reason"], zones
    assert zones["us-east-1b"]["ok"] is True


@pytest.mark.parametrize("drift, said", [
    ("rejected", "the provider rejected (or closed) the connection"),
    ("private-dns-off", "was switched off (it was made with it on)"),
    ("zone-removed", "has no interface in us-east-1b (it was made with us-east-1a, us-east-1b)"),
])
def test_drift_of_the_endpoint_is_a_failed_check_with_its_reason(fleet, drift, said):
    if drift == "rejected":
        fleet.ec2.reject_vpc_endpoint_connections(ServiceId=fleet.service.service_id,
                                                  VpcEndpointIds=[fleet.endpoint_id])
    elif drift == "private-dns-off":
        fleet.ec2.modify_vpc_endpoint(VpcEndpointId=fleet.endpoint_id, PrivateDnsEnabled=False)
    else:
        # Someone removed a subnet by hand (the console's "Manage subnets").
        fleet.ec2.modify_vpc_endpoint(VpcEndpointId=fleet.endpoint_id, RemoveSubnetIds=[fleet.subnets["b"]])
    report, lines = fleet.run()
    assert report["ok"] is False
    assert any(said in d for d in report["drift"]), report["drift"]
    assert said in report["reason"], report["reason"]
    assert lines[0]["DriftDetected"] == 1


def test_a_failed_scheduled_check_is_retried_once_and_says_so(fleet):
    fleet.https.fail_next = 2  # one address's first answer, then passes... the retry sees 200
    report, lines = fleet.run()
    assert report["ok"] is True and report["retried"] is True, report
    assert lines[0]["Retried"] is True
    fleet.https.fail_next = 10
    report, _ = fleet.run()
    assert report["ok"] is False and report["retried"] is True
    assert "answered 503" in report["reason"]
