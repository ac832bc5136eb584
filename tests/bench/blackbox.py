"""The validator beside Prometheus blackbox_exporter (Debian's prometheus-blackbox-exporter), the
tool a platform team would otherwise run for the same checks: the same 1,000 HTTPS targets behind
one stand-in (tests/bench/partner: DNS and HTTPS, answering after 100 ms), each tool in a fresh
process, at the same concurrency. Wall time (first request to last answer), the process's CPU
time (user and system) and its peak memory (VmHWM), as ratios validator / blackbox_exporter.

- The validator: one invocation with the 1,000 targets (`VALIDATOR_CONCURRENCY`), resolving
  through the stand-in's DNS (`VALIDATOR_RESOLVER`), trusting the stand-in's CA.
- blackbox_exporter: its `http` prober (2xx, IPv4, the CA in `tls_config`), one `/probe` per
  target, asked `concurrency` at a time by curl (`--parallel`, C, so the asking costs next to
  nothing beside the prober). It resolves through the system's resolver: it runs in a mount
  namespace of its own (`unshare -m`) where /etc/resolv.conf is bind-mounted to one naming the
  stand-in's DNS, so the machine's resolver is never changed.

Needs root (the mount namespace, and the stand-in's DNS on port 53 of a loopback address, as
resolv.conf names no port)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.harness.partner import free_port
from tests.harness.runtime import LambdaFunction, process_cpu_seconds, process_peak_rss_kib

EXPORTER = "prometheus-blackbox-exporter"
# The stand-in's addresses: HTTPS on one, DNS on port 53 of another (resolv.conf names no port).
HTTPS_ADDRESS = "127.30.0.2"
DNS_ADDRESS = "127.30.0.53"


def exporter_available() -> str | None:
    """Why the comparison can't run here, or None."""
    if os.geteuid() != 0:
        return "needs root (a mount namespace for blackbox_exporter's resolv.conf, DNS on port 53)"
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    if shutil.which(EXPORTER) is None:
        installed = subprocess.run(["apt-get", "install", "-y", "-q", EXPORTER], capture_output=True, text=True)
        if installed.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", EXPORTER], capture_output=True)
        if shutil.which(EXPORTER) is None:
            return f"{EXPORTER} is not installed and apt-get could not install it"
    return None


class Standin:
    """The stand-in partner: DNS on DNS_ADDRESS:53 answering every name with HTTPS_ADDRESS, and
    HTTPS there answering 200 after `delay_ms`."""

    def __init__(self, binary: Path, work: Path, cert: Path, key: Path, delay_ms: int = 100) -> None:
        self.https_port = free_port(HTTPS_ADDRESS, socket.SOCK_STREAM)
        self.process = subprocess.Popen(
            [str(binary.resolve()), "--dns", f"{DNS_ADDRESS}:53", "--https", f"{HTTPS_ADDRESS}:{self.https_port}",
             "--address", HTTPS_ADDRESS, "--delay-ms", str(delay_ms), "--cert", str(cert), "--key", str(key)],
            stdout=subprocess.PIPE, text=True, cwd=work)
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def run_validator(binary: Path, env: dict[str, str], ca_pem: str, names: list[str], port: int,
                  concurrency: int) -> dict[str, float]:
    fn = LambdaFunction(binary, {**env, "VALIDATOR_CA_PEM": ca_pem, "VALIDATOR_RESOLVER": f"{DNS_ADDRESS}:53",
                                 "VALIDATOR_ENDPOINT_CHECKS": "false", "VALIDATOR_CONCURRENCY": str(concurrency)},
                        name="privatelink-validator")
    targets = [{"Name": name, "ExpectedIps": [HTTPS_ADDRESS], "Port": str(port), "TimeoutMs": "30000"}
               for name in names]
    try:
        fn.cold_start()
        started = time.perf_counter()
        invocation = fn.invoke({"Targets": targets}, deadline_s=600, timeout_s=660)
        wall = time.perf_counter() - started
        assert invocation.kind == "response" and invocation.body["ok"], str(invocation.body)[:2000]
        return {"wall_s": wall, "cpu_s": fn.cpu_seconds() or 0.0, "peak_mib": (fn.peak_rss_kib() or 0) / 1024}
    finally:
        fn.stop()


def run_exporter(ca_file: Path, names: list[str], port: int, concurrency: int, work: Path) -> dict[str, float]:
    config = work / "blackbox.yml"
    config.write_text(
        "modules:\n"
        "  https_2xx:\n"
        "    prober: http\n"
        "    timeout: 30s\n"
        "    http:\n"
        "      valid_status_codes: [200]\n"
        "      preferred_ip_protocol: ip4\n"
        "      ip_protocol_fallback: false\n"
        "      tls_config:\n"
        f"        ca_file: {ca_file}\n")
    resolv = work / "resolv.conf"
    resolv.write_text(f"nameserver {DNS_ADDRESS}\noptions timeout:5 attempts:1\n")
    listen = f"127.0.0.1:{free_port('127.0.0.1', socket.SOCK_STREAM)}"
    exporter = subprocess.Popen(
        ["unshare", "-m", "sh", "-c",
         f"mount --bind {resolv} /etc/resolv.conf && exec {EXPORTER} --config.file={config} "
         f"--web.listen-address={listen} --log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{listen}/metrics", timeout=2).read()
                break
            except OSError:
                assert exporter.poll() is None, exporter.stderr.read() if exporter.stderr else ""
                assert time.monotonic() < deadline, "blackbox_exporter did not start"
                time.sleep(0.05)
        outputs = work / "probes"
        outputs.mkdir(exist_ok=True)
        requests = work / "probes.curl"
        requests.write_text("".join(
            f'url = "http://{listen}/probe?module=https_2xx&target=https://{name}:{port}/"\n'
            f'output = "{outputs / str(i)}"\n' for i, name in enumerate(names)))
        cpu_before = process_cpu_seconds(exporter.pid) or 0.0
        started = time.perf_counter()
        subprocess.run(["curl", "--silent", "--no-progress-meter", "--show-error", "--fail", "--parallel", "--parallel-immediate",
                        "--parallel-max", str(concurrency), "--config", str(requests)], check=True)
        wall = time.perf_counter() - started
        cpu = process_cpu_seconds(exporter.pid) or 0.0
        peak = (process_peak_rss_kib(exporter.pid) or 0) / 1024
        failed = [i for i in range(len(names))
                  if "probe_success 1" not in (outputs / str(i)).read_text()]
        assert not failed, f"{len(failed)} probes failed, e.g. {(outputs / str(failed[0])).read_text()[:1500]}"
        return {"wall_s": wall, "cpu_s": cpu, "cpu_before_s": cpu_before, "peak_mib": peak}
    finally:
        exporter.terminate()
        try:
            exporter.wait(timeout=10)
        except subprocess.TimeoutExpired:
            exporter.kill()


def compare(partner: Path, validator: Path, env: dict[str, str], ca: Any, targets: int,
            concurrencies: list[int], rounds: int = 2) -> dict[int, dict[str, Any]]:
    """Each concurrency's figures for both tools (the median round by the validator's wall time
    ratio), in one run, alternating which tool goes first."""
    work = Path(tempfile.mkdtemp(prefix="bench-blackbox-"))
    leaf = ca.issue_cert("*.partner.bench")
    (work / "cert.pem").write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    (work / "key.pem").write_bytes(leaf.private_key_pem.bytes())
    (work / "ca.pem").write_bytes(ca.cert_pem.bytes())
    names = [f"t{i}.partner.bench" for i in range(targets)]
    standin = Standin(partner, work, work / "cert.pem", work / "key.pem")
    results: dict[int, dict[str, Any]] = {}
    try:
        for concurrency in concurrencies:
            samples = []
            for round_ in range(rounds):
                order = ["validator", "exporter"] if round_ % 2 == 0 else ["exporter", "validator"]
                figures: dict[str, dict[str, float]] = {}
                for tool in order:
                    if tool == "validator":
                        figures[tool] = run_validator(validator, env, ca.cert_pem.bytes().decode(), names,
                                                      standin.https_port, concurrency)
                    else:
                        figures[tool] = run_exporter(work / "ca.pem", names, standin.https_port, concurrency, work)
                samples.append({
                    **figures,
                    "wall_ratio": figures["validator"]["wall_s"] / figures["exporter"]["wall_s"],
                    "cpu_ratio": figures["validator"]["cpu_s"] / figures["exporter"]["cpu_s"],
                    "memory_ratio": figures["validator"]["peak_mib"] / figures["exporter"]["peak_mib"],
                })
            samples.sort(key=lambda s: s["wall_ratio"])
            results[concurrency] = {**samples[len(samples) // 2], "rounds": rounds}
    finally:
        standin.stop()
        shutil.rmtree(work, ignore_errors=True)
    return results
