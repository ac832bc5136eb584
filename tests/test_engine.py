"""The custom-resource engine, black-box, through the real `privatelink-security-group` binary
(the cheapest resource to drive): exactly one answer per event, whatever happens.

A panic inside a handler can't be provoked from outside a correct binary; the engine's unit
test `a_panic_in_a_handler_is_answered_failed` covers it with a handler that panics."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
import time
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
import trustme

from tests.harness import VERSION
from tests.harness.cfn import stack_id

TYPE = "Custom::PrivateLinkSecurityGroup"


@pytest.fixture
def fn(lambda_function):
    return lambda_function("privatelink-security-group")


def answer_path(cfn, key: str) -> str:
    return f"/{cfn.bucket}/{key}"


def test_malformed_events_are_rejected_and_the_next_event_is_served_by_the_same_process(
        fn, cfn, consumer_vpc):
    no_url, _ = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    del no_url["ResponseURL"]
    for malformed in (b"not json", [1, 2, 3], "Create", {"RequestType": "Create"}, no_url):
        invocation = fn.invoke(malformed)
        assert invocation.kind == "error", (malformed, invocation.kind, invocation.body)
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    assert fn.invoke(event).kind == "response"
    assert cfn.answer(key)["Status"] == "SUCCESS"
    assert fn.starts == 1  # never crashed


def test_an_unknown_request_type_is_answered_failed(fn, cfn, consumer_vpc):
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    event["RequestType"] = "Upgrade"
    assert fn.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    assert 'unknown RequestType "Upgrade"' in answer["Reason"]


def test_a_response_url_that_is_not_s3_is_refused_before_any_work(fn, cfn, emulator, consumer_vpc):
    event, _ = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    # A signature no generated id can contain (a request id's hex once held "abc" by chance).
    signature = "NotInAnyIdSignature"
    for url in (f"https://attacker.example.com/collect?X-Amz-Signature={signature}",
                "http://10.0.0.5/bucket/key"):
        event["ResponseURL"] = url
        emulator.clear_calls()
        invocation = fn.invoke(event)
        assert invocation.kind == "error"
        assert "MalformedEvent" in json.dumps(invocation.body)
        assert not [c for c in emulator.calls() if c["service"] == "ec2"]
        assert not any(signature in line for line in invocation.logs)


def test_the_deadline_is_answered_failed_before_the_invocation_ends(fn, cfn, emulator, consumer_vpc):
    emulator.add_fault("DescribeVpcs", "", delay_seconds=30)  # an EC2 call that hangs
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    invocation = fn.invoke(event, deadline_s=8, timeout_s=30)
    assert invocation.kind == "response", (invocation.kind, invocation.body)
    assert invocation.duration_s < 8
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("Timed out"), answer["Reason"]
    # Its calls may still complete: the rollback's Delete will look for what they make.
    assert answer["PhysicalResourceId"].startswith("privatelink-interrupted-create-")


def test_a_failed_answer_upload_is_retried(fn, cfn, emulator, consumer_vpc):
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    emulator.add_fault(f"PUT {answer_path(cfn, key)}", "SlowDown", status=503, count=2, service="s3")
    assert fn.invoke(event).kind == "response"
    assert cfn.answer(key)["Status"] == "SUCCESS"
    puts = [c for c in emulator.calls() if c["action"] == f"PUT {answer_path(cfn, key)}"]
    assert len(puts) == 3


def test_an_answer_that_cannot_be_delivered_is_reported_to_lambda_so_it_retries(fn, cfn, emulator, consumer_vpc):
    stack = stack_id()
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id}, stack)
    emulator.add_fault(f"PUT {answer_path(cfn, key)}", "InternalError", status=500, count=100, service="s3")
    invocation = fn.invoke(event)
    assert invocation.kind == "error"
    assert invocation.body["errorType"] == "AnswerNotDelivered", invocation.body
    assert cfn.answers(key) == []
    # One line after the last attempt, as the functions stack's AnswersNotDelivered metric filter
    # counts it (every attempt before it is a warning of its own).
    messages = [json.loads(line).get("fields", {}).get("message") for line in invocation.logs if line.startswith("{")]
    assert messages.count("answer not delivered") == 1, messages
    assert messages.count("answer attempt failed") >= 2, messages
    assert [line["Outcome"] for line in emf_lines(invocation.logs)] == ["NOT_DELIVERED"]
    # Lambda's retry of the event answers, and makes nothing twice.
    emulator.clear_faults()
    assert fn.invoke(event).kind == "response"
    first = cfn.answer(key)
    assert first["Status"] == "SUCCESS"


def test_logs_are_json_lines_with_the_request_and_never_the_signed_url(fn, cfn, consumer_vpc):
    stack = stack_id()
    event, _ = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id}, stack)
    signature = dict(p.split("=", 1) for p in urlsplit(event["ResponseURL"]).query.split("&"))["X-Amz-Signature"]
    invocation = fn.invoke(event)
    lines = [json.loads(line) for line in invocation.logs if line.startswith("{")]
    assert lines, invocation.logs
    answered = [line for line in lines if line.get("fields", {}).get("message") == "answered CloudFormation"]
    assert len(answered) == 1, lines
    span: dict[str, Any] = answered[0]["span"]
    assert span["request_id"] == event["RequestId"]
    assert span["stack_id"] == stack
    assert span["logical_id"] == "Sg"
    assert answered[0]["fields"]["physical_id"].startswith("sg-")
    assert not any(signature in line for line in invocation.logs)


def emf_lines(logs: list[str]) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in logs if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


def test_each_event_ends_with_one_metric_line_by_type_operation_and_outcome(fn, cfn, consumer_vpc):
    # CloudWatch's embedded metric format: the functions' own metrics, read from their logs.
    ended = []
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    ended.append(fn.invoke(event))
    group = cfn.answer(key)["PhysicalResourceId"]
    bad, _ = cfn.create_event(TYPE, "Bad", {"VpcId": consumer_vpc.vpc_id, "Ports": ["99999"]})
    ended.append(fn.invoke(bad))
    delete, _ = cfn.delete_event(TYPE, "Sg", group, {"VpcId": consumer_vpc.vpc_id}, event["StackId"])
    ended.append(fn.invoke(delete))
    seen = []
    for invocation in ended:
        (line,) = emf_lines(invocation.logs)
        directive = line["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "PrivateLink/Functions"
        assert ["ResourceType", "Operation", "Outcome"] in directive["Dimensions"]
        assert line["Events"] == 1 and line["DurationMs"] >= 0
        seen.append((line["ResourceType"], line["Operation"], line["Outcome"]))
    assert seen == [(TYPE, "Create", "SUCCESS"), (TYPE, "Create", "FAILED"), (TYPE, "Delete", "SUCCESS")]


@pytest.mark.parametrize("name", ["privatelink-security-group", "privatelink-endpoint",
                                  "privatelink-acceptance-waiter", "privatelink-validator"])
def test_the_first_log_line_names_the_function_and_its_version(lambda_function, name):
    function = lambda_function(name, {"AWS_LAMBDA_FUNCTION_NAME": name})
    # Logged with the first event (at start it would cost the cold start): any event will do.
    function.invoke({})
    first = json.loads(next(line for line in function.logs if line.startswith("{")))
    assert first["fields"]["version"] == VERSION, first
    assert first["fields"]["function"] == name
    assert first["fields"]["message"] == f"privatelink-lambdas {VERSION}"


@pytest.mark.parametrize("variable", ["RUST_LOG", "AWS_LAMBDA_LOG_LEVEL"])
def test_even_at_trace_no_raw_event_and_no_signed_url_is_logged(lambda_function, cfn, consumer_vpc, variable):
    # At TRACE the Lambda runtime logs each raw event: its ResponseURL answers for the stack.
    fn = lambda_function("privatelink-security-group", {variable: "trace"})
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id,
                                               "Tags": [{"Key": "api-key", "Value": "s3cret-value"}]})
    signature = dict(p.split("=", 1) for p in urlsplit(event["ResponseURL"]).query.split("&"))["X-Amz-Signature"]
    invocation = fn.invoke(event)
    assert invocation.kind == "response"
    assert cfn.answer(key)["Status"] == "SUCCESS"
    assert any('"level":"DEBUG"' in line for line in invocation.logs), invocation.logs[:5]
    assert not any("raw JSON event" in line for line in invocation.logs)
    assert not any(signature in line or "s3cret-value" in line for line in invocation.logs)


def test_a_redirect_is_a_failed_delivery_never_followed(fn, cfn, emulator, consumer_vpc):
    # A pre-signed URL is answered where it points: following a redirect would carry the answer
    # (and the resource's attributes) elsewhere.
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    path = answer_path(cfn, key)
    elsewhere = path.rsplit("/", 1)[0] + "/elsewhere"
    emulator.add_fault(f"PUT {path}", "TemporaryRedirect", status=307, count=100, service="s3",
                       location=f"{emulator.url}{elsewhere}")
    emulator.clear_calls()
    invocation = fn.invoke(event)
    assert invocation.kind == "error" and invocation.body["errorType"] == "AnswerNotDelivered", invocation.body
    assert "HTTP 307" in invocation.body["errorMessage"]
    puts = [c["action"] for c in emulator.calls() if c["action"].startswith("PUT ")]
    assert puts == [f"PUT {path}"]  # once: a redirect will not change on a retry, and is not followed


def test_answer_delivery_stops_at_the_invocations_deadline(fn, cfn, emulator, consumer_vpc):
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    emulator.add_fault(f"PUT {answer_path(cfn, key)}", "", count=100, service="s3", delay_seconds=20)
    invocation = fn.invoke(event, deadline_s=8, timeout_s=40)
    assert invocation.kind == "error", invocation.body
    assert invocation.duration_s < 8.5, invocation.duration_s


@pytest.mark.parametrize("deadline_ms", [600_000, 0], ids=["cargo-lambda-watch-duration", "zero"])
def test_a_deadline_a_local_runtime_api_sends_is_no_instant_timeout(fn, cfn, consumer_vpc, deadline_ms):
    # cargo lambda watch sends the timeout as a duration, other local tools send 0: both are
    # a deadline in the past, which means the default budget (with a warning), not "Timed out".
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    invocation = fn.invoke(event, deadline_ms=deadline_ms)
    assert invocation.kind == "response", invocation.body
    assert cfn.answer(key)["Status"] == "SUCCESS"
    assert any("using the default budget" in line for line in invocation.logs)


def test_properties_nested_past_the_parsers_limit_are_still_answered(fn, cfn, consumer_vpc):
    # serde_json reads at most 128 levels: read whole, such an event never reached the engine
    # and CloudFormation waited for an answer that never came.
    deep: Any = "x"
    for _ in range(300):
        deep = [deep]
    stack = stack_id()
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id, "Tags": deep}, stack)
    invocation = fn.invoke(event)
    assert invocation.kind == "response", invocation.body
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    assert "ResourceProperties nested deeper than the 128 levels" in answer["Reason"], answer["Reason"]
    # The rollback's Delete carries the same properties: it must succeed.
    event, key = cfn.delete_event(TYPE, "Sg", answer["PhysicalResourceId"], {"Tags": deep}, stack)
    assert fn.invoke(event).kind == "response"
    assert cfn.answer(key)["Status"] == "SUCCESS"


def test_an_event_for_a_stack_that_is_not_waiting_is_refused_and_touches_nothing(fn, cfn, emulator, consumer_vpc):
    # Anyone allowed to invoke the function can hand-craft an event naming another stack.
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    event["StackId"] = stack_id("someone-elses")
    emulator.clear_calls()
    assert fn.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    assert f"CloudFormation is not waiting for this Create of Sg of {event['StackId']}" in answer["Reason"], answer["Reason"]
    assert not [c for c in emulator.calls() if c["service"] == "ec2"]


def test_an_event_delivered_again_after_its_operation_ended_changes_nothing_and_answers_nothing(
        fn, cfn, emulator, consumer_vpc):
    event, key = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    assert fn.invoke(event).kind == "response"
    assert cfn.answer(key)["Status"] == "SUCCESS"
    emulator.clear_calls()
    invocation = fn.invoke(event)  # Lambda's retry, after CloudFormation moved on
    assert invocation.kind == "response" and invocation.body["Status"] == "ALREADY_OVER", invocation.body
    # The stored SUCCESS is the only answer: a FAILED over it would be what CloudFormation reads
    # if it reads late.
    assert cfn.answer(key)["Status"] == "SUCCESS"
    assert not [c for c in emulator.calls() if c["service"] == "ec2"]


class _AnswerStore(http.server.BaseHTTPRequestHandler):
    """An HTTPS stand-in for S3's pre-signed PUT: keeps each answer."""

    def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.answers.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def https_answer_store(tmp_path) -> Iterator[tuple[http.server.ThreadingHTTPServer, str]]:
    """An HTTPS server on loopback with a certificate from a CA of its own; the CA's PEM file."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AnswerStore)
    server.answers = []  # type: ignore[attr-defined]
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield server, str(ca_file)
    server.shutdown()


def test_the_answer_is_sent_over_tls_only_to_a_certificate_the_system_trusts(
        lambda_function, cfn, consumer_vpc, https_answer_store):
    server, ca_file = https_answer_store
    url = f"https://127.0.0.1:{server.server_address[1]}/bucket/answer?X-Amz-Signature=abc"
    # SSL_CERT_FILE is where the system's roots are read from (as OpenSSL reads it).
    trusting = lambda_function("privatelink-security-group", {"SSL_CERT_FILE": ca_file})
    event, _ = cfn.create_event(TYPE, "Sg", {"VpcId": consumer_vpc.vpc_id})
    event["ResponseURL"] = url
    assert trusting.invoke(event).kind == "response"
    assert [a["Status"] for a in server.answers] == ["SUCCESS"]
    # The same server, its CA unknown to the function: no answer leaves, Lambda is told.
    distrusting = lambda_function("privatelink-security-group")
    event, _ = cfn.create_event(TYPE, "Sg2", {"VpcId": consumer_vpc.vpc_id})
    event["ResponseURL"] = url
    invocation = distrusting.invoke(event)
    assert invocation.kind == "error"
    assert invocation.body["errorType"] == "AnswerNotDelivered", invocation.body
    assert len(server.answers) == 1
