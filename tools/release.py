"""A release a user deploys without building, and its upload to the buckets it is read from.

    python tools/release.py build --lambda-dir x86_64=target/lambda/x86_64 [--lambda-dir arm64=...]
    python tools/release.py publish --bucket-prefix my-code --regions us-east-1,eu-west-1
    python tools/release.py upload --bucket my-bucket     # one bucket (what `make connect` does)

`build` writes dist/<version>/ (the workspace's version):

    functions/<arch>/<function>.zip     each function's bootstrap zip, per architecture built
    templates/functions.yaml            the templates, every local path rewritten to the bucket
    templates/validator.yaml              (functions' Code, the state machine's definition,
    templates/quickstart.yaml             the quick start's nested stacks)
    templates/consumer-example.yaml
    templates/acceptance-waiter.asl.json
    privatelink-validator-x86_64-linux  the validator's command line, statically linked (--cli)
    SHA256SUMS                          `sha256sum -c SHA256SUMS` checks all of the above

A Lambda function's code must come from a bucket in the function's own Region (AWS::Lambda::Function
Code: "An Amazon S3 bucket in the same AWS Region as your function"), and a nested stack's
TemplateURL from S3: the release's templates read everything from `CodeBucket` when it is given,
else from `<CodeBucketPrefix>-<Region>` (one template for every Region: what a StackSet needs).
In a bucket, the release lives under `privatelink-lambdas/<version>/`, its files at the same
paths as in dist/<version>/, so one upload serves every template. AWS's standard credential
chain and AWS_ENDPOINT_URL apply."""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "templates"
FUNCTIONS = ["privatelink-security-group", "privatelink-endpoint", "privatelink-acceptance-waiter",
             "privatelink-validator"]
ARCHITECTURES = ["x86_64", "arm64"]
RELEASED_TEMPLATES = ["functions.yaml", "validator.yaml", "quickstart.yaml", "consumer-example.yaml"]
STATE_MACHINE = "acceptance-waiter.asl.json"
BUCKET = '!If [HasCodeBucket, !Ref CodeBucket, !Sub "${CodeBucketPrefix}-${AWS::Region}"]'

PARAMETERS = """  CodeBucket:
    Type: String
    Default: ""
    AllowedPattern: ^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$
    Description: >-
      The bucket in this Region holding the release under privatelink-lambdas/<version>/ (make
      connect uploads it to one of yours); empty: <CodeBucketPrefix>-<Region>
  CodeBucketPrefix:
    Type: String
    Default: ""
    AllowedPattern: ^([a-z0-9][a-z0-9.-]{1,40})?$
    Description: >-
      With no CodeBucket: the release is read from the bucket <CodeBucketPrefix>-<Region> of each
      Region (make publish fills them; one template for every Region, as a StackSet needs)
"""
IGNORED = """        # An empty CodeBucketPrefix would be no bucket, but then CodeBucket is set (Rules).
        - W1031
"""
CONDITION = '  HasCodeBucket: !Not [!Equals [!Ref CodeBucket, ""]]\n'
RULE = """  CodeFromABucket:
    Assertions:
      - Assert: !Or [!Not [!Equals [!Ref CodeBucket, ""]], !Not [!Equals [!Ref CodeBucketPrefix, ""]]]
        AssertDescription: Set CodeBucket (or CodeBucketPrefix) to where the release was uploaded

"""


def version() -> str:
    """The workspace's version: the one place it is written."""
    return tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["version"]


def url_suffix(region: str) -> str:
    """The partition's domain, as `AWS::URLSuffix` gives it (the China Regions' differs)."""
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def template_url(bucket: str, region: str, release: str, name: str = "quickstart.yaml") -> str:
    """The S3 URL CloudFormation reads one of a release's templates from."""
    return f"https://{bucket}.s3.{region}.{url_suffix(region)}/{key_prefix(release)}templates/{name}"


def key_prefix(release: str) -> str:
    """Where a release lives in a bucket."""
    return f"privatelink-lambdas/{release}/"


def rewrite(text: str, name: str, release: str) -> str:
    """A template with every local path read from the release's bucket instead."""
    prefix = key_prefix(release)
    counts = {}

    def code(match: re.Match[str]) -> str:
        indent, function = match.group(1), match.group(2)
        return (f"{indent}Code:\n{indent}  S3Bucket: {BUCKET}\n"
                f"{indent}  S3Key: !Sub {prefix}functions/${{Architecture}}/{function}.zip")

    text, counts["Code"] = re.subn(r"^( +)Code: \.\./target/lambda/([\w-]+)/bootstrap\.zip$", code, text,
                                   flags=re.M)

    def definition(match: re.Match[str]) -> str:
        indent, file = match.group(1), match.group(2)
        return (f"{indent}DefinitionS3Location:\n{indent}  Bucket: {BUCKET}\n"
                f"{indent}  Key: {prefix}templates/{file}")

    text, counts["DefinitionS3Location"] = re.subn(r"^( +)DefinitionS3Location: ([\w.-]+)$", definition,
                                                   text, flags=re.M)

    def nested(match: re.Match[str]) -> str:
        indent, file, parameters = match.group(1), match.group(2), match.group(3)
        url = f"https://${{Bucket}}.s3.${{AWS::Region}}.${{AWS::URLSuffix}}/{prefix}templates/{file}"
        return (f"{indent}TemplateURL: !Sub\n{indent}  - {url}\n{indent}  - Bucket: {BUCKET}\n"
                f"{parameters}{indent}  CodeBucket: !Ref CodeBucket\n"
                f"{indent}  CodeBucketPrefix: !Ref CodeBucketPrefix\n")

    text, counts["TemplateURL"] = re.subn(r"^( +)TemplateURL: ([\w.-]+\.yaml)\n(\1Parameters:\n)", nested,
                                          text, flags=re.M)
    if sum(counts.values()) == 0:
        return text  # nothing read from a local path (consumer-example.yaml)
    if "\nConditions:\n" not in text:
        sys.exit(f"{name} changed shape: no Conditions section")
    text = text.replace("\nParameters:\n", "\nParameters:\n" + PARAMETERS, 1)
    if "\nRules:\n" in text:
        text = text.replace("\nRules:\n", "\nRules:\n" + RULE, 1)
    else:
        text = text.replace("\nConditions:\n", "\nRules:\n" + RULE + "Conditions:\n", 1)
    text = text.replace("\nConditions:\n", "\nConditions:\n" + CONDITION, 1)
    if "\n      ignore_checks:\n" not in text:
        sys.exit(f"{name} changed shape: no cfn-lint ignore_checks in its Metadata")
    text = text.replace("\n      ignore_checks:\n", "\n      ignore_checks:\n" + IGNORED, 1)
    if "Code: ../" in text or re.search(r"TemplateURL: [\w.-]+\.yaml", text):
        sys.exit(f"{name} changed shape: a local path is left after the rewrite")
    return text


def sha256sums(directory: Path) -> Path:
    """Writes SHA256SUMS for every file under `directory`, in `sha256sum -c`'s format."""
    lines = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(directory).as_posix()}\n")
    sums = directory / "SHA256SUMS"
    sums.write_text("".join(lines))
    return sums


def build(lambda_dirs: dict[str, Path], dist: Path, cli: Path | None = None,
          release: str | None = None) -> Path:
    """Writes dist/<version>/ from the bootstrap zips of each architecture (`release`: another
    version than the workspace's, as the upgrade test makes); returns it."""
    release = release or version()
    out = dist / release
    if out.exists():
        shutil.rmtree(out)
    for arch, lambda_dir in lambda_dirs.items():
        if arch not in ARCHITECTURES:
            sys.exit(f"unknown architecture {arch}: one of {', '.join(ARCHITECTURES)}")
        for function in FUNCTIONS:
            zip_path = lambda_dir / function / "bootstrap.zip"
            if not zip_path.is_file():
                sys.exit(f"{zip_path} is missing: build the functions first (make build ARCH={arch})")
            target = out / "functions" / arch / f"{function}.zip"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(zip_path, target)
    templates = out / "templates"
    templates.mkdir(parents=True)
    for name in RELEASED_TEMPLATES:
        (templates / name).write_text(rewrite((TEMPLATES / name).read_text(), name, release))
    shutil.copyfile(TEMPLATES / STATE_MACHINE, templates / STATE_MACHINE)
    if cli is not None:
        shutil.copy2(cli, out / "privatelink-validator-x86_64-linux")
    sha256sums(out)
    return out


class ReleaseConflict(Exception):
    """The bucket holds another release of the same version: a release is never overwritten."""


def upload(release: Path, bucket: str, region: str | None = None, s3: Any = None) -> list[str]:
    """Puts a release into `bucket` under privatelink-lambdas/<version>/; returns the keys.

    A version names one release: the templates read its files by that version's keys, so other
    content under the same keys would be a different release that a stack update can't see
    (its template does not change). The same release already there is left as it is (nothing
    uploaded); another one raises ReleaseConflict. SHA256SUMS goes last: it marks the upload
    complete."""
    if s3 is None:
        import boto3  # only needed here

        s3 = boto3.client("s3", region_name=region)
    prefix = key_prefix(release.name)
    sums = (release / "SHA256SUMS").read_bytes()
    try:
        there = s3.get_object(Bucket=bucket, Key=prefix + "SHA256SUMS")["Body"].read()
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in ("NoSuchKey", "404"):
            raise
        there = None
    if there == sums:
        return []
    if there is not None:
        raise ReleaseConflict(f"s3://{bucket}/{prefix} holds another release {release.name}: a version is "
                              "released once (raise the workspace's version, or use another bucket)")
    keys = []
    files = sorted(p for p in release.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    for path in files + [release / "SHA256SUMS"]:
        key = prefix + path.relative_to(release).as_posix()
        s3.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys


def publish(release: Path, bucket_prefix: str, regions: list[str]) -> None:
    """Uploads a release to `<bucket_prefix>-<region>` of each Region (the buckets must exist)."""
    for region in regions:
        bucket = f"{bucket_prefix}-{region}"
        keys = upload(release, bucket, region)
        print(f"s3://{bucket}/{key_prefix(release.name)}: {len(keys) or 'already there, no'} files")
        print(f"  {template_url(bucket, region, release.name)}")


def _lambda_dir(text: str) -> tuple[str, Path]:
    arch, _, path = text.partition("=")
    return arch, Path(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("build", help="write dist/<version>/")
    make.add_argument("--lambda-dir", type=_lambda_dir, action="append", required=True,
                      metavar="ARCH=DIR", help="the bootstrap zips of one architecture (<DIR>/<function>/bootstrap.zip)")
    make.add_argument("--cli", type=Path, help="the statically linked validator CLI")
    make.add_argument("--dist", type=Path, default=REPO / "dist")
    up = sub.add_parser("publish", help="upload a release to <prefix>-<region> of each Region")
    up.add_argument("--bucket-prefix", required=True)
    up.add_argument("--regions", required=True, help="comma-separated")
    up.add_argument("--release", type=Path, default=REPO / "dist" / version())
    one = sub.add_parser("upload", help="upload a release to one bucket")
    one.add_argument("--bucket", required=True)
    one.add_argument("--release", type=Path, default=REPO / "dist" / version())
    sub.add_parser("version", help="print the workspace's version")
    args = parser.parse_args(argv)
    if args.command == "build":
        print(build(dict(args.lambda_dir), args.dist, args.cli))
    elif args.command == "publish":
        publish(args.release, args.bucket_prefix, [r for r in args.regions.split(",") if r])
    elif args.command == "upload":
        for key in upload(args.release, args.bucket):
            print(f"s3://{args.bucket}/{key}")
    else:
        print(version())


if __name__ == "__main__":
    main()
