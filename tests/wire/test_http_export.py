"""The HTTP senders against a real local collector: configured headers reach
it, https is verified (a test CA made here with the openssl CLI: the right CA
delivers, a wrong CA or the system store is refused and counted, a client
certificate is presented when the collector requires one), and the OTLP retry
rules hold: 503 + Retry-After: 1 then 200 loses nothing and waits the second,
400 is dropped and counted once, a Retry-After beyond the export budget is not
waited for."""
import os
import ssl
import subprocess
import time

import pytest

from conftest import HttpSink, assert_balanced, decode_binary_batch, decode_otlp, of_type, run_driver


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate signed
    by it, and a second, unrelated CA."""
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2",
                 "-subj", "/CN=tracewire test " + ca,
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    (d / "srv.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                               "extendedKeyUsage=serverAuth\n")
    (d / "cli.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, cn in (("srv", "127.0.0.1"), ("cli", "tracewire-client")):
        _openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn,
                 cwd=d)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile",
                 name + ".ext", cwd=d)
    return {k: str(d / k) for k in ("ca.pem", "other-ca.pem", "srv.pem", "srv.key", "cli.pem",
                                      "cli.key")}


def _server_ctx(pki, require_client=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["srv.pem"], pki["srv.key"])
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki["ca.pem"])
    return ctx


@pytest.fixture
def https_sink(pki):
    s = HttpSink(tls=_server_ctx(pki))
    yield s
    s.close()


@pytest.fixture
def mtls_sink(pki):
    s = HttpSink(tls=_server_ctx(pki, require_client=True))
    yield s
    s.close()


def _otlp(sink, scheme="http", *extra):
    return run_driver("full", "reporter.protocols=otlp",
                      "reporter.otlp_endpoint=%s://127.0.0.1:%d/v1/traces" % (scheme, sink.port),
                      *extra)


def _delivered_ops(sink):
    return sorted(sp.name for _, body in sink.accepted
                  for rs in decode_otlp(body).resource_spans for ss in rs.scope_spans
                  for sp in ss.spans)


# ------------------------------------------------------------------ headers

def test_otlp_headers_reach_the_collector(http_sink):
    lines = _otlp(http_sink, "http",
                  "reporter.otlp_headers=Authorization=Bearer%20s3cr3t%2C1 , x-tenant = t1,"
                  "x-empty=")
    (c,) = of_type(lines, "counters")
    assert c["reported"] == 3
    (h,) = http_sink.headers
    assert h["authorization"] == "Bearer s3cr3t,1", "percent-decoded, name kept, value trimmed"
    assert h["x-tenant"] == "t1"
    assert h["x-empty"] == ""
    assert h["content-type"] == "application/x-protobuf"
    assert "expect" not in h


def test_thrift_http_headers_reach_the_collector(http_sink):
    lines = run_driver("full", "reporter.protocols=http",
                       "reporter.endpoint=http://127.0.0.1:%d/api/traces" % http_sink.port,
                       "reporter.http_headers=authorization=Basic%20dHc6dw==")
    (c,) = of_type(lines, "counters")
    assert c["reported"] == 3
    (h,) = http_sink.headers
    assert h["authorization"] == "Basic dHc6dw=="
    assert h["content-type"] == "application/x-thrift" and "content-encoding" not in h


# ------------------------------------------------------------------ TLS

def test_https_verified_against_the_given_ca(https_sink, pki):
    lines = _otlp(https_sink, "https", "reporter.tls_ca=" + pki["ca.pem"],
                  "reporter.otlp_compression=gzip")
    (c,) = of_type(lines, "counters")
    assert (c["reported"], c["send_failures"]) == (3, 0)
    assert len(_delivered_ops(https_sink)) == 3
    assert https_sink.headers[0]["content-encoding"] == "gzip"


def test_thrift_http_over_https(https_sink, pki):
    lines = run_driver("full", "reporter.protocols=http", "reporter.tls_ca=" + pki["ca.pem"],
                       "reporter.endpoint=https://127.0.0.1:%d/api/traces" % https_sink.port)
    (c,) = of_type(lines, "counters")
    assert c["reported"] == 3
    (path, body) = https_sink.accepted[0]
    assert len(decode_binary_batch(body).spans) == 3


@pytest.mark.parametrize("ca", ["other-ca.pem", None])
def test_https_with_a_wrong_ca_is_refused_and_counted(https_sink, pki, ca):
    """A certificate the client cannot verify (another CA, or the system store
    that does not hold the test CA): nothing is sent, the spans are counted as
    failed, and it is not retried (no retry can fix a configuration)."""
    extra = ["reporter.tls_ca=" + pki[ca]] if ca else []
    t0 = time.monotonic()
    lines = _otlp(https_sink, "https", "reporter.retries=5", *extra)
    (c,) = of_type(lines, "counters")
    assert https_sink.requests == []
    assert (c["reported"], c["dropped_send_failed"], c["send_failures"]) == (0, 3, 1)
    assert time.monotonic() - t0 < 3, "not retried with backoff"
    assert_balanced(c)


def test_client_certificate_required_and_presented(mtls_sink, pki):
    lines = _otlp(mtls_sink, "https", "reporter.tls_ca=" + pki["ca.pem"],
                  "reporter.tls_cert=" + pki["cli.pem"], "reporter.tls_key=" + pki["cli.key"])
    (c,) = of_type(lines, "counters")
    assert c["reported"] == 3
    (peer,) = mtls_sink.server.peer_certs
    assert dict(x[0] for x in peer["subject"])["commonName"] == "tracewire-client"


def test_client_certificate_required_and_missing_is_counted(mtls_sink, pki):
    lines = _otlp(mtls_sink, "https", "reporter.tls_ca=" + pki["ca.pem"], "reporter.retries=1",
                  "reporter.timeout_ms=2000")
    (c,) = of_type(lines, "counters")
    assert mtls_sink.requests == []
    assert c["reported"] == 0 and c["dropped_send_failed"] == 3 and c["send_failures"] >= 1
    assert mtls_sink.server.errors >= 1, "the collector refused the handshake"
    assert_balanced(c)


# ------------------------------------------------------------------ retries

def test_503_with_retry_after_then_200_loses_nothing(http_sink):
    http_sink.set_mode("503once")
    lines = _otlp(http_sink, "http", "reporter.otlp_compression=gzip")
    (c,) = of_type(lines, "counters")
    assert [m for _, _, _, m in http_sink.requests] == ["503", "ok"]
    t = http_sink.server.times
    assert t[1] - t[0] >= 0.95, "Retry-After: 1 honoured"
    assert http_sink.requests[0][2] == http_sink.requests[1][2], "the same body again"
    assert (c["reported"], c["dropped_send_failed"], c["send_failures"]) == (3, 0, 1)
    assert len(_delivered_ops(http_sink)) == 3
    assert_balanced(c)


def test_400_is_dropped_and_counted_once(http_sink):
    http_sink.set_mode("400")
    lines = _otlp(http_sink, "http", "reporter.retries=5")
    (c,) = of_type(lines, "counters")
    assert len(http_sink.requests) == 1, "400 is not retried"
    assert (c["reported"], c["dropped_send_failed"], c["send_failures"]) == (0, 3, 1)
    assert_balanced(c)


def test_retry_after_beyond_the_export_budget_is_not_waited_for(http_sink):
    http_sink.set_mode("503long")      # Retry-After: 30 against a 2 s budget
    t0 = time.monotonic()
    lines = _otlp(http_sink, "http", "reporter.timeout_ms=2000", "reporter.retries=5")
    (c,) = of_type(lines, "counters")
    assert time.monotonic() - t0 < 2.5
    assert len(http_sink.requests) == 1
    assert (c["reported"], c["dropped_send_failed"], c["send_failures"]) == (0, 3, 1)
    assert_balanced(c)


def test_connection_failures_back_off_with_jitter_within_the_budget(http_sink):
    """A refused port is retried (connection failure) with growing waits, all
    of them inside the export's time budget."""
    http_sink.set_mode("refuse")       # closes the listener: connections are refused
    t0 = time.monotonic()
    lines = _otlp(http_sink, "http", "reporter.timeout_ms=1500", "reporter.retries=50")
    elapsed = time.monotonic() - t0
    (c,) = of_type(lines, "counters")
    assert c["dropped_send_failed"] == 3 and c["reported"] == 0
    # backoff 100..150, 200..300, 400..600, 800..1200 ms: 4 attempts in 1.5 s,
    # never 51 (no backoff) and never past the budget
    assert 3 <= c["send_failures"] <= 7, c["send_failures"]
    assert elapsed < 1.5 + 1.0
    assert_balanced(c)
