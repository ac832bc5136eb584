"""A small AWS Lambda Runtime API, to run real function binaries as Lambda does.

`LambdaFunction(binary, env)` serves the Runtime API on 127.0.0.1:<free port>,
starts the binary with AWS_LAMBDA_RUNTIME_API pointing at it (plus the usual
Lambda variables), and `invoke(event)` hands one event to the runtime's
`GET /2018-06-01/runtime/invocation/next` long poll and waits for its
`.../response` or `.../error` post. Like Lambda, a process that dies fails the
invocation in flight ("crashed") and is started afresh on the next invoke, and
an invocation that exceeds its timeout kills the process ("timeout").

Implemented routes (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
    GET  /2018-06-01/runtime/invocation/next
    POST /2018-06-01/runtime/invocation/{id}/response
    POST /2018-06-01/runtime/invocation/{id}/error
    POST /2018-06-01/runtime/init/error
"""

from __future__ import annotations

import atexit
import json
import sys
import os
import subprocess
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Sequence

_API = "/2018-06-01/runtime"
_ACCOUNT_ID = "123456789012"

# Variables of the host passed to the function: the rest of the host's
# environment (AWS_PROFILE, ...) must not leak into a function under test.
_HOST_VARS = ("PATH", "LANG", "RUST_BACKTRACE", "RUST_LOG")


@dataclass
class Invocation:
    """The outcome of one invoke."""

    request_id: str
    kind: str  # "response" | "error" | "crashed" | "timeout"
    body: Any  # parsed JSON when possible, else the raw text (None if nothing was posted)
    logs: list[str]
    duration_s: float
    error_type: str | None = None  # Lambda-Runtime-Function-Error-Type header of an error post
    exit_code: int | None = None  # set when the process died


@dataclass
class _Pending:
    request_id: str
    payload: bytes
    deadline_ms: int
    trace_id: str
    done: threading.Event = field(default_factory=threading.Event)
    delivered: bool = False
    kind: str | None = None
    body: bytes | None = None
    error_type: str | None = None
    exit_code: int | None = None

    def finish(self, kind: str, body: bytes | None = None, error_type: str | None = None) -> bool:
        """First outcome wins (a late post after a timeout is ignored)."""
        if self.done.is_set():
            return False
        self.kind, self.body, self.error_type = kind, body, error_type
        self.done.set()
        return True


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the runtime clients expect
    server: "_RuntimeApiServer"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path != f"{_API}/invocation/next":
            self._reply(404, b'{"errorMessage":"not found"}')
            return
        self.server.owner._note_poll()
        pending = self.server.owner._next_event()
        if pending is None:  # shutting down, or this poll belongs to a dead process
            self._reply(500, b'{"errorMessage":"runtime is shutting down"}')
            self.close_connection = True
            return
        fn = self.server.owner
        self._reply(200, pending.payload, {
            "Lambda-Runtime-Aws-Request-Id": pending.request_id,
            "Lambda-Runtime-Deadline-Ms": str(pending.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": fn.function_arn,
            "Lambda-Runtime-Trace-Id": pending.trace_id,
        })

    def do_POST(self) -> None:
        body = self._read_body()
        parts = self.path.removeprefix(_API).strip("/").split("/")
        fn = self.server.owner
        if parts == ["init", "error"]:
            fn._init_error(body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
            self._reply(202, b'{"status":"OK"}')
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            kind = "response" if parts[2] == "response" else "error"
            if fn._complete(parts[1], kind, body, self.headers.get("Lambda-Runtime-Function-Error-Type")):
                self._reply(202, b'{"status":"OK"}')
            else:
                self._reply(400, b'{"errorMessage":"unknown or finished request id",'
                                 b'"errorType":"InvalidRequestID"}')
        else:
            self._reply(404, b'{"errorMessage":"not found"}')


class _RuntimeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A function killed mid-request (a timeout, a stop) drops its connection: not news.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    def __init__(self, owner: "LambdaFunction"):
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)


_LIVE: "weakref.WeakSet[LambdaFunction]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """No process outlives the test run."""
    for fn in list(_LIVE):
        fn.stop()


class LambdaFunction:
    """A function binary run under the emulated Runtime API.

    `binary_path` is the executable (or an argv list, e.g. [python, script]);
    `env` is added to (and overrides) the Lambda variables."""

    def __init__(self, binary_path: str | os.PathLike[str] | Sequence[str],
                 env: dict[str, str] | None = None, *, name: str | None = None,
                 memory_mb: int = 128, region: str = "us-east-1"):
        if isinstance(binary_path, (str, os.PathLike)):
            self.argv = [str(binary_path)]
        else:
            self.argv = [str(a) for a in binary_path]
        self.name = name or Path(self.argv[-1]).name
        self.region = region
        self.memory_mb = memory_mb
        self.function_arn = f"arn:aws:lambda:{region}:{_ACCOUNT_ID}:function:{self.name}"
        self.extra_env = dict(env or {})

        self._lock = threading.Condition()
        self._invoke_lock = threading.Lock()  # one invocation at a time, as in one sandbox
        self._queue: list[_Pending] = []
        self._current: _Pending | None = None
        self._generation = 0  # bumped each time a process starts: old polls are dropped
        self._stopping = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: list[str] = []
        self._lines_lock = threading.Lock()
        self.init_errors: list[Any] = []
        self.starts = 0  # how many processes were started (cold starts)
        self.spawned_at: float | None = None  # perf_counter at the latest spawn
        self.first_poll_at: float | None = None  # ...and at its first request for work

        self._server = _RuntimeApiServer(self)
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, name=f"runtime-api-{self.name}", daemon=True
        )
        self._server_thread.start()
        self.runtime_api = f"127.0.0.1:{self._server.server_port}"
        _LIVE.add(self)
        self._start_process()

    # ---- process ---------------------------------------------------------- #

    def environment(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in _HOST_VARS if k in os.environ}
        env.update({
            "AWS_LAMBDA_RUNTIME_API": self.runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]")
            + uuid.uuid4().hex,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "LAMBDA_TASK_ROOT": str(Path(self.argv[-1]).resolve().parent),
            "_HANDLER": "bootstrap",
            "TZ": ":UTC",
        })
        env.update(self.extra_env)
        return env

    def _start_process(self) -> None:
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._lock.notify_all()  # wake polls of an older process so they give up
        self._log(f"[harness] starting {' '.join(self.argv)}")
        self.first_poll_at = None
        self.spawned_at = time.perf_counter()
        proc = subprocess.Popen(
            self.argv, env=self.environment(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self._proc = proc
        self.starts += 1
        pumps = [threading.Thread(target=self._pump, args=(stream,), daemon=True)
                 for stream in (proc.stdout, proc.stderr)]
        for pump in pumps:
            pump.start()
        threading.Thread(target=self._watch, args=(proc, generation, pumps), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            self._log(raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    def _watch(self, proc: subprocess.Popen[bytes], generation: int,
               pumps: list[threading.Thread]) -> None:
        """Fail the invocation in flight when its process dies."""
        code = proc.wait()
        for pump in pumps:  # its last words belong to the crashed invocation
            pump.join(timeout=1)
        self._log(f"[harness] process exited with {code}")
        with self._lock:
            if generation != self._generation:
                return
            # The event in flight, or the one it never fetched (died during init).
            pending = self._current or (self._queue[0] if self._queue else None)
            self._current = None
            self._queue.clear()
            self._lock.notify_all()
        if pending is not None:
            pending.exit_code = code
            pending.finish("crashed")

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    # ---- logs ------------------------------------------------------------- #

    def _log(self, line: str) -> None:
        with self._lines_lock:
            self._lines.append(line)

    def mark(self) -> int:
        """A position in the log; pass it to `logs_since`."""
        with self._lines_lock:
            return len(self._lines)

    def logs_since(self, mark: int = 0) -> list[str]:
        with self._lines_lock:
            return list(self._lines[mark:])

    @property
    def logs(self) -> list[str]:
        return self.logs_since(0)

    # ---- measurements (make bench) ---------------------------------------- #

    def _note_poll(self) -> None:
        with self._lock:
            if self.first_poll_at is None:
                self.first_poll_at = time.perf_counter()
                self._lock.notify_all()

    def cold_start(self, timeout_s: float = 10) -> float:
        """Starts a fresh process and returns the seconds from its spawn to its first request
        for work (`GET .../invocation/next`): what Lambda bills as init."""
        with self._invoke_lock:
            if self._alive():
                self._kill()
            self._start_process()
            deadline = time.monotonic() + timeout_s
            with self._lock:
                while self.first_poll_at is None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(f"{self.name} did not ask for work within {timeout_s} s")
                    self._lock.wait(timeout=left)
            return self.first_poll_at - self.spawned_at

    def minor_faults(self) -> int | None:
        """The running process's minor page faults so far (from /proc/<pid>/stat): right after
        `cold_start`, what start-up touched of the binary and the heap."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return None
        try:
            # Fields after the command name (which may hold spaces): minflt is the 10th field.
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(fields[7])
        except (OSError, IndexError, ValueError):
            return None

    def cpu_seconds(self) -> float | None:
        """The CPU time the running process has used so far, user and system (/proc/<pid>/stat)."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return None
        return process_cpu_seconds(proc.pid)

    def peak_rss_kib(self) -> int | None:
        """The running process's peak resident memory (VmHWM), in KiB."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return None
        return process_peak_rss_kib(proc.pid)

    # ---- Runtime API callbacks ------------------------------------------- #

    def _next_event(self) -> _Pending | None:
        with self._lock:
            generation = self._generation
            while not self._queue:
                if self._stopping or generation != self._generation:
                    return None
                self._lock.wait(timeout=0.5)
            if self._stopping or generation != self._generation:
                return None
            pending = self._queue.pop(0)
            pending.delivered = True
            self._current = pending
            return pending

    def _complete(self, request_id: str, kind: str, body: bytes, error_type: str | None) -> bool:
        with self._lock:
            pending = self._current
            if pending is None or pending.request_id != request_id:
                return False
            self._current = None
        return pending.finish(kind, body, error_type)

    def _init_error(self, body: bytes, error_type: str | None) -> None:
        """Lambda fails the invocation that triggered the failed init."""
        self.init_errors.append(_parse(body))
        with self._lock:
            pending = self._current or (self._queue[0] if self._queue else None)
            self._current = None
            self._queue.clear()
        if pending is not None:
            pending.finish("error", body, error_type or "Runtime.InitError")

    # ---- public API ------------------------------------------------------- #

    def invoke(self, event: dict[str, Any] | list[Any] | bytes | str,
               timeout_s: float = 60, deadline_s: float = 60,
               deadline_ms: int | None = None) -> Invocation:
        """Run one event through the function and wait for its outcome. `deadline_ms` sends
        that `Lambda-Runtime-Deadline-Ms` as is (what other Runtime API emulators send)."""
        if isinstance(event, bytes):
            payload = event
        elif isinstance(event, str):
            payload = event.encode()
        else:
            payload = json.dumps(event).encode()
        with self._invoke_lock:
            if self._stopping:
                raise RuntimeError(f"{self.name} is stopped")
            if not self._alive():  # Lambda starts a fresh process after a crash
                self._start_process()
            start_mark, started = self.mark(), time.monotonic()
            pending = _Pending(
                request_id=str(uuid.uuid4()),
                payload=payload,
                deadline_ms=deadline_ms if deadline_ms is not None else int((time.time() + deadline_s) * 1000),
                trace_id=f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            )
            with self._lock:
                self._queue.append(pending)
                self._lock.notify_all()
            if not self._wait(pending, started + timeout_s):
                # Lambda: "Task timed out"; the sandbox is reset.
                if pending.finish("timeout"):
                    with self._lock:
                        self._current = None
                        self._queue.clear()
                    self._kill()
            self._settle_logs()
            return Invocation(
                request_id=pending.request_id,
                kind=pending.kind or "crashed",
                body=_parse(pending.body),
                logs=self.logs_since(start_mark),
                duration_s=time.monotonic() - started,
                error_type=pending.error_type,
                exit_code=pending.exit_code,
            )

    def _wait(self, pending: _Pending, until: float) -> bool:
        """Wait for the outcome; False on timeout. Also covers a process that died
        just before the event was queued, which its watcher could not attribute."""
        proc = self._proc
        dead_since: float | None = None
        while not pending.done.wait(0.05):
            now = time.monotonic()
            if now >= until:
                return False
            if proc is not None and proc.poll() is not None:
                dead_since = dead_since or now
                if now - dead_since > 0.5:  # the watcher had its chance
                    with self._lock:
                        self._current = None
                        self._queue.clear()
                    pending.exit_code = proc.returncode
                    pending.finish("crashed")
        return True

    def _settle_logs(self, quiet_s: float = 0.05, max_s: float = 0.5) -> None:
        """Lines written just before a post may still be in the pipe: wait until
        the log has been quiet for `quiet_s` (at most `max_s`)."""
        end = time.monotonic() + max_s
        last = self.mark()
        while time.monotonic() < end:
            time.sleep(quiet_s)
            now = self.mark()
            if now == last:
                return
            last = now

    def crash(self) -> None:
        """Kills the process as a crash (or Lambda's timeout) would: the invocation under way
        ends "crashed", and the next invoke starts a fresh process, as Lambda does."""
        self._kill()

    def stop(self) -> None:
        """Kill the process and stop the Runtime API server (idempotent)."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._lock.notify_all()
        self._kill()
        self._server.shutdown()
        self._server.server_close()
        _LIVE.discard(self)

    def __enter__(self) -> "LambdaFunction":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _parse(body: bytes | None) -> Any:
    if body is None:
        return None
    text = body.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def process_cpu_seconds(pid: int) -> float | None:
    """The CPU time process `pid` has used, user and system (utime and stime in /proc/<pid>/stat,
    the 14th and 15th fields, in clock ticks)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def process_peak_rss_kib(pid: int) -> int | None:
    """Process `pid`'s peak resident memory (VmHWM in /proc/<pid>/status), in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None
