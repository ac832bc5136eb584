"""The acceptance loop, black-box: `privatelink-endpoint` hands the wait over to a Step Functions
execution of `templates/acceptance-waiter.asl.json` (moto serves the Step Functions API but does
not run executions, so `run_loop` runs the definition itself, calling the real
`privatelink-acceptance-waiter` binary for each Check: a loop that ends here proves the
definition reads the fields the waiter writes). The tests play the provider through
Accept/RejectVpcEndpointConnections (added to moto by the emulator)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import boto3
import pytest

from tests.harness.cfn import stack_id
from tests.harness.stepfunctions import (create_state_machine, execution_history, load_definition, run_loop,
                                         sleep_endings)

TYPE = "Custom::PrivateLinkEndpoint"


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return load_definition()


@pytest.fixture
def sfn(emulator):
    return boto3.client("stepfunctions", endpoint_url=emulator.url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def state_machine(sfn) -> str:
    return create_state_machine(sfn, f"acceptance-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def endpoint_fn(lambda_function, state_machine):
    return lambda_function("privatelink-endpoint", env={"ACCEPTANCE_STATE_MACHINE_ARN": state_machine})


@pytest.fixture
def waiter(lambda_function):
    return lambda_function("privatelink-acceptance-waiter")


def props(service, vpc, **extra: Any) -> dict[str, Any]:
    return {"ServiceName": service.service_name, "VpcId": vpc.vpc_id,
            "SubnetIds": [vpc.subnet("a"), vpc.subnet("b")], **extra}


# The endpoint function's ARN, as the functions stack subscribes it to its acceptance topic.
ENDPOINT_FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:privatelink-endpoint"


@pytest.fixture
def acceptance_topic(emulator) -> str:
    """The functions stack's AcceptanceTopic, with the endpoint function subscribed."""
    sns = boto3.client("sns", endpoint_url=emulator.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    topic = sns.create_topic(Name=f"acceptance-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=ENDPOINT_FUNCTION_ARN)
    return topic


@pytest.fixture
def woken_by_topic(lambda_function, emulator, state_machine, acceptance_topic):
    """`(endpoint_fn, notified_fn)`: the endpoint function as the functions stack deploys it
    (with the acceptance topic), and a second instance of it that the topic's subscription
    invokes (Lambda serves events concurrently, in more than one execution environment)."""
    env = {"ACCEPTANCE_STATE_MACHINE_ARN": state_machine, "ACCEPTANCE_TOPIC_ARN": acceptance_topic}
    endpoint_fn = lambda_function("privatelink-endpoint", env=env)
    notified_fn = lambda_function("privatelink-endpoint", env=env)
    emulator.register_function(ENDPOINT_FUNCTION_ARN, notified_fn)
    return endpoint_fn, notified_fn


def loop_notifications(ec2, endpoint_id: str) -> list[tuple[str, list[str]]]:
    found = ec2.describe_vpc_endpoint_connection_notifications(
        Filters=[{"Name": "vpc-endpoint-id", "Values": [endpoint_id]}])["ConnectionNotificationSet"]
    return [(n["ConnectionNotificationArn"], sorted(n["ConnectionEvents"])) for n in found]


def only_execution(sfn, state_machine: str) -> dict[str, Any]:
    executions = sfn.list_executions(stateMachineArn=state_machine)["executions"]
    assert len(executions) == 1, executions
    return sfn.describe_execution(executionArn=executions[0]["executionArn"])


def hand_off(endpoint_fn, cfn, sfn, state_machine, properties, stack=None):
    """A Create that the endpoint function hands to the loop: no answer yet, one execution."""
    event, key = cfn.create_event(TYPE, "Endpoint", properties, stack or stack_id())
    invocation = endpoint_fn.invoke(event)
    assert invocation.kind == "response", invocation.body
    assert invocation.body["Status"] == "HANDED_OFF", invocation.body
    assert cfn.answers(key) == []
    execution = only_execution(sfn, state_machine)
    return event, key, execution, json.loads(execution["input"])


def test_an_accepted_connection_gets_one_success_with_private_dns_switched_on(
        endpoint_fn, waiter, definition, cfn, sfn, ec2, state_machine, consumer_vpc, provider):
    service = provider(acceptance_required=True)
    _, key, execution, state = hand_off(endpoint_fn, cfn, sfn, state_machine, props(service, consumer_vpc))
    assert execution["status"] == "RUNNING"
    assert state["PollIntervalSeconds"] == 15 and state["TimeoutSeconds"] == 3300
    endpoint_id = state["VpcEndpointId"]
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["PrivateDnsEnabled"] is False

    def provider_accepts_after_three_polls(n: int, data: dict[str, Any]) -> None:
        if n == 3:
            assert cfn.answers(key) == [] and data["Done"] is False
            ec2.accept_vpc_endpoint_connections(ServiceId=service.service_id, VpcEndpointIds=[endpoint_id])

    final, checks = run_loop(definition, waiter, state, on_check=provider_accepts_after_three_polls)
    assert final["Done"] is True and checks > 3
    answer = cfn.answer(key)
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == endpoint_id
    assert answer["Data"]["State"] == "available"
    assert answer["Data"]["PrivateDnsName"] == "api.partner.com"
    assert len(answer["Data"]["PrivateIpAddresses"].split(",")) == 2
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["PrivateDnsEnabled"] is True


def test_a_rejected_connection_is_answered_failed_with_the_state(
        endpoint_fn, waiter, definition, cfn, sfn, ec2, state_machine, consumer_vpc, provider):
    service = provider(acceptance_required=True)
    _, key, _, state = hand_off(endpoint_fn, cfn, sfn, state_machine, props(service, consumer_vpc))

    def provider_rejects(n: int, data: dict[str, Any]) -> None:
        if n == 2:
            ec2.reject_vpc_endpoint_connections(ServiceId=service.service_id, VpcEndpointIds=[state["VpcEndpointId"]])

    final, _ = run_loop(definition, waiter, state, on_check=provider_rejects)
    assert final["Done"] is True
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    assert f"VPC endpoint {state['VpcEndpointId']} is rejected" in answer["Reason"], answer["Reason"]
    # The failure keeps the endpoint's id, so the rollback's Delete removes it.
    assert answer["PhysicalResourceId"] == state["VpcEndpointId"]


def test_a_provider_that_never_accepts_is_answered_failed_after_the_timeout_saying_whom_to_ask(
        endpoint_fn, waiter, definition, cfn, sfn, state_machine, consumer_vpc, provider):
    service = provider(acceptance_required=True)
    properties = props(service, consumer_vpc, AcceptanceTimeoutSeconds=2, AcceptancePollIntervalSeconds=1)
    _, key, _, state = hand_off(endpoint_fn, cfn, sfn, state_machine, properties)
    assert state["TimeoutSeconds"] == 2 and state["PollIntervalSeconds"] == 1
    final, checks = run_loop(definition, waiter, state, max_wait_s=1.0)
    assert final["Done"] is True and checks >= 2
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    reason = answer["Reason"]
    assert state["VpcEndpointId"] in reason and service.service_name in reason, reason
    assert "ask the provider to accept" in reason, reason


def test_the_timeout_never_passes_a_service_timeout_given_on_the_resource(
        endpoint_fn, cfn, sfn, state_machine, consumer_vpc, provider):
    service = provider(acceptance_required=True)
    properties = props(service, consumer_vpc, ServiceTimeout=600)
    _, _, _, state = hand_off(endpoint_fn, cfn, sfn, state_machine, properties)
    assert state["TimeoutSeconds"] == 540


def test_a_redelivered_create_starts_no_second_loop(endpoint_fn, cfn, sfn, state_machine, consumer_vpc, provider):
    service = provider(acceptance_required=True)
    event, key, _, _ = hand_off(endpoint_fn, cfn, sfn, state_machine, props(service, consumer_vpc))
    again = endpoint_fn.invoke(event)
    assert again.kind == "response" and again.body["Status"] == "HANDED_OFF", again.body
    assert only_execution(sfn, state_machine)["status"] == "RUNNING"
    assert cfn.answers(key) == []


# The functions stack's NotificationTopicArn (test_contracts.py judges the role with this topic).
NOTIFICATION_TOPIC = "privatelink-notifications"


def test_the_partner_is_told_once_which_endpoint_to_accept(
        lambda_function, emulator, cfn, sfn, state_machine, consumer_vpc, provider):
    client = lambda name: boto3.client(name, endpoint_url=emulator.url, region_name="us-east-1",  # noqa: E731
                                       aws_access_key_id="testing", aws_secret_access_key="testing")
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name=NOTIFICATION_TOPIC)["TopicArn"]
    queue = sqs.create_queue(QueueName=f"told-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    endpoint_fn = lambda_function("privatelink-endpoint", env={
        "ACCEPTANCE_STATE_MACHINE_ARN": state_machine, "NOTIFICATION_TOPIC_ARN": topic})
    service = provider(acceptance_required=True)
    event, _, _, state = hand_off(endpoint_fn, cfn, sfn, state_machine, props(service, consumer_vpc))
    # Lambda's redelivery of the same event finds the loop started, and tells nobody again.
    again = endpoint_fn.invoke(event)
    assert again.body["Status"] == "HANDED_OFF", again.body
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert len(messages) == 1, messages
    told = json.loads(messages[0]["Body"])
    endpoint_id = state["VpcEndpointId"]
    assert told["Subject"] == f"Ask the partner to accept {endpoint_id}"
    first_line = told["Message"].splitlines()[0]
    for needed in (endpoint_id, "account 123456789012", service.service_name):
        assert needed in first_line, first_line
    assert f"--vpc-endpoint-ids {endpoint_id}" in told["Message"]
    # The log says the same, for whoever reads the function's logs instead.
    assert any(first_line.rstrip(".") in line for line in endpoint_fn.logs), endpoint_fn.logs[-5:]


def test_a_check_retried_after_the_answer_answers_nothing_more(
        endpoint_fn, waiter, definition, cfn, sfn, ec2, state_machine, consumer_vpc, provider):
    service = provider(acceptance_required=True)
    _, key, _, state = hand_off(endpoint_fn, cfn, sfn, state_machine, props(service, consumer_vpc))
    ec2.accept_vpc_endpoint_connections(ServiceId=service.service_id, VpcEndpointIds=[state["VpcEndpointId"]])
    inputs: list[dict[str, Any]] = []
    original = waiter.invoke

    def recording(payload, **kwargs):
        inputs.append(payload)
        return original(payload, **kwargs)

    waiter.invoke = recording
    run_loop(definition, waiter, state, max_wait_s=1.0)
    assert cfn.answer(key)["Status"] == "SUCCESS"
    # Step Functions retries the Check that answered (say its Lambda timed out after the PUT).
    retried = original(inputs[-1])
    assert retried.kind == "response" and retried.body["Done"] is True
    assert len(cfn.answers(key)) == 1


def test_without_waiting_the_create_succeeds_at_once_and_the_background_loop_switches_private_dns_on(
        endpoint_fn, waiter, definition, cfn, sfn, ec2, state_machine, consumer_vpc, provider):
    service = provider(acceptance_required=True)
    event, key = cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc, WaitForAcceptance=False))
    assert endpoint_fn.invoke(event).kind == "response"
    answer = cfn.answer(key)
    assert answer["Status"] == "SUCCESS", answer
    assert answer["Data"]["State"] == "pendingAcceptance"
    state = json.loads(only_execution(sfn, state_machine)["input"])
    assert "ResponseURL" not in state  # the background loop answers nobody
    assert state["PollIntervalSeconds"] == 360 and state["TimeoutSeconds"] == 7 * 24 * 3600
    endpoint_id = answer["PhysicalResourceId"]

    def provider_accepts(n: int, data: dict[str, Any]) -> None:
        if n == 2:
            ec2.accept_vpc_endpoint_connections(ServiceId=service.service_id, VpcEndpointIds=[endpoint_id])

    final, _ = run_loop(definition, waiter, state, on_check=provider_accepts, max_wait_s=0.5)
    assert final["Done"] is True
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["PrivateDnsEnabled"] is True
    assert len(cfn.answers(key)) == 1


def test_a_delete_while_waiting_stops_the_loop_and_removes_the_half_made_endpoint(
        endpoint_fn, waiter, definition, cfn, sfn, ec2, state_machine, consumer_vpc, provider):
    service = provider(acceptance_required=True)
    stack = stack_id()
    _, key, execution, state = hand_off(endpoint_fn, cfn, sfn, state_machine, props(service, consumer_vpc), stack)
    # The stack is cancelled: CloudFormation deletes with an id it made up.
    made_up = f"{stack.split('/')[1]}-Endpoint-ABCDEF123456"
    event, delete_key = cfn.delete_event(TYPE, "Endpoint", made_up, props(service, consumer_vpc), stack)
    assert endpoint_fn.invoke(event).kind == "response"
    assert cfn.answer(delete_key)["Status"] == "SUCCESS"
    assert sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "ABORTED"
    described = ec2.describe_vpc_endpoints(VpcEndpointIds=[state["VpcEndpointId"]])["VpcEndpoints"][0]
    assert described["State"].lower() == "deleted"
    # A Check already under way when the loop was stopped ends it without answering.
    final, _ = run_loop(definition, waiter, state)
    assert final["Done"] is True
    assert cfn.answers(key) == []


def test_checks_that_keep_failing_end_in_one_failed_answer(
        endpoint_fn, waiter, cfn, sfn, state_machine, consumer_vpc, provider, definition):
    service = provider(acceptance_required=True)
    _, key, _, state = hand_off(endpoint_fn, cfn, sfn, state_machine, props(service, consumer_vpc))
    catch = definition["States"]["Check"]["Catch"][0]
    assert catch["ResultPath"] == "$.Error" and definition["States"][catch["Next"]]["Type"] == "Task"
    # What the Catch hands to GiveUp: the state with the error added.
    failed = {**state, "Error": {"Error": "Lambda.Unknown", "Cause": "EC2 unreachable"}}
    result = waiter.invoke(failed)
    assert result.kind == "response" and result.body["Done"] is True
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    assert "EC2 unreachable" in answer["Reason"], answer["Reason"]
    assert waiter.invoke(failed).body["Done"] is True  # GiveUp retried: still one answer
    assert len(cfn.answers(key)) == 1


def test_the_execution_is_named_with_the_endpoint_id_to_give_the_provider(
        endpoint_fn, cfn, sfn, state_machine, consumer_vpc, provider):
    # CloudFormation shows no physical id while it waits: the execution list does.
    service = provider(acceptance_required=True)
    _, _, execution, state = hand_off(endpoint_fn, cfn, sfn, state_machine, props(service, consumer_vpc))
    assert state["VpcEndpointId"] in execution["name"]
    assert len(execution["name"]) <= 80


def test_a_background_loop_polls_no_more_often_than_its_history_allows(
        endpoint_fn, cfn, sfn, state_machine, consumer_vpc, provider):
    # Every 5 s for the default 7 days would be 120,960 checks: past the 25,000 history events
    # (about 13 a check) at which Step Functions ends an execution without a word.
    service = provider(acceptance_required=True)
    event, key = cfn.create_event(TYPE, "Endpoint", props(
        service, consumer_vpc, WaitForAcceptance="false", AcceptancePollIntervalSeconds="5"))
    assert endpoint_fn.invoke(event).kind == "response"
    assert cfn.answer(key)["Status"] == "SUCCESS"
    state = json.loads(only_execution(sfn, state_machine)["input"])
    assert state["TimeoutSeconds"] == 7 * 24 * 3600
    assert state["PollIntervalSeconds"] == 336  # 604,800 s / 1,800 checks


def test_the_waiter_acts_only_on_an_endpoint_of_the_resource_it_answers_for(
        waiter, cfn, ec2, emulator, consumer_vpc, provider):
    # The waiter's input can be hand-made: it must not switch Private DNS on for, nor answer a
    # stack with, an endpoint another resource (or nobody here) made.
    service = provider()
    foreign = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=consumer_vpc.vpc_id, ServiceName=service.service_name,
        SubnetIds=[consumer_vpc.subnet("a")], PrivateDnsEnabled=False)["VpcEndpoint"]["VpcEndpointId"]
    event, key = cfn.create_event(TYPE, "Endpoint", props(service, consumer_vpc))
    state = {"ResponseURL": event["ResponseURL"], "StackId": event["StackId"], "RequestId": event["RequestId"],
             "LogicalResourceId": "Endpoint", "VpcEndpointId": foreign, "ServiceName": service.service_name,
             "PrivateDnsEnabled": True, "PrivateDnsName": "api.partner.com", "TimeoutSeconds": 60,
             "PollIntervalSeconds": 1}
    emulator.clear_calls()
    invocation = waiter.invoke(state)
    assert invocation.kind == "response" and invocation.body["Done"] is True, invocation.body
    answer = cfn.answer(key)
    assert answer["Status"] == "FAILED"
    assert f"{foreign} is not one this resource made" in answer["Reason"], answer["Reason"]
    actions = [c["action"] for c in emulator.calls()]
    assert "ModifyVpcEndpoint" not in actions and "CreateTags" not in actions, actions


def test_the_loop_ends_without_answering_once_cloudformation_no_longer_waits(
        endpoint_fn, waiter, definition, cfn, sfn, ec2, state_machine, consumer_vpc, provider):
    # The stack was cancelled or timed out: switching Private DNS on would serve nobody.
    service = provider(acceptance_required=True)
    event, key, _, state = hand_off(endpoint_fn, cfn, sfn, state_machine, props(service, consumer_vpc))
    endpoint_id = state["VpcEndpointId"]
    ec2.accept_vpc_endpoint_connections(ServiceId=service.service_id, VpcEndpointIds=[endpoint_id])
    cfn.stops_waiting(event, "CREATE_FAILED")
    final, _ = run_loop(definition, waiter, state, max_wait_s=0.5)
    assert final["Done"] is True
    assert cfn.answers(key) == []
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["PrivateDnsEnabled"] is False


def test_the_providers_acceptance_wakes_the_loop_at_once_through_the_acceptance_topic(
        woken_by_topic, waiter, definition, cfn, sfn, ec2, emulator, state_machine, acceptance_topic,
        consumer_vpc, provider):
    endpoint_fn, notified_fn = woken_by_topic
    emulator.set_settings(pending_seconds=0)  # accepted endpoints are available at once here
    service = provider(acceptance_required=True)
    _, key, execution, state = hand_off(endpoint_fn, cfn, sfn, state_machine, props(service, consumer_vpc))
    endpoint_id = state["VpcEndpointId"]
    assert loop_notifications(ec2, endpoint_id) == [(acceptance_topic, ["Accept", "Reject"])]

    def provider_accepts_after_the_first_check(n: int, data: dict[str, Any]) -> None:
        if n == 1:
            assert data["Done"] is False and data["SleepSeconds"] == 15
            ec2.accept_vpc_endpoint_connections(ServiceId=service.service_id, VpcEndpointIds=[endpoint_id])

    # Sleeps last as long as the state says (15 s): only the wake ends one sooner.
    final, checks = run_loop(definition, waiter, state, on_check=provider_accepts_after_the_first_check,
                             max_wait_s=60, execution_arn=execution["executionArn"])
    assert final["Done"] is True and checks == 2
    # One Sleep, ended by its token (TaskSucceeded), not by its timeout (TaskTimedOut).
    assert sleep_endings(execution["executionArn"]) == ["woken"]
    assert any("woke the acceptance loop" in line for line in notified_fn.logs), notified_fn.logs
    # The token is a capability: never in a log line.
    tokens = [json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]["Sleep"]["TaskToken"]
              for e in execution_history(execution["executionArn"])
              if e.get("taskScheduledEventDetails", {}).get("resource") == "invoke.waitForTaskToken"]
    assert tokens and not any(t in line for t in tokens for line in waiter.logs + notified_fn.logs)
    answer = cfn.answer(key)
    assert answer["Status"] == "SUCCESS", answer
    assert answer["Data"]["State"] == "available"
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["PrivateDnsEnabled"] is True


def test_the_loops_notification_goes_with_the_endpoint_and_no_update_removes_it(
        woken_by_topic, cfn, sfn, ec2, state_machine, acceptance_topic, consumer_vpc, provider):
    endpoint_fn, notified_fn = woken_by_topic
    service = provider(acceptance_required=True)
    topic = "arn:aws:sns:us-east-1:123456789012:partner-connections"
    properties = props(service, consumer_vpc, WaitForAcceptance="false")
    event, key = cfn.create_event(TYPE, "Endpoint", properties)
    assert endpoint_fn.invoke(event).kind == "response"
    endpoint_id = cfn.answer(key)["PhysicalResourceId"]
    assert loop_notifications(ec2, endpoint_id) == [(acceptance_topic, ["Accept", "Reject"])]
    # The user's own topic comes and goes; the loop's notification stays.
    update, update_key = cfn.update_event(TYPE, "Endpoint", endpoint_id, {**properties, "ConnectionNotificationArn": topic},
                                          properties, event["StackId"])
    assert endpoint_fn.invoke(update).kind == "response"
    assert cfn.answer(update_key)["Status"] == "SUCCESS", cfn.answer(update_key)
    assert sorted(loop_notifications(ec2, endpoint_id)) == sorted([
        (acceptance_topic, ["Accept", "Reject"]), (topic, ["Accept", "Connect", "Delete", "Reject"])])
    back, back_key = cfn.update_event(TYPE, "Endpoint", endpoint_id, properties,
                                      {**properties, "ConnectionNotificationArn": topic}, event["StackId"])
    assert endpoint_fn.invoke(back).kind == "response"
    assert cfn.answer(back_key)["Status"] == "SUCCESS", cfn.answer(back_key)
    assert loop_notifications(ec2, endpoint_id) == [(acceptance_topic, ["Accept", "Reject"])]
    delete, delete_key = cfn.delete_event(TYPE, "Endpoint", endpoint_id, properties, event["StackId"])
    assert endpoint_fn.invoke(delete).kind == "response"
    assert cfn.answer(delete_key)["Status"] == "SUCCESS", cfn.answer(delete_key)
    assert loop_notifications(ec2, endpoint_id) == []


def forged_notification(topic: str, endpoint_id: str) -> dict[str, Any]:
    """An SNS event as the topic would deliver it, made by hand by anyone allowed to invoke."""
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": f"{topic}:forged",
        "Sns": {"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic, "Subject": None,
                "Message": json.dumps({"Event": "Accept", "VpcEndpointId": endpoint_id}),
                "Timestamp": "2026-12-07T00:00:00.000Z", "SignatureVersion": "1", "Signature": "EXAMPLE",
                "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/x.pem",
                "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                "MessageAttributes": {}},
    }]}


def test_notifications_that_change_nothing_wake_no_loop_and_the_providers_decision_still_does(
        woken_by_topic, waiter, definition, cfn, sfn, ec2, emulator, state_machine, acceptance_topic,
        consumer_vpc, provider):
    # Each wake ends a Sleep and costs the execution a round of history (about 13 events of its
    # 25,000): a flood of forged or repeated notifications must not spend it.
    endpoint_fn, notified_fn = woken_by_topic
    emulator.set_settings(pending_seconds=0)
    service = provider(acceptance_required=True)
    _, key, execution, state = hand_off(endpoint_fn, cfn, sfn, state_machine, props(service, consumer_vpc))
    endpoint_id = state["VpcEndpointId"]
    outcomes: list[Any] = []

    def forge_then_accept() -> None:
        time.sleep(1)  # the loop is in its first Sleep
        for _ in range(5):
            outcomes.append(endpoint_fn.invoke(forged_notification(acceptance_topic, endpoint_id)).body)
        ec2.accept_vpc_endpoint_connections(ServiceId=service.service_id, VpcEndpointIds=[endpoint_id])

    def after_check(n: int, data: dict[str, Any]) -> None:
        if n == 1:
            threading.Thread(target=forge_then_accept, daemon=True).start()

    final, checks = run_loop(definition, waiter, state, on_check=after_check, max_wait_s=60,
                             execution_arn=execution["executionArn"])
    assert outcomes == [{"Woken": 0}] * 5, outcomes
    assert final["Done"] is True and checks == 2
    assert sleep_endings(execution["executionArn"]) == ["woken"]  # by the provider's decision
    assert cfn.answer(key)["Status"] == "SUCCESS"


def test_events_forged_while_a_create_waits_for_acceptance_change_nothing_and_the_create_is_answered(
        endpoint_fn, waiter, definition, cfn, sfn, ec2, emulator, state_machine, consumer_vpc, provider):
    service = provider(acceptance_required=True)
    properties = props(service, consumer_vpc)
    event, key, execution, state = hand_off(endpoint_fn, cfn, sfn, state_machine, properties)
    endpoint_id = state["VpcEndpointId"]
    stack = event["StackId"]
    before = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]
    # The endpoint id is in the execution's name: anyone can name it in an Update or a Delete.
    deny_all = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]}
    for forged, forged_key in (
            cfn.update_event(TYPE, "Endpoint", endpoint_id, {**properties, "PolicyDocument": deny_all,
                                                             "SubnetIds": [consumer_vpc.subnet("c")]}, properties, stack),
            cfn.delete_event(TYPE, "Endpoint", endpoint_id, properties, stack)):
        cfn.shows(stack, "Endpoint", TYPE, "CREATE_IN_PROGRESS")  # CloudFormation still waits for the Create
        assert endpoint_fn.invoke(forged).kind == "response"
        answer = cfn.answer(forged_key)
        assert answer["Status"] == "FAILED" and "CloudFormation is not waiting for this" in answer["Reason"], answer
    after = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]
    assert (after["State"], after["SubnetIds"], after.get("PolicyDocument")) == (
        before["State"], before["SubnetIds"], before.get("PolicyDocument"))
    assert sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "RUNNING"
    # The real Create is still answered once the provider accepts.
    ec2.accept_vpc_endpoint_connections(ServiceId=service.service_id, VpcEndpointIds=[endpoint_id])
    final, _ = run_loop(definition, waiter, state, max_wait_s=0.5)
    assert final["Done"] is True
    assert cfn.answer(key)["Status"] == "SUCCESS"


def test_a_background_loop_acts_only_while_its_endpoint_is_the_stacks_resource(
        endpoint_fn, waiter, definition, cfn, sfn, ec2, state_machine, consumer_vpc, provider):
    # A background loop answers nobody, so it has no request to check: it goes on only while the
    # stack's resource is its endpoint, and switches Private DNS on only if that endpoint's own
    # Create asked for it (its made-with tag), whatever its input says.
    service = provider(acceptance_required=True)
    properties = props(service, consumer_vpc, WaitForAcceptance="false", PrivateDnsEnabled="false")
    event, key = cfn.create_event(TYPE, "Endpoint", properties)
    assert endpoint_fn.invoke(event).kind == "response"
    endpoint_id = cfn.answer(key)["PhysicalResourceId"]
    state = {"StackId": event["StackId"], "RequestId": "forged", "LogicalResourceId": "Endpoint",
             "VpcEndpointId": endpoint_id, "ServiceName": service.service_name, "PrivateDnsEnabled": True,
             "PrivateDnsName": "api.partner.com", "TimeoutSeconds": 600, "PollIntervalSeconds": 60}
    ec2.accept_vpc_endpoint_connections(ServiceId=service.service_id, VpcEndpointIds=[endpoint_id])
    final, _ = run_loop(definition, waiter, dict(state), max_wait_s=0.5)
    assert final["Done"] is True
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["PrivateDnsEnabled"] is False
    # Once the stack no longer has it (deleting it), the loop ends at its first Check.
    cfn.shows(event["StackId"], "Endpoint", TYPE, "DELETE_IN_PROGRESS", endpoint_id)
    final, checks = run_loop(definition, waiter, dict(state), max_wait_s=0.5)
    assert final["Done"] is True and checks == 1
    assert any("CloudFormation no longer waits for this loop" in line for line in waiter.logs)
