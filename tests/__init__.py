"""Python test suites for the custom resource functions (run from the repo root)."""
