"""tracewire.redis_queue's envelope and carrier-text codecs are the core's
(through the binding): checked here against the format written out with
struct and zlib, independently of the core, and against the core's reasons
for refusing damaged values (the Redis module words its errors the same)."""
import struct
import zlib

import pytest

from tracewire import redis_queue as rq

TP = "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def reference_envelope(payload, carrier, enq):
    """Envelope v1 from its specification (tracewire.h, "queue envelope")."""
    body = struct.pack(">5sBBBqII", b"\x00TWQ\x1a", 1, 0, 0, enq, len(carrier), len(payload))
    body += carrier + payload
    return body + struct.pack(">I", zlib.crc32(body))


@pytest.mark.parametrize("payload,carrier", [
    (b"", b""), (b"p\x00q\xff", TP.encode()), (b"x" * 70000, b"b3: 1-2-1"),
])
def test_wrap_writes_the_specified_bytes(payload, carrier):
    want = reference_envelope(payload, carrier, 1700000000000123)
    assert rq.wrap(payload, carrier.decode(), 1700000000000123) == want
    assert rq.wrap(bytearray(payload), carrier, 1700000000000123) == want


def test_unwrap_reads_back_parts_and_wait():
    it = rq.unwrap(reference_envelope(b"job \x00\xff", TP.encode(), 1000), now_us=3500)
    assert it == rq.QueueItem(b"job \x00\xff", TP, 1000, 2500)
    assert it.traced and it.headers() == {"traceparent": TP.split(": ")[1]}


def test_unwrap_passes_plain_values_through():
    for raw in (b"", b"hello", b"\x00TWQ", b"x\x00TWQ\x1a"):
        assert rq.unwrap(raw) == rq.QueueItem(raw, "", -1, -1)


def test_carrier_bytes_survive_as_latin1():
    it = rq.unwrap(reference_envelope(b"p", b"k: \xe9\xff", 1), now_us=1)
    assert it.carrier == "k: \xe9\xff" and it.carrier.encode("latin-1") == b"k: \xe9\xff"


@pytest.mark.parametrize("damage,reason", [
    (lambda v: v[:-1], "truncated envelope"),
    (lambda v: v[:20], "truncated envelope"),
    (lambda v: v + b"!", "envelope length mismatch"),
    (lambda v: v[:5] + b"\x02" + v[6:], "unknown envelope version"),
    (lambda v: v[:6] + b"\x01" + v[7:], "unknown envelope version"),
    (lambda v: v[:-1] + bytes([v[-1] ^ 1]), "envelope checksum mismatch"),
    (lambda v: v[:30] + bytes([v[30] ^ 0x80]) + v[31:], "envelope checksum mismatch"),
])
def test_unwrap_refuses_damage_with_the_core_reason(damage, reason):
    raw = damage(reference_envelope(b"payload", TP.encode(), 1700000000000000))
    with pytest.raises(rq.EnvelopeError) as e:
        rq.unwrap(raw)
    assert str(e.value) == reason


def test_parse_carrier_both_forms_lowercases_names():
    assert rq.parse_carrier("TraceParent = a-b ; X-B3-Sampled=1;") == {"traceparent": "a-b", "x-b3-sampled": "1"}
    assert rq.parse_carrier(b"Baggage: k=v;p\r\nuber-trace-id: 1:2:0:1\r\n") == \
        {"baggage": "k=v;p", "uber-trace-id": "1:2:0:1"}
    assert rq.parse_carrier("") == {}
    assert rq.parse_carrier("k: caf\u00e9") == {"k": "caf\u00e9"}


@pytest.mark.parametrize("text,reason", [
    ("words only", "carrier entry without ':' or '='"),
    ("=v", "carrier entry without a header name"),
    ("a b=c", "carrier header name holds a character outside [A-Za-z0-9._-]"),
    ("k=v\x7f", "carrier header value holds a control character"),
    ("k=v" + "x" * 16384, "carrier longer than 16384 bytes"),
    (";".join("h%d=v" % i for i in range(65)), "carrier has more than 64 headers"),
])
def test_parse_carrier_refuses_what_the_module_refuses(text, reason):
    with pytest.raises(ValueError) as e:
        rq.parse_carrier(text)
    assert str(e.value) == reason


def test_codec_arguments_are_checked():
    with pytest.raises(TypeError):
        rq.wrap(12, "", 1)
    with pytest.raises(TypeError):
        rq.unwrap("not bytes")
    with pytest.raises(TypeError):
        rq.parse_carrier(None)


def test_format_carrier_is_the_core_writer_and_parses_back():
    h = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01", "baggage": "k=v;p", "X-B3-Flags": 1,
         "multi": ["a", "b"], "k": "caf\u00e9"}
    text = rq.format_carrier(h)
    assert text == ("traceparent: 00-" + "1" * 32 + "-" + "2" * 16 + "-01\nbaggage: k=v;p\n"
                    "X-B3-Flags: 1\nmulti: a,b\nk: caf\u00e9")
    assert rq.parse_carrier(text) == {"traceparent": h["traceparent"], "baggage": "k=v;p",
                                      "x-b3-flags": "1", "multi": "a,b", "k": "caf\u00e9"}
    assert rq.format_carrier({}) == ""


@pytest.mark.parametrize("headers,reason", [
    ({"k": "a\nb"}, "carrier header value holds a control character"),
    ({"a b": "v"}, "carrier header name holds a character outside [A-Za-z0-9._-]"),
    ({"": "v"}, "carrier entry without a header name"),
    ({"k": "x" * 16384}, "carrier longer than 16384 bytes"),
    ({"h%d" % i: "v" for i in range(65)}, "carrier has more than 64 headers"),
])
def test_format_carrier_refuses_what_parse_would_refuse(headers, reason):
    with pytest.raises(ValueError) as e:
        rq.format_carrier(headers)
    assert str(e.value) == reason


def test_stream_carrier_fields_are_the_cores_header_names():
    assert set(rq.CARRIER_FIELDS) == {
        "uber-trace-id", "jaeger-debug-id", "jaeger-baggage", "traceparent", "tracestate", "baggage",
        "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags"}
    e = rq.stream_entry("s", "1700000000000-0", [b"X-B3-Sampled", b"1", b"uberctx-k", b"v",
                                                 b"uberctx-", b"bare", b"body", b"x"])
    assert e.carrier == "X-B3-Sampled: 1\nuberctx-k: v"
    assert e.fields == {b"uberctx-": b"bare", b"body": b"x"}
