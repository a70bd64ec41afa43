"""The module's process model and configuration checks: `nginx -t` names a
bad key; reload and quit under load lose no finished span (every answered
request's span arrives, and each worker's exit line balances its counters);
a collector that is down never touches a response."""
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request
import uuid

import pytest

from conftest import MODULE, NGINX_ENV, Collector, Nginx, UdpSink, tags

BAD = {
    "unknown key": ("tracewire_config sampler.tpye const;", 'unknown tracewire_config key "sampler.tpye"'),
    "bad number": ("tracewire_config sampler.param abc;",
                   'invalid value "abc" for tracewire_config key "sampler.param"'),
    "bad protocol": ("tracewire_config reporter.protocols pigeon;",
                     'invalid value "pigeon" for tracewire_config key "reporter.protocols"'),
    "bad sampler": ("tracewire_config sampler.type sometimes;",
                    'invalid value "sometimes" for tracewire_config key "sampler.type"'),
    "bad port": ("tracewire_config reporter.agent_port 99999;",
                 'invalid value "99999" for tracewire_config key "reporter.agent_port"'),
    "config in server": ("server { listen 127.0.0.1:1; tracewire_config service_name x; }",
                         '"tracewire_config" directive is not allowed here'),
    "bad switch": ("tracewire maybe;", 'invalid value "maybe" in "tracewire" directive'),
    "bad context": ("tracewire_context sideways;", 'invalid value "sideways"'),
    "one-argument config": ("tracewire_config service_name;",
                            'invalid number of arguments in "tracewire_config" directive'),
}


def nginx_t(tmp_path, http_body):
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"load_module {MODULE};\nevents {{}}\nhttp {{\n{http_body}\n}}\n")
    return subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(conf), "-e",
                           str(tmp_path / "error.log")], capture_output=True, text=True, env=NGINX_ENV)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_configuration_fails_nginx_t_naming_the_key(tmp_path, case):
    line, message = BAD[case]
    p = nginx_t(tmp_path, line)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr
    assert "[emerg]" in p.stderr


def test_a_good_configuration_passes_nginx_t(tmp_path):
    p = nginx_t(tmp_path, "tracewire_config service_name ok;\n"
                          "tracewire_config sampler.type probabilistic;\n"
                          "tracewire_config sampler.param 0.25;\n"
                          "tracewire_config reporter.protocols udp,http;\n"
                          "tracewire_config propagation w3c,b3;\n"
                          "tracewire $arg_t; tracewire_context inject;\n"
                          "tracewire_span_tag a.b $host;\n"
                          "server { listen 127.0.0.1:1; location / { tracewire on; } }")
    assert p.returncode == 0, p.stderr


def test_a_malformed_environment_variable_is_named_and_skipped(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"load_module {MODULE};\nevents {{}}\nhttp {{ tracewire on; }}\n")
    env = dict(NGINX_ENV, JAEGER_SAMPLER_PARAM="not-a-number")
    p = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(conf), "-e",
                        str(tmp_path / "error.log")], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert 'environment variable "JAEGER_SAMPLER_PARAM" is malformed' in p.stderr


DIAG_RE = re.compile(r"\[error\] \d+#\d+: tracewire: (?!worker exit).*")

EXIT_RE = re.compile(r"tracewire: worker exit: close (\S+); spans started (\d+), sampled (\d+), "
                     r"finished (\d+), reported (\d+), dropped: queue full (\d+), too large (\d+), "
                     r"send failed (\d+), on close (\d+)")


def exit_lines(ngx):
    out = []
    for m in EXIT_RE.finditer(ngx.error_log()):
        close, *nums = m.groups()
        out.append((close, dict(zip(["started", "sampled", "finished", "reported", "queue_full",
                                     "too_large", "send_failed", "on_close"], map(int, nums)))))
    return out


class Load(threading.Thread):
    """Requests /static/x.txt?m=<marker>&i=<n> back to back on new
    connections, recording which n were answered 200."""

    def __init__(self, port, mark):
        super().__init__(daemon=True)
        self.port, self.mark = port, mark
        self.ok, self.failed = [], 0
        self.stop = threading.Event()
        self.n = 0

    def run(self):
        while not self.stop.is_set():
            i = self.n
            self.n += 1
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{self.port}/static/x.txt?m={self.mark}&i={i}",
                                             headers={"Connection": "close"})
                with urllib.request.urlopen(req, timeout=10) as r:
                    if r.status == 200 and r.read() == b"static\n":
                        self.ok.append(i)
                    else:
                        self.failed += 1
            except Exception:
                self.failed += 1
                time.sleep(0.01)


def spans_by_index(coll, mark, wait=1.0):
    got = {}
    for _, s in coll.poll(wait):
        url = tags(s.tags).get("http.url", ("", ""))[1] or ""
        if mark in url:
            i = int(url.rsplit("=", 1)[1])
            got[i] = got.get(i, 0) + 1
    return got


def test_reload_under_load_loses_no_finished_span(tmp_path, upstream):
    sink = UdpSink()
    ngx = Nginx(tmp_path, sink.port, upstream[0], flush_ms=200)
    try:
        coll = Collector(sink)
        mark = uuid.uuid4().hex
        loads = [Load(ngx.port, f"{mark}-{k}") for k in range(3)]
        for ld in loads:
            ld.start()
        time.sleep(1.0)
        old = set(ngx.workers)
        ngx.signal("reload")
        deadline = time.time() + 15
        while time.time() < deadline and (not ngx.worker_pids() or set(ngx.worker_pids()) & old):
            time.sleep(0.1)
        new = set(ngx.worker_pids())
        assert new and not (new & old), (old, new)
        time.sleep(1.0)
        for ld in loads:
            ld.stop.set()
        for ld in loads:
            ld.join(timeout=15)
        ngx.quit()
        answered = sorted(i for ld in loads for i in ld.ok)
        assert len(answered) > 50, "the load produced too few requests"
        assert sum(ld.failed for ld in loads) == 0
        got = spans_by_index_per_thread(coll, mark, loads)
        assert got == {id(ld): sorted(ld.ok) for ld in loads}
        lines = exit_lines(ngx)
        assert len(lines) == 4, ngx.error_log()[-3000:]     # 2 old + 2 new workers
        for close, c in lines:
            assert close == "ok"
            assert c["finished"] == c["reported"]
            assert c["queue_full"] == c["too_large"] == c["send_failed"] == c["on_close"] == 0
        assert sum(c["finished"] for _, c in lines) == len(answered)
        assert not DIAG_RE.search(ngx.error_log()), "a healthy agent made diagnostics"
        assert all(c["finished"] > 0 for _, c in lines[:2]), "the old generation traced nothing"
    finally:
        ngx.stop()
        sink.close()


def spans_by_index_per_thread(coll, mark, loads):
    """{id(load): sorted indices of its spans} (each load thread has its
    own marker); an index seen twice appears twice."""
    coll.poll(1.0)
    out = {}
    for ld in loads:
        got = spans_by_index(coll, ld.mark, 0.05)
        out[id(ld)] = sorted(i for i, n in got.items() for _ in range(n))
    return out


def test_quit_under_load_loses_no_finished_span(tmp_path, upstream):
    sink = UdpSink()
    # flushes only at exit: every span must be sent by exit_process
    ngx = Nginx(tmp_path, sink.port, upstream[0], flush_ms=60000)
    try:
        coll = Collector(sink)
        mark = uuid.uuid4().hex
        loads = [Load(ngx.port, f"{mark}-{k}") for k in range(3)]
        for ld in loads:
            ld.start()
        time.sleep(1.5)
        ngx.quit()
        for ld in loads:
            ld.stop.set()
        for ld in loads:
            ld.join(timeout=15)
        answered = sum(len(ld.ok) for ld in loads)
        assert answered > 50
        got = spans_by_index_per_thread(coll, mark, loads)
        # every answered request has its span; a request the worker finished
        # but whose response the client did not read may add one more
        for ld in loads:
            assert set(ld.ok) <= set(got[id(ld)])
        lines = exit_lines(ngx)
        assert len(lines) == 2
        for close, c in lines:
            assert close == "ok" and c["finished"] == c["reported"] > 0
            assert c["queue_full"] == c["too_large"] == c["send_failed"] == c["on_close"] == 0
        assert sum(c["finished"] for _, c in lines) == sum(len(v) for v in got.values())
    finally:
        ngx.stop()
        sink.close()


@pytest.mark.parametrize("protocol", ["udp", "http"])
def test_a_down_collector_never_touches_a_response(tmp_path, upstream, protocol):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()        # nothing listens there now: UDP gets ECONNREFUSED, TCP a reset
    reporter = (f"    tracewire_config reporter.protocols {protocol};\n"
                f"    tracewire_config reporter.agent_port {port};\n"
                f"    tracewire_config reporter.endpoint http://127.0.0.1:{port}/api/traces;\n"
                f"    tracewire_config reporter.flush_interval_ms 20;\n"
                f"    tracewire_config reporter.batch_size 1;\n"
                f"    tracewire_config reporter.retries 0;\n")
    ngx = Nginx(tmp_path, 0, upstream[0], reporter=reporter)
    try:
        t0 = time.time()
        for i in range(100):
            status, _, body = ngx.get(f"/static/x.txt?i={i}", timeout=5)
            assert (status, body) == (200, b"static\n")
        assert time.time() - t0 < 30
        json_status, _, _ = ngx.get("/api/down-collector")
        assert json_status == 200
        assert ngx.worker_pids() == ngx.workers
        # failures speak: the core's diagnostics hook reaches the error log
        # (from the worker's event loop, within about a second), naming
        # where the spans were going
        deadline = time.time() + 5
        while time.time() < deadline and not DIAG_RE.search(ngx.error_log()):
            time.sleep(0.1)
        diag = DIAG_RE.findall(ngx.error_log())
        assert diag, ngx.error_log()[-2000:]
        assert any(str(port) in line for line in diag), diag
        ngx.quit()
        lines = exit_lines(ngx)
        assert len(lines) == 2
        total = {k: sum(c[k] for _, c in lines) for k in lines[0][1]}
        assert total["finished"] == 101
        # every span is accounted for, as sent (UDP cannot tell) or dropped
        assert total["finished"] == total["reported"] + total["send_failed"] + total["queue_full"] \
            + total["too_large"] + total["on_close"]
        if protocol == "http":
            assert total["reported"] == 0 and total["send_failed"] > 0
    finally:
        ngx.stop()
