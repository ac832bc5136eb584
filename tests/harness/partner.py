"""A loopback stand-in for the partner's service as seen from inside the VPC: a DNS server (what
Private DNS makes the VPC's resolver answer) and HTTPS servers on several loopback addresses
(the endpoint's network interfaces, one per Availability Zone), with certificates from a CA made
for the test. Everything listens on 127.0.0.0/8 only.

`PartnerDns(records)` answers A/AAAA for the names in `records` and NXDOMAIN for any other;
`PartnerHttps(addresses, names)` serves HTTPS on every address at one port; its status, body,
delay and certificate (another name, expired) can be changed while it runs, and it can offer
HTTP/2 by ALPN (`http2=True`), ask for a client certificate (`client_ca`), stop at TLS 1.2
(`max_tls="1.2"`) and fail the next requests (`fail_next`)."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme
from dnslib import AAAA, QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSServer


def free_port(host: str, kind: int) -> int:
    """A port free on `host` for `kind` (socket.SOCK_STREAM or SOCK_DGRAM), as the OS picks it."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _bind_all(factories: list[Any], close: Any, host: str, kind: int, tries: int = 20) -> tuple[int, list[Any]]:
    """Binds one server per factory, all on one port; a port free on `host` may be taken on
    another address or protocol, so on a clash it closes what it made and tries another."""
    for _ in range(tries):
        port = free_port(host, kind)
        made: list[Any] = []
        try:
            for factory in factories:
                made.append(factory(port))
            return port, made
        except OSError:
            for server in made:
                close(server)
    raise OSError(f"no port free on every address after {tries} tries")


def zonal_dns_names(dns_entries: list[dict[str, Any]]) -> dict[str, str]:
    """An endpoint's zonal DNS names by zone, from its `DnsEntries`:
    `vpce-<id>-<suffix>-<zone>.<service domain>`; the regional name has no zone."""
    names = {}
    for entry in dns_entries:
        parts = entry["DnsName"].split(".")[0].split("-")
        if len(parts) > 3:
            names["-".join(parts[3:])] = entry["DnsName"]
    return names


class _Records(BaseResolver):
    def __init__(self, owner: "PartnerDns"):
        self.owner = owner

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if self.owner.delay_s:
            time.sleep(self.owner.delay_s)
        addresses = self.owner.records.get(name)
        if addresses is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if ip.version == 4 and request.q.qtype in (QTYPE.A, QTYPE.ANY):
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=60))
            if ip.version == 6 and request.q.qtype in (QTYPE.AAAA, QTYPE.ANY):
                reply.add_answer(RR(request.q.qname, QTYPE.AAAA, rdata=AAAA(address), ttl=60))
        return reply


class PartnerDns:
    """A DNS server on 127.0.0.1 (UDP and TCP, one port) answering from `records`."""

    def __init__(self, records: dict[str, list[str]], host: str = "127.0.0.1"):
        self.records = {name.lower(): list(ips) for name, ips in records.items()}
        self.delay_s = 0.0
        self.host = host
        resolver = _Records(self)
        # A port free for UDP may be taken for TCP: try again with another.
        self.port, self._servers = _bind_all(
            [lambda port, tcp=tcp: DNSServer(resolver, address=host, port=port, tcp=tcp, logger=_Quiet())
             for tcp in (False, True)],
            lambda server: server.server.server_close(), host, socket.SOCK_DGRAM)
        for server in self._servers:
            server.start_thread()

    @property
    def address(self) -> str:
        """`IP:PORT`, as `--resolver` takes it."""
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        for server in self._servers:
            server.stop()


class _Quiet:
    """dnslib logs every query by default."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def handle(self) -> None:
        try:
            self.connection.do_handshake()
        except (ssl.SSLError, OSError):
            return  # a client refusing our certificate (or ours refusing it): what some tests want
        if self.connection.selected_alpn_protocol() == "h2":
            _serve_h2(self.server, self.connection)
        else:
            super().handle()

    def _answer(self) -> None:
        partner = self.server.partner
        status, body = partner.answer(self.headers.get("Host") or "")
        self.send_response(status)
        if partner.location:
            self.send_header("Location", partner.location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        partner.requests.append(_Request(self.server.server_address[0], self.headers.get("Host"),
                                         self.path, self.command, "HTTP/1.1", dict(self.headers)))

    do_GET = do_POST = do_HEAD = do_PUT = do_OPTIONS = _answer  # noqa: N815 (http.server's naming)

    def log_message(self, *args: Any) -> None:
        pass


class _Request(tuple):
    """What the stand-in was asked: (address, host, path), then method, protocol and headers."""

    def __new__(cls, address: str, host: str | None, path: str, method: str, protocol: str,
                headers: dict[str, str]) -> "_Request":
        made = super().__new__(cls, (address, host, path))
        made.method, made.protocol = method, protocol
        made.headers = {k.lower(): v for k, v in headers.items()}
        return made


def _serve_h2(server: "_Server", sock: Any) -> None:
    """One HTTP/2 connection, answered with the h2 library: each request gets the partner's
    status and body."""
    import h2.config
    import h2.connection
    import h2.events

    partner = server.partner
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    while True:
        try:
            data = sock.recv(65535)
        except OSError:
            return
        if not data:
            return
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                headers = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
                           for k, v in event.headers}
                status, body = partner.answer(headers.get(":authority", ""))
                conn.send_headers(event.stream_id, [(":status", str(status)),
                                                    ("content-length", str(len(body)))])
                conn.send_data(event.stream_id, body, end_stream=True)
                partner.requests.append(_Request(server.server_address[0], headers.get(":authority"),
                                                 headers.get(":path", ""), headers.get(":method", ""),
                                                 "HTTP/2", headers))
        sock.sendall(conn.data_to_send())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many checks connect at once (the validator's fan-out): the default backlog of 5 refuses them.
    request_queue_size = 512
    partner: "PartnerHttps"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # failed handshakes (a client refusing our certificate) are what some tests want


class PartnerHttps:
    """HTTPS on each of `addresses` (loopback IPs) at one port, certificates for `names`."""

    def __init__(self, addresses: list[str], names: list[str], port: int | None = None, *,
                 http2: bool = False, client_ca: "trustme.CA | None" = None,
                 max_tls: str | None = None):
        self.ca = trustme.CA()
        self.addresses = addresses
        self.names = names
        self.status = 200
        self.body: bytes | None = None  # None: "partner api: <host>"
        self.fail_next = 0  # the next this many requests are answered 503
        self.delay_s = 0.0
        self.location: str | None = None  # a Location header (for a 3xx status)
        self.requests: list[_Request] = []
        self._lock = threading.Lock()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.set_alpn_protocols(["h2", "http/1.1"] if http2 else ["http/1.1"])
        if client_ca is not None:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(cadata=client_ca.cert_pem.bytes().decode())
        if max_tls == "1.2":
            self.context.maximum_version = ssl.TLSVersion.TLSv1_2
        self.use_certificate(names)
        # One port on every address; a port free on the first may be taken on another.
        factories = [lambda port, address=address: _Server((address, port), _Handler) for address in addresses]
        if port is None:
            self.port, self._servers = _bind_all(factories, lambda server: server.server_close(),
                                                 addresses[0], socket.SOCK_STREAM)
        else:
            self.port, self._servers = port, [factory(port) for factory in factories]
        for server in self._servers:
            server.partner = self
            # The handshake happens in each connection's own thread (on its first read), not in
            # the accept loop, which would serialize many clients' handshakes.
            server.socket = self.context.wrap_socket(server.socket, server_side=True,
                                                     do_handshake_on_connect=False)
            threading.Thread(target=server.serve_forever, daemon=True).start()

    @property
    def ca_pem(self) -> str:
        return self.ca.cert_pem.bytes().decode()

    def answer(self, host: str) -> tuple[int, bytes]:
        """The status and body of the next request."""
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            failing = self.fail_next > 0
            self.fail_next -= failing
        body = self.body if self.body is not None else f"partner api: {host}\n".encode()
        return (503 if failing else self.status), body

    def use_certificate(self, names: list[str], expired: bool = False) -> None:
        """Serve a certificate for `names`, valid for 90 days like a public one (or expired a day
        ago when `expired`)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        days = datetime.timedelta(days=1)
        validity = ({"not_before": now - 30 * days, "not_after": now - days} if expired
                    else {"not_before": now - days, "not_after": now + 90 * days})
        leaf = self.ca.issue_cert(*names, **validity)
        leaf.configure_cert(self.context)  # takes effect for new handshakes

    def stop(self, address: str | None = None) -> None:
        """Stops serving (on `address` only, when given: that interface stops answering)."""
        for server in list(self._servers):
            if address is None or server.server_address[0] == address:
                server.shutdown()
                server.server_close()
                self._servers.remove(server)


def stand_in_on_endpoint(ec2: Any, endpoint_id: str, name: str, port: int) -> tuple[PartnerDns, PartnerHttps]:
    """The partner's API as it looks from inside the consumer VPC, on an endpoint's interfaces:
    DNS answering `name` with every interface's address (what Private DNS makes the VPC's
    resolver answer) and each zone's own name with that zone's (what AWS's DNS answers for it),
    and HTTPS for `name` on those addresses, with a CA of its own (`PartnerHttps.ca_pem`)."""
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]
    enis = ec2.describe_network_interfaces(
        NetworkInterfaceIds=endpoint["NetworkInterfaceIds"])["NetworkInterfaces"]
    addresses = [eni["PrivateIpAddress"] for eni in enis]
    by_zone = {eni["AvailabilityZone"]: eni["PrivateIpAddress"] for eni in enis}
    records = {name: addresses}
    records.update({zonal: [by_zone[zone]] for zone, zonal in zonal_dns_names(endpoint["DnsEntries"]).items()})
    return PartnerDns(records), PartnerHttps(addresses, [name], port=port)
