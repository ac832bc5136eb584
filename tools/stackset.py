"""The provider stack as a StackSet template, and its code in a bucket in each Region.

A StackSet deploys one template to many Regions, and a Lambda function's code must come from a
bucket in the function's own Region (AWS::Lambda::Function Code: "An Amazon S3 bucket in the
same AWS Region as your function"). `aws cloudformation package` writes one bucket name into the
template, so it can't make a StackSet template. This does what it does, per Region:

    python tools/stackset.py template   # target/stackset/provider.stackset.yaml + artifacts/
    python tools/stackset.py upload --bucket-prefix my-code --regions us-east-1,eu-west-1

`template` rewrites every local `Code` path of templates/provider.yaml (and the state machine's
`DefinitionS3Location`) into `{S3Bucket: <CodeBucketPrefix>-<Region>, S3Key: <content hash>}`,
adds the `CodeBucketPrefix` parameter, and copies the artifacts under those keys. `upload` puts
the artifacts into `<prefix>-<region>` for each Region (the buckets must exist; AWS's standard
credential chain and AWS_ENDPOINT_URL apply). Keys carry a content hash, so a new build is a new
key and StackSet instances update their functions."""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROVIDER = REPO / "templates" / "provider.yaml"
OUT = REPO / "target" / "stackset"
KEY_PREFIX = "privatelink-lambdas/"
BUCKET = '!Sub "${CodeBucketPrefix}-${AWS::Region}"'

PARAMETER = """  CodeBucketPrefix:
    Type: String
    AllowedPattern: ^[a-z0-9][a-z0-9.-]{1,40}$
    Description: >-
      The functions' code is read from the bucket <CodeBucketPrefix>-<Region> in each Region
      (python tools/stackset.py upload puts it there)
"""


def _key(path: Path, stem: str) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"{KEY_PREFIX}{stem}-{digest}{''.join(path.suffixes[-1:])}"


def make_template(lambda_dir: Path, out: Path) -> Path:
    """Writes the StackSet template and its artifacts under `out`; returns the template."""
    text = PROVIDER.read_text()
    artifacts = out / "artifacts"
    if artifacts.exists():
        shutil.rmtree(artifacts)
    artifacts.mkdir(parents=True)

    def code(match: re.Match[str]) -> str:
        indent, function = match.group(1), match.group(2)
        zip_path = lambda_dir / function / "bootstrap.zip"
        if not zip_path.is_file():
            sys.exit(f"{zip_path} is missing: build the functions first (make build)")
        key = _key(zip_path, function)
        target = artifacts / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(zip_path, target)
        return f"{indent}Code:\n{indent}  S3Bucket: {BUCKET}\n{indent}  S3Key: {key}"

    text, functions = re.subn(
        r"^( +)Code: \.\./target/lambda/([\w-]+)/bootstrap\.zip$", code, text, flags=re.M)

    def definition(match: re.Match[str]) -> str:
        indent, name = match.group(1), match.group(2)
        source = PROVIDER.parent / name
        key = _key(source, Path(name).name.split(".")[0])
        target = artifacts / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return f"{indent}DefinitionS3Location:\n{indent}  Bucket: {BUCKET}\n{indent}  Key: {key}"

    text, definitions = re.subn(r"^( +)DefinitionS3Location: ([\w.-]+)$", definition, text, flags=re.M)
    if functions == 0 or definitions != 1:
        sys.exit(f"{PROVIDER} changed shape: found {functions} Code paths, {definitions} definitions")
    text = text.replace("Parameters:\n", "Parameters:\n" + PARAMETER, 1)
    template = out / "provider.stackset.yaml"
    template.write_text(text)
    return template


def upload(out: Path, bucket_prefix: str, regions: list[str]) -> list[tuple[str, str]]:
    """Puts every artifact into `<bucket_prefix>-<region>` of each Region; returns (bucket, key)s."""
    import boto3  # only needed here

    done = []
    files = sorted(p for p in (out / "artifacts").rglob("*") if p.is_file())
    if not files:
        sys.exit(f"no artifacts under {out / 'artifacts'}: run `template` first")
    for region in regions:
        s3 = boto3.client("s3", region_name=region)
        bucket = f"{bucket_prefix}-{region}"
        for path in files:
            key = path.relative_to(out / "artifacts").as_posix()
            s3.upload_file(str(path), bucket, key)
            done.append((bucket, key))
            print(f"s3://{bucket}/{key}")
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("template", help="write the StackSet template and its artifacts")
    make.add_argument("--lambda-dir", type=Path, default=REPO / "target" / "lambda")
    make.add_argument("--out", type=Path, default=OUT)
    up = sub.add_parser("upload", help="put the artifacts into <prefix>-<region> of each Region")
    up.add_argument("--bucket-prefix", required=True)
    up.add_argument("--regions", required=True, help="comma-separated")
    up.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.command == "template":
        print(make_template(args.lambda_dir, args.out))
    else:
        upload(args.out, args.bucket_prefix, [r for r in args.regions.split(",") if r])


if __name__ == "__main__":
    main()
