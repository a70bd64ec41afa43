"""Hostile input through the Redis module (issue #7): binary garbage in the
stored values (random bytes, the envelope magic followed by noise, real
envelopes truncated, bit-flipped, padded or resealed with bad fields),
binary and NUL-holding carriers and key names, oversized carriers, empty
strings in every argument and numbers where strings are expected.

Every value popped gets the documented outcome and nothing else: a plain
item comes back untouched with an empty carrier and -1 times; a valid
envelope comes back decoded; a damaged envelope is refused with the exact
"corrupted queue item" error and the list stays as it was. The expected
class of each value is computed here from the format in tracewire.h ("queue envelope"),
independently of the module and of the Python helper."""
import random
import struct
import time
import zlib

import pytest
import redis

from conftest import rq, module_args

MAGIC = b"\x00TWQ\x1a"
TID = "4bf92f3577b34da6a3ce929d0e0e4736"
TP = "traceparent: 00-%s-00f067aa0ba902b7-01" % TID
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1

# tw_envelope_decode's results (tracewire.h) and its words for them
REASON = {
    "truncated": "truncated envelope",
    "version": "unknown envelope version",
    "length": "envelope length mismatch",
    "checksum": "envelope checksum mismatch",
}


def classify(v):
    """'plain', 'envelope' or a REASON key, from the spec in tracewire.h."""
    if not v.startswith(MAGIC):
        return "plain"
    if len(v) < 28:
        return "truncated"
    if v[5] != 1 or v[6] != 0 or v[7] != 0:
        return "version"
    clen, plen = struct.unpack_from(">II", v, 16)
    want = 28 + clen + plen
    if want > len(v):
        return "truncated"
    if want < len(v):
        return "length"
    if zlib.crc32(v[:-4]) != struct.unpack_from(">I", v, len(v) - 4)[0]:
        return "checksum"
    return "envelope"


def fields(v):
    """(enqueue_us, carrier, payload) of a valid envelope."""
    enq, clen = struct.unpack_from(">qI", v, 8)
    return enq, v[24:24 + clen], v[24 + clen:-4]


def reseal(body):
    return body + struct.pack(">I", zlib.crc32(body))


CARRIERS = [TP.encode(), b"", b"x-h: v", b"\xff\x00garbage\n\x01", b"traceparent: 00-zz-00-01",
            ("%s\nuberctx-k: v" % TP).encode()]
TIMES = [1700000000000000, 0, -1, INT64_MIN, INT64_MAX, 1, 2 ** 40]


def corpus(n=2000, seed=20261125):
    """n deterministic hostile values; each generator aims at one decode path."""
    rnd = random.Random(seed)

    def rbytes(lo, hi):
        return bytes(rnd.getrandbits(8) for _ in range(rnd.randint(lo, hi)))

    def real():
        return rq.wrap(rbytes(0, 40), rnd.choice(CARRIERS), rnd.choice(TIMES))

    def flip(v):
        i = rnd.randrange(len(v) * 8)
        b = bytearray(v)
        b[i // 8] ^= 1 << (i % 8)
        return bytes(b)

    def with_lengths(v):
        body = bytearray(v[:-4])
        if rnd.random() < 0.5:
            body[16:24] = struct.pack(">II", rnd.getrandbits(32), rnd.getrandbits(32))
        else:     # near the real sizes: off by a little either way
            clen, plen = struct.unpack_from(">II", body, 16)
            body[16:24] = struct.pack(">II", max(0, clen + rnd.randint(-3, 3)), max(0, plen + rnd.randint(-3, 3)))
        return reseal(bytes(body))

    def with_header_bytes(v):
        body = bytearray(v[:-4])
        body[rnd.randint(5, 7)] = rnd.choice([0, 2, 0x80, 0xff, rnd.getrandbits(8)])
        return reseal(bytes(body))

    gens = [
        lambda: rbytes(0, 64),                                   # noise (plain)
        lambda: MAGIC[:rnd.randint(0, 4)] + rbytes(0, 40),       # a prefix of the magic
        lambda: MAGIC + rbytes(0, 60),                           # the magic, then noise
        lambda: MAGIC + b"\x01\x00\x00" + rbytes(0, 60),         # magic and version, then noise
        lambda: (lambda v: v[:rnd.randrange(len(v))])(real()),   # truncated
        lambda: flip(real()),                                    # one bit flipped
        lambda: real() + rbytes(1, 8),                           # trailing bytes
        lambda: with_lengths(real()),                            # lengths lie, CRC matches
        lambda: with_header_bytes(real()),                       # version/flags/reserved, CRC matches
        lambda: reseal(MAGIC + b"\x01\x00\x00" + struct.pack(">qII", rnd.choice(TIMES), 5, 3)
                       + rbytes(5, 5) + rbytes(3, 3)),           # valid, binary carrier
        real,                                                    # valid
    ]
    return [gens[i % len(gens)]() for i in range(n)]


def tq_info(r):
    info = r.info("tracewire")
    return {k: info["tracewire_" + k] for k in
            ("corrupted_items_refused", "items_popped_plain", "items_popped_traced",
             "pushes_refused_bad_carrier")}


def test_corpus_covers_every_decode_path():
    seen = {}
    for v in corpus():
        seen[classify(v)] = seen.get(classify(v), 0) + 1
    assert set(seen) == {"plain", "envelope", "truncated", "version", "length", "checksum"}, seen
    assert min(seen.values()) >= 50, seen


def test_binary_garbage_popped_by_every_command(r, server):
    """2000 values LPUSHed plainly, each popped by TQ.POP, TQ.BPOP or TQ.MOVE."""
    values = corpus()
    cmds = [("TQ.POP", "q"), ("TQ.BPOP", "q", "0.1"), ("TQ.MOVE", "q", "d")]
    counts = {"plain": 0, "envelope": 0, "corrupted": 0}
    before_info = tq_info(r)
    for i, v in enumerate(values):
        kind = classify(v)
        cmd = cmds[i % 3]
        r.delete("q", "d")
        r.rpush("q", b"next", v)                 # v at the tail: the next to pop
        before = r.lrange("q", 0, -1)
        t0 = time.time_ns() // 1000
        if kind in REASON:
            counts["corrupted"] += 1
            with pytest.raises(redis.ResponseError) as e:
                r.execute_command(*cmd)
            assert str(e.value) == ("corrupted queue item at the tail of the list (%s); list unchanged, "
                                    "remove it with RPOP" % REASON[kind]), (i, v)
            assert r.lrange("q", 0, -1) == before, (i, v)
            assert r.exists("d") == 0
            continue
        reply = r.execute_command(*cmd)
        t1 = time.time_ns() // 1000
        assert r.lrange("q", 0, -1) == [b"next"], (i, v)
        if cmd[0] == "TQ.MOVE":
            assert r.lrange("d", 0, -1) == [v], (i, v)     # the stored value moves as it was
        if kind == "plain":
            counts["plain"] += 1
            assert reply == [v, b"", -1, -1], (i, v)
            continue
        counts["envelope"] += 1
        enq, carrier, payload = fields(v)
        assert reply[0] == payload, (i, v)
        assert reply[2] == enq
        if enq >= t1:
            assert reply[3] == 0
        elif enq < 0 and t0 - enq > INT64_MAX:
            assert reply[3] == INT64_MAX              # saturated, never wrapped
        else:
            assert t0 - enq <= reply[3] <= t1 - enq, (i, enq, reply[3])
        if carrier.startswith(TP.encode()):
            assert reply[1].startswith(("traceparent: 00-%s-" % TID).encode()), (i, reply[1])
            assert reply[1] != TP.encode()            # the wait span's context, not the stored one
        else:
            assert reply[1] == carrier, (i, v)        # unreadable or no context: returned as stored
    after = tq_info(r)
    assert after["corrupted_items_refused"] - before_info["corrupted_items_refused"] == counts["corrupted"] * 1
    assert after["items_popped_plain"] - before_info["items_popped_plain"] == counts["plain"]
    assert after["items_popped_traced"] - before_info["items_popped_traced"] == counts["envelope"]
    assert min(counts.values()) >= 300, counts
    assert server.alive()
    assert r.ping()
    assert "tracewire_items_pushed" in r.info("tracewire")
    assert r.info("server")["redis_version"]


def test_ack_never_matches_a_corrupted_value(r):
    bad = [v for v in corpus(200) if classify(v) in REASON][:20]
    r.rpush("p", b"x", *bad)
    before = r.lrange("p", 0, -1)
    for v in bad:
        assert r.execute_command("TQ.ACK", "p", v) == 0
    assert r.lrange("p", 0, -1) == before
    assert r.execute_command("TQ.ACK", "p", b"x") == 1
    assert r.lrange("p", 0, -1) == before[1:]


def test_forged_enqueue_times_never_overflow_the_wait(r):
    for enq, wait in ((INT64_MIN, INT64_MAX), (INT64_MAX, 0), (-1, None), (0, None)):
        for carrier in (b"", TP.encode()):
            r.lpush("f", rq.wrap(b"p", carrier, enq))
            t0 = time.time_ns() // 1000
            item = r.execute_command("TQ.POP", "f")
            assert item[0] == b"p" and item[2] == enq
            if wait is not None:
                assert item[3] == wait
            else:
                assert item[3] >= t0 - enq


# ------------------------------------------------------------------ carriers

BAD_CARRIERS = [
    (b"\xff\xfe", "carrier entry without ':' or '='"),
    (b"\x00", "carrier entry without ':' or '='"),
    (b"42", "carrier entry without ':' or '='"),
    (b"x-h", "carrier entry without ':' or '='"),
    (b"\n\n;;", "carrier entry without ':' or '='"),
    (b":", "carrier entry without a header name"),
    (b"=x", "carrier entry without a header name"),
    (b"x\x00h: v", "carrier header name holds a character outside [A-Za-z0-9._-]"),
    (b"traceparent\x00: x", "carrier header name holds a character outside [A-Za-z0-9._-]"),
    (b"tracepar\xc3\xa9nt: v", "carrier header name holds a character outside [A-Za-z0-9._-]"),
    (b"x-h: a\x00b", "carrier header value holds a control character"),
    (TP.encode() + b"\x7f", "carrier header value holds a control character"),
    (b"traceparent: \xff", "malformed trace context in carrier"),
    (TP.encode() + b"\nbaggage: k=\xff\xfe", "malformed trace context in carrier"),
    (TP.replace(": ", "=").encode() + b";\r\n", "malformed trace context in carrier"),  # a block: ';' is in the value
    (b"traceparent: " + b"0" * 10000, "malformed trace context in carrier"),
    (TP.encode() + b"\ntraceparent: 00-%s-00f067aa0ba902b7-01" % (TID[:-1] + "7").encode(),
     "malformed trace context in carrier"),
    (b"x-h: " + b"a" * (16384 - 4), "carrier longer than 16384 bytes"),
    (b"x-h: " + b"a" * (1 << 20), "carrier longer than 16384 bytes"),
]


@pytest.mark.parametrize("carrier, why", BAD_CARRIERS, ids=[repr(c[:24]) for c, _ in BAD_CARRIERS])
def test_binary_and_oversized_carriers_are_refused_and_nothing_is_pushed(r, carrier, why):
    rq.push(r, "q", b"old", carrier=TP)
    before = r.lrange("q", 0, -1)
    refused = tq_info(r)["pushes_refused_bad_carrier"]
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("TQ.PUSH", "q", carrier, b"x", b"y")
    assert str(e.value) == "bad carrier: " + why
    assert r.lrange("q", 0, -1) == before
    assert tq_info(r)["pushes_refused_bad_carrier"] == refused + 1


GOOD_CARRIERS = [
    # (carrier, the trace it continues or None for a new root, baggage text in the returned carrier)
    (b"", None, None),
    (b" ", None, None),
    (b"\t\t", None, None),
    (b"\n\n", None, None),
    (b";;", None, None),
    (b"x-h:", None, None),
    (b"x-h: \xff\xfe\x80", None, None),             # bytes >= 0x80 are allowed in values
    (b"x-h: \t v \t", None, None),
    (b"x-h: " + b"a" * (16384 - 5), None, None),    # exactly 16384 bytes
    (b"\n".join(b"x-h%d: v" % i for i in range(64)), None, None),
    (TP.encode() + b"\r\n", TID, None),
    (b"\n".join([TP.encode()] * 64), TID, None),    # the same header repeated agrees with itself
    (TP.encode() + b"\nuberctx-k: \xc3\xa9", TID, b"baggage: k=%C3%A9"),
    (TP.encode() + b"\nuberctx-k: \xff", TID, b"baggage: k=%FF"),
    # too much baggage is dropped (counted), the trace goes on (issue #19)
    (TP.encode() + b"\nbaggage: k=" + b"v" * 9000, TID, None),
    (TP.encode() + b"\nbaggage: a=1,k=" + b"v" * 9000, TID, b"baggage: a=1"),
]


@pytest.mark.parametrize("carrier, trace, baggage", GOOD_CARRIERS,
                         ids=[repr(c[:24]) for c, _, _ in GOOD_CARRIERS])
def test_odd_but_valid_carriers_are_accepted(r, carrier, trace, baggage):
    assert r.execute_command("TQ.PUSH", "q", carrier, b"\x00\xff") == 1
    item = r.execute_command("TQ.POP", "q")
    assert item[0] == b"\x00\xff"
    lines = item[1].split(b"\n")
    assert lines[0].startswith(b"traceparent: 00-")
    if trace:
        assert lines[0].startswith(("traceparent: 00-%s-" % trace).encode())
    else:
        assert TID.encode() not in lines[0]
    assert lines[1:] == ([baggage] if baggage else [])


def test_spans_off_returns_binary_carriers_verbatim(make_server, collector):
    srv = make_server("off").start(module_args(collector, "tq.spans=off"))
    c = srv.client()
    for carrier in (b"x-h: \xff\xfe\x80", TP.encode() + b"\nuberctx-k: \xff", b""):
        c.execute_command("TQ.PUSH", "q", carrier, b"p")
        assert c.execute_command("TQ.POP", "q")[:2] == [b"p", carrier]
    with pytest.raises(redis.ResponseError, match="^bad carrier: carrier header value holds a control character$"):
        c.execute_command("TQ.PUSH", "q", b"x-h: a\x00b", b"p")
    assert c.llen("q") == 0 and c.ping()


# ------------------------------------------------------------------ keys and arguments

def test_nul_bytes_and_binary_in_key_names_are_distinct_keys(make_server):
    # Its own server, reporting nowhere: span names hold the raw key bytes,
    # which the suite's Thrift decoder (UTF-8 strings) would choke on.
    r = make_server("binkeys").start(["reporter.protocols=none"]).client()
    keys = [b"q", b"q\x00a", b"q\x00b", b"\x00", b"\xff\xfe"]
    for i, k in enumerate(keys):
        r.execute_command("TQ.PUSH", k, TP, b"item%d" % i)
    for i, k in enumerate(keys):
        assert r.execute_command("TQ.POP", k)[0] == b"item%d" % i
        assert r.execute_command("TQ.POP", k) is None
    r.execute_command("TQ.PUSH", b"s\x00rc", TP, b"m")
    moved = r.execute_command("TQ.MOVE", b"s\x00rc", b"d\x00st")
    assert moved[0] == b"m"
    assert r.execute_command("TQ.ACK", b"d\x00st", b"m") == 1
    assert r.exists(b"s\x00rc", b"d\x00st", b"s", b"d") == 0


def test_a_1mb_key_name_works_and_its_span_name_is_cut(r, collector):
    key = b"k" * (1 << 20)
    collector.clear()
    r.execute_command("TQ.PUSH", key, TP, b"v")
    assert r.execute_command("TQ.POP", key)[0] == b"v"
    want = {"send " + "k" * 200, "wait " + "k" * 200}
    spans = collector.wait_for(lambda s: want <= {x.operationName for x in s})
    assert want <= {x.operationName for x in spans}
    tags = {t.key: t.vStr for x in spans if x.operationName in want for t in x.tags}
    assert tags["messaging.destination.name"] == "k" * 1024     # max_tag_value_length


def test_empty_strings_in_every_argument(r):
    assert r.execute_command("TQ.PUSH", "", "", "") == 1           # key "", no carrier, empty item
    item = r.execute_command("TQ.POP", "")
    assert item[0] == b"" and item[1].startswith(b"traceparent: 00-") and item[2] > 0
    assert r.execute_command("TQ.POP", "") is None
    r.execute_command("TQ.PUSH", "", "", "")
    assert r.execute_command("TQ.MOVE", "", "")[0] == b""          # src == dst: rotates
    assert r.llen("") == 1
    assert r.execute_command("TQ.MOVE", "", "q")[0] == b""
    assert r.llen("") == 0 and r.llen("q") == 1
    assert r.execute_command("TQ.ACK", "", "") == 0
    assert r.execute_command("TQ.ACK", "q", "") == 1
    with pytest.raises(redis.ResponseError, match="^timeout is not a float or out of range$"):
        r.execute_command("TQ.BPOP", "", "")
    assert r.execute_command("TQ.MOVE", "", "") is None
    assert r.keys() == []


def test_numbers_where_strings_are_expected(r):
    with pytest.raises(redis.ResponseError, match="^bad carrier: carrier entry without ':' or '='$"):
        r.execute_command("TQ.PUSH", "q", 42, 7)
    assert r.exists("q") == 0
    assert r.execute_command("TQ.PUSH", 1, TP, 2, 3.5) == 2           # key "1", items "2", "3.5"
    assert r.execute_command("TQ.POP", 1)[0] == b"2"
    assert r.execute_command("TQ.ACK", 1, 3.5) == 1
    r.execute_command("TQ.PUSH", "q", TP, 42)
    assert r.execute_command("TQ.BPOP", "q", 1)[0] == b"42"
    for timeout, why in ((" 1", "not a float"), ("1 ", "not a float"), ("1e400", "not a float"),
                         ("1.5e308", "out of range")):
        with pytest.raises(redis.ResponseError, match="^timeout is " + why):
            r.execute_command("TQ.BPOP", "q", timeout)


def test_ack_twice_out_of_order_and_never_moved(r):
    """The queue's "finish twice": a second TQ.ACK of the same item is a no-op."""
    r.execute_command("TQ.PUSH", "q", TP, b"a", b"b")
    assert r.execute_command("TQ.MOVE", "q", "p")[0] == b"a"
    assert r.execute_command("TQ.MOVE", "q", "p")[0] == b"b"
    assert r.execute_command("TQ.MOVE", "q", "p") is None         # nothing left: nil, p unchanged
    assert r.execute_command("TQ.ACK", "p", b"b") == 1             # out of order
    assert r.execute_command("TQ.ACK", "p", b"b") == 0
    assert r.execute_command("TQ.ACK", "p", b"never-moved") == 0
    assert r.execute_command("TQ.ACK", "missing", b"a") == 0
    assert r.execute_command("TQ.ACK", "p", b"a") == 1
    assert r.execute_command("TQ.ACK", "p", b"a") == 0
    assert r.exists("q", "p") == 0


def test_corrupted_tail_inside_multi_and_scripts(r):
    bad = rq.wrap(b"p", TP, 1700000000000000)[:-1]              # truncated
    r.rpush("q", b"next", bad)
    before = r.lrange("q", 0, -1)
    pipe = r.pipeline(transaction=True)
    pipe.execute_command("TQ.POP", "q")
    pipe.execute_command("TQ.MOVE", "q", "d")
    pipe.llen("q")
    res = pipe.execute(raise_on_error=False)
    assert [str(x) for x in res[:2]] == ["corrupted queue item at the tail of the list (truncated envelope); "
                                         "list unchanged, remove it with RPOP"] * 2
    assert res[2] == 2
    out = r.eval("local r = redis.pcall('TQ.POP', KEYS[1]) return {type(r), r.err or ''}", 1, "q")
    assert out[0] == b"table" and b"corrupted queue item" in out[1]
    assert r.lrange("q", 0, -1) == before and r.exists("d") == 0


def test_server_answers_after_all_of_the_above(server):
    c = server.client()
    assert server.alive() and c.ping()
    info = c.info()
    assert info["redis_version"] and "tracewire_corrupted_items_refused" in c.info("tracewire")
