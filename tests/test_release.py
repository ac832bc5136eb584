"""`make release`'s layout, as a user downloads it: each function's zip per architecture, the
templates reading everything from the release's bucket, SHA256SUMS that `sha256sum -c` checks,
and `make publish`'s upload to a bucket in each Region (what a StackSet's instances read)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from tests.harness.template import Evaluator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import release  # noqa: E402

CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A release of both architectures (the zips stand-ins: the layout is what is checked)."""
    root = tmp_path_factory.mktemp("release")
    dirs = {}
    for arch in release.ARCHITECTURES:
        for function in release.FUNCTIONS:
            (root / arch / function).mkdir(parents=True)
            (root / arch / function / "bootstrap.zip").write_bytes(f"{arch} zip of {function}".encode())
        dirs[arch] = root / arch
    cli = root / "privatelink-validator"
    cli.write_text("#!/bin/sh\necho privatelink-validator\n")
    cli.chmod(0o755)
    return release.build(dirs, root / "dist", cli)


def load(path: Path) -> dict[str, Any]:
    template, problems = decode_str(path.read_text())
    assert not problems, problems
    return template


def test_a_release_holds_every_function_per_architecture_the_templates_and_their_checksums(built):
    assert built.name == release.version()
    files = sorted(p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file())
    expected = sorted(
        [f"functions/{arch}/{function}.zip" for arch in release.ARCHITECTURES for function in release.FUNCTIONS]
        + [f"templates/{name}" for name in release.RELEASED_TEMPLATES]
        + [f"templates/{release.STATE_MACHINE}", "SHA256SUMS", "privatelink-validator-x86_64-linux"])
    assert files == expected
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=built, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == len(expected) - 1
    # The command line for instances, ready to run once downloaded.
    assert os.access(built / "privatelink-validator-x86_64-linux", os.X_OK)


def test_sha256sums_catches_a_file_changed_after_the_release(built, tmp_path):
    copy = tmp_path / built.name
    subprocess.run(["cp", "-r", str(built), str(copy)], check=True)
    (copy / "functions" / "x86_64" / "privatelink-endpoint.zip").write_bytes(b"tampered")
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=copy, capture_output=True, text=True)
    assert checked.returncode != 0
    assert "privatelink-endpoint.zip: FAILED" in checked.stdout


@pytest.mark.parametrize("name", release.RELEASED_TEMPLATES)
def test_each_released_template_lints_clean(built, name):
    done = subprocess.run([str(CFN_LINT), "--include-checks", "I", "-a", "cfn_lint_serverless.rules", "--",
                           str(built / "templates" / name)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("arch", release.ARCHITECTURES)
@pytest.mark.parametrize("bucket", [{"CodeBucket": "my-bucket"}, {"CodeBucketPrefix": "my-code"}],
                         ids=["CodeBucket", "CodeBucketPrefix"])
def test_everything_a_released_template_reads_is_in_the_release_at_the_key_it_names(built, arch, bucket):
    # What Lambda, Step Functions and nested stacks read: a bucket in the stack's Region, a key
    # under privatelink-lambdas/<version>/ that the release holds.
    expected_bucket = bucket.get("CodeBucket") or f"{bucket.get('CodeBucketPrefix')}-us-east-1"
    prefix = release.key_prefix(built.name)
    read = []
    for name in release.RELEASED_TEMPLATES:
        template = load(built / "templates" / name)
        assert "../" not in (built / "templates" / name).read_text()  # nothing left for `package`
        ev = Evaluator(template, {**{k: "x" for k, v in template.get("Parameters", {}).items()
                                     if "Default" not in v}, "Architecture": arch, **bucket})
        for resource in template["Resources"].values():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::Lambda::Function":
                code = ev.resolve(properties["Code"])
                read.append((code["S3Bucket"], code["S3Key"]))
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                location = ev.resolve(properties["DefinitionS3Location"])
                read.append((location["Bucket"], location["Key"]))
            if resource["Type"] == "AWS::CloudFormation::Stack":
                url = ev.resolve(properties["TemplateURL"])
                host, _, key = url.removeprefix("https://").partition("/")
                assert host == f"{expected_bucket}.s3.us-east-1.amazonaws.com", url
                read.append((expected_bucket, key))
                # The nested stack is told where the release is.
                nested = ev.resolve(properties["Parameters"])
                assert {k: nested[k] for k in bucket} == bucket
    assert len(read) == len(release.FUNCTIONS) + 1 + 2
    for where, key in read:
        assert where == expected_bucket, (where, key)
        assert key.startswith(prefix) and (built / key.removeprefix(prefix)).is_file(), key


def test_a_released_template_refuses_to_deploy_without_a_bucket(built):
    for name in ("functions.yaml", "validator.yaml", "quickstart.yaml"):
        rules = load(built / "templates" / name)["Rules"]
        assertion = rules["CodeFromABucket"]["Assertions"][0]
        for given, holds in [({"CodeBucket": "", "CodeBucketPrefix": ""}, False),
                             ({"CodeBucket": "b", "CodeBucketPrefix": ""}, True),
                             ({"CodeBucket": "", "CodeBucketPrefix": "p"}, True)]:
            ev = Evaluator(load(built / "templates" / name), given)
            assert ev.resolve(assertion["Assert"]) is holds, (name, given)


def test_the_functions_stack_exports_do_not_depend_on_a_generated_stack_name(built):
    # StackSet instances have generated stack names: the exports must not depend on them.
    for output in load(built / "templates" / "functions.yaml")["Outputs"].values():
        assert output["Export"]["Name"]["Fn::Sub"].startswith("${ExportPrefix}-")


def test_publish_puts_the_release_in_the_bucket_of_each_region(built, emulator):
    import boto3

    regions = ["us-east-1", "eu-west-1"]
    env = {"AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for region in regions:
            s3 = boto3.client("s3", region_name=region)
            config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=f"release-code-{region}", **config)
        release.publish(built, "release-code", regions)
        files = [p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()]
        for region in regions:
            s3 = boto3.client("s3", region_name=region)
            listed = {o["Key"] for o in s3.list_objects_v2(Bucket=f"release-code-{region}")["Contents"]}
            assert listed == {release.key_prefix(built.name) + f for f in files}
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_a_version_is_released_once_into_a_bucket(built, emulator, tmp_path):
    # The templates read a release by its version's keys: the same release uploaded again
    # changes nothing; another one under the same version is refused (a stack update would not
    # see it), and SHA256SUMS, written last, is what marks a complete upload.
    import boto3

    s3 = boto3.client("s3", endpoint_url=emulator.url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket="released-once")
    keys = release.upload(built, "released-once", s3=s3)
    assert keys[-1].endswith("/SHA256SUMS") and len(keys) == len([p for p in built.rglob("*") if p.is_file()])
    assert release.upload(built, "released-once", s3=s3) == []
    other = tmp_path / built.name
    subprocess.run(["cp", "-r", str(built), str(other)], check=True)
    (other / "functions" / "x86_64" / "privatelink-endpoint.zip").write_bytes(b"rebuilt")
    release.sha256sums(other)
    with pytest.raises(release.ReleaseConflict, match="holds another release"):
        release.upload(other, "released-once", s3=s3)
