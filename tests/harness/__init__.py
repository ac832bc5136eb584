"""Test harness: an AWS emulator (moto, extended), a Lambda Runtime API and a
CloudFormation custom-resource driver, used by the pytest suites in tests/."""
