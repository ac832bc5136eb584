"""Serving the emulator: moto's own WSGI app (`DomainDispatcherApplication` +
`create_backend_app`) wrapped in the middleware (middleware.py), served by werkzeug's threaded
server, and `Emulator`, the handle the tests hold (its URL, `stop()`, and the control API).

Not an AWS behaviour: the top of the package, importing the modules below it."""

from __future__ import annotations

import argparse
import json
import threading
import urllib.error
import urllib.request
from typing import Any, Callable

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from tests.harness.emulator.control import CONTROL
from tests.harness.emulator.middleware import EmulatorMiddleware
from tests.harness.emulator.sns import _FUNCTIONS


def _reset_moto() -> None:
    # What moto's own POST /moto-api/reset does.
    from moto.moto_api._internal import moto_api_backend

    moto_api_backend.reset()


def make_app() -> EmulatorMiddleware:
    """moto's dispatcher app wrapped in the emulator middleware."""
    return EmulatorMiddleware(DomainDispatcherApplication(create_backend_app), _reset_moto)


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without one stderr line per request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class Emulator:
    """A running emulator: `.url`, `.stop()` and helpers for the control API.

    Also usable against an emulator started elsewhere: `Emulator(url)`."""

    def __init__(self, url: str, server: BaseWSGIServer | None = None,
                 thread: threading.Thread | None = None):
        self.url = url.rstrip("/")
        self._server = server
        self._thread = thread

    # ---- lifecycle -------------------------------------------------------- #

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def client(self, service: str, region: str = "us-east-1", **config: Any) -> Any:
        """A boto3 client of `service` talking to this emulator (`config`: botocore's Config)."""
        import boto3
        from botocore.config import Config

        return boto3.client(service, endpoint_url=self.url, region_name=region,
                            config=Config(**config) if config else None,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    # ---- control API ------------------------------------------------------ #

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.url}/_emulator/{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def calls(self) -> list[dict[str, str]]:
        return self._call("GET", "calls")

    def clear_calls(self) -> None:
        self._call("DELETE", "calls")

    def journal(self) -> list[dict[str, Any]]:
        """Every call since start or reset, with its principal, parameters and resource tags."""
        return self._call("GET", "journal")

    def add_fault(self, action: str, code: str, *, status: int = 400, message: str | None = None,
                  count: int = 1, service: str | None = None,
                  delay_seconds: float = 0, location: str | None = None,
                  match: str | None = None) -> list[dict[str, Any]]:
        """Fail the next `count` calls of `action` with `code`; with `delay_seconds`, answer
        that much later (and with `code=""`, answer normally after the delay); `location`
        adds a Location header (a redirect, with a 3xx `status`); `match` limits the fault to
        calls whose request body holds that text (say, a parameter's name)."""
        fault: dict[str, Any] = {"action": action, "code": code, "status": status, "count": count,
                                 "message": message or code, "delay_seconds": delay_seconds,
                                 "location": location, "match": match}
        if service:
            fault["service"] = service
        return self._call("POST", "faults", fault)

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "faults")

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def settings(self) -> dict[str, float]:
        return self._call("GET", "settings")

    def set_settings(self, *, pending_seconds: float | None = None,
                     eni_linger_seconds: float | None = None,
                     rules_per_group: int | None = None,
                     ec2_throttling: bool | None = None) -> dict[str, float]:
        payload = {k: v for k, v in {"pending_seconds": pending_seconds,
                                     "eni_linger_seconds": eni_linger_seconds,
                                     "rules_per_group": rules_per_group,
                                     "ec2_throttling": ec2_throttling}.items()
                   if v is not None}
        return self._call("POST", "settings", payload)

    def throttling(self, *, reset: bool = False) -> dict[str, dict[str, int]]:
        """What EC2's token buckets answered, by action ({"allowed": ..., "throttled": ...});
        `reset` also fills every bucket."""
        return self._call("DELETE" if reset else "GET", "throttling")

    def crash_after(self, counts: Callable[[dict[str, Any]], bool], n: int,
                    kill: Callable[[], None]) -> None:
        """Calls `kill` right after the `n`-th call that `counts` accepts has taken effect, before
        its answer is sent (so the caller never hears it): what a function crashing, or Lambda
        killing it, right after an AWS call looks like. `counts` gets the call's journal entry
        and its HTTP `method`. In-process only: the emulator and the tests share this process."""
        with CONTROL.lock:
            CONTROL.crashes.append({"counts": counts, "after": n, "seen": 0, "kill": kill})

    def disarm_crashes(self) -> None:
        with CONTROL.lock:
            CONTROL.crashes.clear()

    def register_function(self, arn: str, function: Any) -> None:
        """SNS delivery to Lambda functions (sns.py): SNS delivers messages for the Lambda `arn` to
        `function` (a LambdaFunction of tests/harness/runtime.py). In-process emulators only:
        moto's backends are this process's."""
        _FUNCTIONS[arn] = function

    def reset(self) -> None:
        """Reset moto's state, faults, call log and settings."""
        self._call("POST", "reset", {})

    def health(self) -> bool:
        try:
            return bool(self._call("GET", "health").get("ok"))
        except (urllib.error.URLError, OSError):
            return False


def _serve(port: int, quiet: bool = True) -> BaseWSGIServer:
    server = make_server(
        "127.0.0.1", port, make_app(), threaded=True,
        request_handler=_QuietHandler if quiet else MotoRequestHandler,
    )
    # Room for many clients connecting at once (werkzeug listens with a backlog of 128): the
    # bench's rollout starts hundreds of functions together.
    server.socket.listen(1024)
    return server


def start_emulator(port: int = 0, quiet: bool = True) -> Emulator:
    """Serve the emulator in a daemon thread of this process (port 0: a free port)."""
    server = _serve(port, quiet)
    thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
    thread.start()
    return Emulator(f"http://127.0.0.1:{server.server_port}", server, thread)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="moto, extended to behave like AWS.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    server = _serve(args.port, quiet=not args.verbose)
    print(f"EMULATOR_URL=http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
