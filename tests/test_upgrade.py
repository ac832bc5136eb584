"""The functions stack upgraded under its consumers, on the emulator as CloudFormation does it
(tests/harness/stacks.py): deploy one release, create a consumer, upgrade the functions stack to
the next release, then update and delete the consumer.

A consumer's ServiceToken is the function's ARN, exported by the functions stack. An upgrade
replaces the functions' code and configuration in place (no property of theirs that forces a
replacement changes: they have no FunctionName), so the ARN, the export, and every consumer's
ServiceToken stay as they were, and the consumer's later events reach the new code. A test
here fails if an upgrade changes an export (CloudFormation refuses to change an export in use)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.harness.local_aws import release_of_debug_builds

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import release  # noqa: E402

BUCKET = "upgrade-test-code"
CONSUMER = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  VpcId: {Type: String}
  Port: {Type: String}
Resources:
  PartnerGroup:
    Type: Custom::PrivateLinkSecurityGroup
    Properties:
      ServiceToken: {"Fn::ImportValue": "upgraded-SecurityGroupServiceToken"}
      VpcId: !Ref VpcId
      Ports: [!Ref Port]
Outputs:
  GroupId: {Value: !Ref PartnerGroup}
"""




def settled(cfn: Any, stack: str) -> dict[str, Any]:
    for _ in range(600):
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if not described["StackStatus"].endswith("_IN_PROGRESS"):
            return described
        time.sleep(0.2)
    raise AssertionError(f"{stack} is still {described['StackStatus']}")


def test_an_upgrade_keeps_every_service_token_and_the_consumers_next_events_reach_the_new_code(
        emulator, played, ec2, tmp_path):
    local, _ = played
    kw = {"endpoint_url": emulator.url, "region_name": "us-east-1", "aws_access_key_id": "testing",
          "aws_secret_access_key": "testing"}
    cfn = boto3.client("cloudformation", **kw)
    local.s3.create_bucket(Bucket=BUCKET)
    releases = {}
    for version, build in (("0.1.0-old", "old"), ("0.2.0-new", "new")):
        releases[version] = release_of_debug_builds(tmp_path / build, version, build)
        release.upload(releases[version], BUCKET, s3=local.s3)

    def provider(version: str) -> dict[str, Any]:
        return {"StackName": "functions", "Capabilities": ["CAPABILITY_IAM"],
                "TemplateURL": release.template_url(BUCKET, "us-east-1", version, "functions.yaml"),
                "Parameters": [{"ParameterKey": "CodeBucket", "ParameterValue": BUCKET},
                               {"ParameterKey": "ExportPrefix", "ParameterValue": "upgraded"}]}

    def code_of(arn: str) -> str:
        function = local.function(arn)
        return Path(function.argv[0]).read_text()

    cfn.create_stack(**provider("0.1.0-old"))
    before = {o["OutputKey"]: o["OutputValue"] for o in settled(cfn, "functions")["Outputs"]}
    token = before["SecurityGroupServiceToken"]
    assert "# build old" in code_of(token)

    vpc = ec2.create_vpc(CidrBlock="10.131.0.0/16")["Vpc"]["VpcId"]
    consumer = {"StackName": "consumer", "TemplateBody": CONSUMER}
    cfn.create_stack(**consumer, Parameters=[{"ParameterKey": "VpcId", "ParameterValue": vpc},
                                             {"ParameterKey": "Port", "ParameterValue": "443"}])
    assert settled(cfn, "consumer")["StackStatus"] == "CREATE_COMPLETE"

    # The upgrade: every function gets the new release's code, under the same ARN.
    cfn.update_stack(**provider("0.2.0-new"))
    upgraded = settled(cfn, "functions")
    assert upgraded["StackStatus"] == "UPDATE_COMPLETE", upgraded
    after = {o["OutputKey"]: o["OutputValue"] for o in upgraded["Outputs"]}
    assert after == before  # the exports, the consumers' ServiceTokens, unchanged
    for arn in after.values():
        if ":function:" in arn:
            assert "# build new" in code_of(arn), arn

    # The consumer's next events reach the new code: an Update in place, then the Delete.
    cfn.update_stack(**consumer, Parameters=[{"ParameterKey": "VpcId", "ParameterValue": vpc},
                                             {"ParameterKey": "Port", "ParameterValue": "8443"}])
    updated = settled(cfn, "consumer")
    assert updated["StackStatus"] == "UPDATE_COMPLETE", updated
    group = updated["Outputs"][0]["OutputValue"]
    rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    assert {r["FromPort"] for r in rules} == {8443}, rules
    served = [line for env in local.function(token).environments for line in env.logs_since()]
    assert any('"request_type":"Update"' in line for line in served), served[-20:]
    cfn.delete_stack(StackName="consumer")
    assert settled(cfn, updated["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ec2.exceptions.ClientError, match="InvalidGroup.NotFound"):
        ec2.describe_security_groups(GroupIds=[group])
