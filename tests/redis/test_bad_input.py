"""Bad input: every case answers a clear error, never crashes the server, and
leaves the list exactly as it was."""
import struct
import zlib

import pytest
import redis

from conftest import rq, MODULE, module_args, needs_runtime_load

TP = "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def q(r):
    """A list holding one traced and one plain item; yields (client, snapshot)."""
    rq.push(r, "q", b"traced", carrier=TP)
    r.lpush("q", b"plain")
    return r


def unchanged(r, before, key="q"):
    assert r.lrange(key, 0, -1) == before


@pytest.mark.parametrize("args", [
    ("TQ.PUSH",), ("TQ.PUSH", "q"), ("TQ.PUSH", "q", TP),
    ("TQ.POP",), ("TQ.POP", "q", "extra"),
    ("TQ.BPOP", "q"), ("TQ.BPOP", "q", "1", "extra"),
    ("TQ.MOVE", "q"), ("TQ.MOVE", "q", "d", "extra"),
    ("TQ.ACK", "q"), ("TQ.ACK", "q", "a", "b"),
])
def test_wrong_arity(q, args):
    before = q.lrange("q", 0, -1)
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        q.execute_command(*args)
    unchanged(q, before)


@pytest.mark.parametrize("args", [
    ("TQ.PUSH", "s", TP, "x"), ("TQ.POP", "s"), ("TQ.BPOP", "s", "0.1"),
    ("TQ.MOVE", "s", "q"), ("TQ.ACK", "s", "x"),
])
def test_wrongtype_source(q, args):
    q.set("s", "string")
    before = q.lrange("q", 0, -1)
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        q.execute_command(*args)
    assert q.get("s") == b"string"
    unchanged(q, before)


def test_wrongtype_destination_leaves_source_unchanged(q):
    q.set("s", "string")
    before = q.lrange("q", 0, -1)
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        q.execute_command("TQ.MOVE", "q", "s")
    unchanged(q, before)
    assert q.get("s") == b"string"


@pytest.mark.parametrize("carrier, why", [
    ("traceparent=00-zzzz-00f067aa0ba902b7-01", "malformed trace context"),
    ("traceparent=00-00000000000000000000000000000000-00f067aa0ba902b7-01", "malformed trace context"),
    ("uber-trace-id=nothex:1:0:1", "malformed trace context"),
    ("just some words", "without ':' or '='"),
    ("bad name=1", "outside"),
    ("=value", "without a header name"),
    ("traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\x01", "control character"),
    ("x-h: " + "a" * 17000, "longer than 16384"),
    ("\n".join("h%d: v" % i for i in range(65)), "more than 64"),
])
def test_bad_carrier_is_refused_and_nothing_is_pushed(q, carrier, why):
    before = q.lrange("q", 0, -1)
    with pytest.raises(redis.ResponseError, match="bad carrier: .*" + why):
        q.execute_command("TQ.PUSH", "q", carrier, "x", "y")
    unchanged(q, before)


def envelope(payload=b"p", carrier="traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"):
    return rq.wrap(payload, carrier, 1700000000000000)


def reseal(body):
    return body + struct.pack(">I", zlib.crc32(body))


CORRUPT = {
    "magic only": b"\x00TWQ\x1a",
    "truncated header": envelope()[:20],
    "truncated payload": envelope(b"payload")[:-6],
    "trailing byte": envelope() + b"!",
    "flipped payload bit": envelope(b"payload")[:-6] + b"X" + envelope(b"payload")[-5:],
    "bad version": reseal(b"\x00TWQ\x1a\x02" + envelope()[6:-4]),
    "flags set": reseal(b"\x00TWQ\x1a\x01\x01" + envelope()[7:-4]),
    "huge carrier length": reseal(envelope()[:16] + b"\xff\xff\xff\xf0" + envelope()[20:-4]),
}


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_corrupted_envelope_at_tail_is_an_error_and_stays(r, name):
    r.rpush("q", CORRUPT[name])            # at the tail: the next to pop
    rq.push(r, "q", b"after", carrier=TP)
    before = r.lrange("q", 0, -1)
    for args in (("TQ.POP", "q"), ("TQ.BPOP", "q", "0.1"), ("TQ.MOVE", "q", "d")):
        with pytest.raises(redis.ResponseError, match="corrupted queue item .* list unchanged"):
            r.execute_command(*args)
        unchanged(r, before)
    assert r.exists("d") == 0
    with pytest.raises(rq.EnvelopeError):
        rq.unwrap(CORRUPT[name])
    # the documented way out: plain RPOP removes it, and the queue moves on
    assert r.rpop("q") == CORRUPT[name]
    assert rq.pop(r, "q").payload == b"after"


def test_value_that_merely_contains_the_magic_later_is_plain(r):
    r.lpush("q", b"x\x00TWQ\x1a\x01")
    assert rq.pop(r, "q").payload == b"x\x00TWQ\x1a\x01"


def test_payload_that_is_itself_an_envelope_roundtrips(r):
    inner = envelope(b"inner")
    rq.push(r, "q", inner, carrier=TP)
    assert rq.pop(r, "q").payload == inner


def test_huge_item_roundtrips(r):
    big = bytes(range(256)) * (20 * 4096)          # 20 MiB
    rq.push(r, "q", big, carrier=TP)
    it = rq.pop(r, "q")
    assert it.payload == big and it.carrier


def test_item_over_the_limit_is_refused_and_nothing_is_pushed(q):
    before = q.lrange("q", 0, -1)
    with pytest.raises(redis.ResponseError, match="item 2 is larger than tq.max_item_size"):
        q.execute_command("TQ.PUSH", "q", TP, b"ok", b"x" * (33554432 + 1))
    unchanged(q, before)


@pytest.mark.parametrize("timeout, why", [
    ("-1", "negative"), ("abc", "not a float"), ("inf", "not a float"), ("nan", "not a float"),
    ("1e12", "out of range"), ("", "not a float"),
])
def test_bpop_timeout_out_of_range(q, timeout, why):
    before = q.lrange("q", 0, -1)
    with pytest.raises(redis.ResponseError, match="timeout is " + why):
        q.execute_command("TQ.BPOP", "q", timeout)
    unchanged(q, before)


def test_server_is_alive_after_all_of_the_above(server):
    assert server.alive() and server.client().ping()


@needs_runtime_load
@pytest.mark.parametrize("args", [
    ["reporter.protocols=bogus"], ["no_equals_sign"], ["unknown.key=1"],
    ["tq.max_item_size=0"], ["tq.max_item_size=-5"], ["tq.max_item_size=12abc"],
    ["sampler.param=notanumber"],
    # the agent's controls (#20) come through the same key table
    ["throttler.port=70000"], ["baggage_restrictions.refresh_interval=soon"],
    ["debug_id_header=no spaces"],
])
def test_module_load_with_bad_arguments_fails_cleanly(make_server, args):
    srv = make_server("noload").start(module=False)
    c = srv.client()
    with pytest.raises(redis.ResponseError):
        c.execute_command("MODULE", "LOAD", MODULE, *args)
    assert c.ping()
    assert "tracewire" not in str(c.execute_command("MODULE", "LIST"))


def test_loading_twice_is_refused(server):
    with pytest.raises(redis.ResponseError):
        server.client().execute_command("MODULE", "LOAD", MODULE)
    assert server.client().ping()
