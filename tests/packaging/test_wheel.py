"""Each repaired wheel, installed into a fresh venv inside scripts/cleanroom (no
system libcurl/jansson, no headers, no compiler), by clean_check.py: what loaded,
from where, and the span it sent, decoded with the Jaeger IDL."""
import json
import os
import re

import pytest
from jaeger_client.thrift_gen.jaeger import ttypes
from thrift.protocol import TBinaryProtocol
from thrift.transport import TTransport

from conftest import TOP, VERSION, supported

SYSTEM_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/")


def report(out, v):
    path = out / ("clean-%s.json" % v)
    assert path.exists(), "no clean-venv report for %s (see %s)" % (v, out / ("clean-%s.log" % v))
    return json.loads(path.read_text())


def decode_batch(body):
    b = ttypes.Batch()
    b.read(TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(body)))
    return b


@pytest.mark.parametrize("v", supported())
def test_installed_from_the_fresh_venv(out, v):
    r = report(out, v)
    assert r["file"].startswith(r["purelib"]) and r["file"].startswith(str(out / ("clean-" + v)))
    assert not r["file"].startswith(str(TOP / "python"))
    assert r["version"] == VERSION and r["dist_version"] == VERSION
    assert not r["ld_library_path"]


@pytest.mark.parametrize("v", supported())
def test_ldd_resolves_curl_and_jansson_to_the_wheel(out, v):
    r = report(out, v)
    libs_dir = os.path.join(r["platlib"], "tracewire.libs")
    lines = [ln.strip() for ln in r["ldd"].splitlines() if ln.strip()]
    assert lines and not [ln for ln in lines if "not found" in ln], r["ldd"]
    for name in ("libcurl", "libjansson"):
        hits = [ln for ln in lines if ln.startswith(name)]
        assert len(hits) == 1, (name, r["ldd"])
        target = os.path.normpath(hits[0].split("=>")[1].split("(")[0].strip())
        assert os.path.dirname(target) == libs_dir, hits[0]
    # nothing from the curl stack resolves to a system copy
    for ln in lines:
        if "=>" in ln and re.match(r"lib(curl|jansson|nghttp2|ssh2|psl|idn2|rtmp|zstd|brotli)", ln):
            assert "tracewire.libs" in ln, ln


@pytest.mark.parametrize("v", supported())
def test_process_maps_show_the_vendored_libraries(out, v):
    r = report(out, v)
    libs_dir = os.path.join(r["platlib"], "tracewire.libs")
    for name in ("libcurl", "libjansson"):
        mapped = [m for m in r["maps"] if os.path.basename(m).startswith(name)]
        assert mapped, (name, r["maps"])
        assert all(os.path.dirname(m) == libs_dir for m in mapped), mapped
    assert not [m for m in r["maps"] if re.search(r"/lib(curl|jansson)[.-]", m) and m.startswith(SYSTEM_DIRS)]


@pytest.mark.parametrize("v", supported())
def test_the_span_arrived_over_http(out, v):
    r = report(out, v)
    assert r["flushed"] is True
    assert [[p, ct] for p, ct, _ in r["posts"]] == [["/api/traces", "application/x-thrift"]]
    batch = decode_batch((out / ("clean-%s.body" % v)).read_bytes())
    assert batch.process.serviceName == "cleanroom"
    assert [s.operationName for s in batch.spans] == ["cleanroom-span"]
    tags = {t.key: t.vStr for t in batch.spans[0].tags}
    assert tags["python"].startswith(v + ".")
    ptags = {t.key: t.vStr for t in batch.process.tags}
    assert ptags["jaeger.version"] == "tracewire-C-" + VERSION
