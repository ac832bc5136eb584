"""`make connect`: the runbook in one command, from its inputs to a checked connection.

    python tools/connect.py --service-name com.amazonaws.vpce.us-east-1.vpce-svc-0123... \\
        --vpc-id vpc-0abc... --subnet-ids subnet-1,subnet-2 [--private-dns-name api.partner.com]

1. Reads the partner's service as the runbook's first step does (DescribeVpcEndpointServices):
   it exists and is shared with this account, its Availability Zones, whether the partner must
   accept, its verified Private DNS name (and that it is the one the partner named, when given).
2. Puts the release where CloudFormation reads it: a release published to `<prefix>-<region>`
   (--code-bucket-prefix) is used as it is; else the local release (dist/<version>/, what `make
   release` writes) is uploaded to --bucket, or to privatelink-lambdas-artifacts-<account>-<region>,
   made when missing (private by S3's defaults) and used only when this account owns it.
3. Creates the stack from templates/quickstart.yaml (or updates it when it exists).
4. Follows it: each event as CloudFormation shows it; the endpoint's id, to give the partner, as
   soon as the endpoint exists (the same line the endpoint function logs and publishes to
   AlarmTopicArn); then the outputs, or each failed resource's Reason (a nested stack's too).

AWS's standard credential chain, Region and AWS_ENDPOINT_URL apply. Exits 0 when the stack
completes, 1 when it fails, 2 when an input is wrong (nothing is made then)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import release  # noqa: E402  (tools/release.py: the release's layout and upload)

TAG_STACK_ID = "privatelink-lambdas:stack-id"  # functions/core/src/ec2/ownership.rs
DONE = ("_COMPLETE", "_FAILED")
IN_PROGRESS = "_IN_PROGRESS"


class InputError(Exception):
    """An input that can't work: said before anything is made."""


def say(text: str) -> None:
    print(text, flush=True)


def announcement(endpoint_id: str, account: str, region: str, service_name: str) -> str:
    """The line the endpoint function logs and publishes (functions/core/src/endpoint/acceptance/announce.rs)."""
    return (f"waiting for the partner to accept {endpoint_id} (account {account}, {region}) in their "
            f"service {service_name}: give them this id")


# ---- 1. the partner's service --------------------------------------------- #

def check_service(ec2: Any, service_name: str, private_dns_name: str, account: str) -> dict[str, Any]:
    try:
        services = ec2.describe_vpc_endpoint_services(ServiceNames=[service_name])["ServiceDetails"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "InvalidServiceName":
            raise
        services = []
    if not services:
        raise InputError(f"{service_name} does not exist in this Region, or the partner has not shared it "
                         f"with this account: ask them to add arn:aws:iam::{account}:root to its allowed "
                         "principals")
    service = services[0]
    say(f"service {service_name}: Availability Zones {', '.join(service.get('AvailabilityZones', []))}; "
        f"{'the partner accepts each connection' if service.get('AcceptanceRequired') else 'no acceptance needed'}")
    name = service.get("PrivateDnsName") or ""
    state = service.get("PrivateDnsNameVerificationState") or ""
    if not name:
        raise InputError(f"{service_name} has no Private DNS name: the quick start switches Private DNS on; "
                         "ask the partner for one, or use Custom::PrivateLinkEndpoint with PrivateDnsEnabled "
                         "false (templates/consumer-snippet.yaml)")
    if state and state != "verified":
        raise InputError(f"the partner's Private DNS name {name} is {state}, not verified: Private DNS can't be "
                         "switched on until they verify it")
    if private_dns_name and not _covers(name, private_dns_name):
        raise InputError(f"{private_dns_name} is not the service's Private DNS name ({name}): check the name "
                         "with the partner")
    say(f"  Private DNS name {name}")
    return service


def _covers(service_name: str, wanted: str) -> bool:
    if service_name.startswith("*."):
        return wanted.endswith(service_name[1:]) and "." not in wanted[: -len(service_name) + 1]
    return wanted == service_name


# ---- 2. the release ------------------------------------------------------- #

def code_bucket(s3: Any, bucket: str, account: str, region: str) -> str:
    if bucket:
        # Lambda reads code only from a bucket in the function's Region.
        where = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
        if where != region:
            raise InputError(f"the bucket {bucket} is in {where}: the functions of {region} need one in {region}")
        return bucket
    bucket = f"privatelink-lambdas-artifacts-{account}-{region}"
    try:
        # The name can be guessed: code is read only from a bucket this account owns.
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise InputError(f"the bucket {bucket} is not this account's, or this identity may not read it "
                             "(s3:ListBucket): set BUCKET") from error
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **config)
        say(f"made the bucket {bucket}")
    return bucket


# ---- 3 and 4. the stack --------------------------------------------------- #

def deploy(cfn: Any, stack: str, url: str, parameters: dict[str, str]) -> tuple[str, bool]:
    """Creates the stack, or updates it; returns its id and whether anything changes. An empty
    value is the template's default on a Create, and the stack's current value on an Update
    (UpdateStack takes a parameter left out as its default, not as it was)."""
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items() if v]
    capabilities = ["CAPABILITY_IAM"]
    try:
        existing = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        if "does not exist" not in error.response["Error"]["Message"]:
            raise
        existing = None
    if existing is None:
        stack_id = cfn.create_stack(StackName=stack, TemplateURL=url, Parameters=given,
                                    Capabilities=capabilities)["StackId"]
        say(f"creating the stack {stack}")
        return stack_id, True
    if existing["StackStatus"] == "ROLLBACK_COMPLETE":
        raise InputError(f"the stack {stack} failed to create before: delete it first "
                         f"(aws cloudformation delete-stack --stack-name {stack})")
    previous = {p["ParameterKey"]: p.get("ParameterValue", "") for p in existing.get("Parameters", [])}
    moving_to = parameters.get("FunctionsExportPrefix", "")
    if moving_to and moving_to != previous.get("FunctionsExportPrefix", ""):
        # The custom resources' ServiceToken would change, which CloudFormation refuses.
        raise InputError(f"the stack {stack} was made with FunctionsExportPrefix="
                         f"{previous.get('FunctionsExportPrefix', '')!r}: its resources can't move to other "
                         "functions; keep it, or make a new stack")
    kept = [{"ParameterKey": k, "UsePreviousValue": True} for k in previous
            if k not in {p["ParameterKey"] for p in given}]
    try:
        cfn.update_stack(StackName=stack, TemplateURL=url, Parameters=given + kept, Capabilities=capabilities)
    except ClientError as error:
        if "No updates are to be performed" in error.response["Error"]["Message"]:
            say(f"the stack {stack} is up to date")
            return existing["StackId"], False
        raise
    say(f"updating the stack {stack}")
    return existing["StackId"], True


def new_events(cfn: Any, stack_id: str, seen: set[str]) -> list[dict[str, Any]]:
    events = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        for event in page["StackEvents"]:
            if event["EventId"] in seen:
                break
            events.append(event)
        else:
            continue
        break
    events.reverse()  # listed newest first
    seen.update(e["EventId"] for e in events)
    return events


def failures(cfn: Any, stack_id: str, depth: int = 0) -> list[str]:
    """Each failed resource's Reason, and those inside a nested stack that failed."""
    lines = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        for event in reversed(page["StackEvents"]):
            reason = event.get("ResourceStatusReason", "")
            if not event["ResourceStatus"].endswith("_FAILED") or event.get("PhysicalResourceId") == stack_id:
                continue
            if reason in ("Resource creation cancelled", "Resource update cancelled"):
                continue
            lines.append(f"{'  ' * depth}{event['LogicalResourceId']} ({event['ResourceType']}): {reason}")
            nested = event.get("PhysicalResourceId", "")
            if event["ResourceType"] == "AWS::CloudFormation::Stack" and nested.startswith("arn:") and depth < 3:
                lines += failures(cfn, nested, depth + 1)
    return lines


def follow(cfn: Any, ec2: Any, stack_id: str, account: str, region: str, service_name: str,
           poll_seconds: float) -> bool:
    seen: set[str] = set()
    announced = False
    while True:
        for event in new_events(cfn, stack_id, seen):
            reason = event.get("ResourceStatusReason")
            say(f"{event['Timestamp']:%H:%M:%S}  {event['LogicalResourceId']:<24} {event['ResourceStatus']}"
                + (f": {reason}" if reason else ""))
        if not announced:
            endpoints = ec2.describe_vpc_endpoints(
                Filters=[{"Name": f"tag:{TAG_STACK_ID}", "Values": [stack_id]}])["VpcEndpoints"]
            if endpoints:
                endpoint = endpoints[0]
                if endpoint["State"].lower() == "pendingacceptance":
                    say(announcement(endpoint["VpcEndpointId"], account, region, service_name))
                else:
                    say(f"endpoint {endpoint['VpcEndpointId']} is {endpoint['State']}")
                announced = True
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        status = stack["StackStatus"]
        if status.endswith(DONE) and IN_PROGRESS not in status:
            break
        time.sleep(poll_seconds)
    for event in new_events(cfn, stack_id, seen):
        say(f"{event['Timestamp']:%H:%M:%S}  {event['LogicalResourceId']:<24} {event['ResourceStatus']}")
    if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        say(f"{stack['StackName']}: {status}")
        for output in stack.get("Outputs", []):
            say(f"  {output['OutputKey']} = {output['OutputValue']}")
        return True
    say(f"{stack['StackName']}: {status}")
    for line in failures(cfn, stack_id):
        say(f"  {line}")
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service-name", required=True)
    parser.add_argument("--vpc-id", required=True)
    parser.add_argument("--subnet-ids", required=True, help="comma-separated, one per Availability Zone")
    parser.add_argument("--private-dns-name", default="")
    parser.add_argument("--service-port", default="", help="default: 443 on a Create, the stack's on an Update")
    parser.add_argument("--alarm-topic-arn", default="")
    parser.add_argument("--stack", default="", help="default: privatelink-<the service's vpce-svc id>")
    parser.add_argument("--bucket", default="")
    parser.add_argument("--code-bucket-prefix", default="", help="a release published to <prefix>-<region>")
    parser.add_argument("--release", type=Path, default=release.REPO / "dist" / release.version())
    parser.add_argument("--functions-export-prefix", default="")
    parser.add_argument("--architecture", default="", choices=["", *release.ARCHITECTURES],
                        help="default: x86_64 on a Create, the stack's on an Update")
    parser.add_argument("--poll-seconds", type=float, default=10)
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="another parameter of templates/quickstart.yaml (CreateS3GatewayEndpoint, RouteTableIds, CheckSchedule...)")
    args = parser.parse_args(argv)

    # AWS_REGION as the SDKs read it (boto3 reads only AWS_DEFAULT_REGION and the config file).
    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
    region = session.region_name
    if not region:
        say("no AWS Region: set AWS_REGION")
        return 2
    ec2, cfn, s3 = session.client("ec2"), session.client("cloudformation"), session.client("s3")
    account = session.client("sts").get_caller_identity()["Account"]
    stack = args.stack or f"privatelink-{args.service_name.rsplit('.', 1)[-1]}"
    try:
        check_service(ec2, args.service_name, args.private_dns_name, account)
        parameters = {"ServiceName": args.service_name, "VpcId": args.vpc_id, "SubnetIds": args.subnet_ids,
                      "PrivateDnsName": args.private_dns_name, "ServicePort": args.service_port, "AlarmTopicArn": args.alarm_topic_arn,
                      "FunctionsExportPrefix": args.functions_export_prefix, "Architecture": args.architecture}
        for extra in args.parameter:
            key, sep, value = extra.partition("=")
            if not sep:
                raise InputError(f"{extra}: parameters are KEY=VALUE")
            parameters[key] = value
        if args.code_bucket_prefix:
            url = release.template_url(f"{args.code_bucket_prefix}-{region}", region, release.version())
            parameters["CodeBucketPrefix"] = args.code_bucket_prefix
        else:
            if not (args.release / "SHA256SUMS").is_file():
                raise InputError(f"no release at {args.release}: make release (or give CODE_BUCKET_PREFIX)")
            # Left out, the template's default (or, on an Update, the stack's: a release
            # without it fails the nested stack's update, which rolls back).
            architecture = args.architecture or "x86_64"
            if not (args.release / "functions" / architecture).is_dir():
                raise InputError(f"the release at {args.release} has no {architecture} functions")
            bucket = code_bucket(s3, args.bucket, account, region)
            try:
                keys = release.upload(args.release, bucket, region, s3)
            except release.ReleaseConflict as conflict:
                raise InputError(str(conflict)) from conflict
            say(f"uploaded the release {args.release.name} to s3://{bucket} ({len(keys)} files)" if keys
                else f"the release {args.release.name} is already in s3://{bucket}")
            url = release.template_url(bucket, region, args.release.name)
            parameters["CodeBucket"] = bucket
        stack_id, changes = deploy(cfn, stack, url, parameters)
    except InputError as error:
        say(str(error))
        return 2
    except ClientError as error:  # refused before anything changes: a template not found, a stack busy
        say(f"CloudFormation refused: {error.response['Error']['Code']}: {error.response['Error']['Message']}")
        return 2
    if not changes:
        for output in cfn.describe_stacks(StackName=stack_id)["Stacks"][0].get("Outputs", []):
            say(f"  {output['OutputKey']} = {output['OutputValue']}")
        return 0
    return 0 if follow(cfn, ec2, stack_id, account, region, args.service_name, args.poll_seconds) else 1


if __name__ == "__main__":
    sys.exit(main())
