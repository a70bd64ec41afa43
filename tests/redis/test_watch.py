"""TQ.* commands that change nothing must not abort other clients'
WATCH ... EXEC, as plain RPOP/LMOVE/LREM do not (issue #19 item 2); ones that
change the watched key must abort it, as the plain ones do."""
import pytest
import redis

from conftest import rq

TP = "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def exec_after(r, server, watched, *cmd):
    """WATCH `watched` on one connection, run cmd on another, then EXEC:
    True when the transaction went through."""
    other = server.client()
    with r.pipeline() as p:
        p.watch(*watched)
        try:
            other.execute_command(*cmd)
        except redis.ResponseError:
            pass
        p.multi()
        p.set("marker", "1")
        try:
            p.execute()
            return True
        except redis.WatchError:
            return False


NOOPS = [
    ("missing", ("TQ.POP", "q")),
    ("missing", ("TQ.BPOP", "q", "0.01")),
    ("missing", ("TQ.MOVE", "q", "d")),
    ("missing", ("TQ.MOVE", "q", "q")),
    ("missing", ("TQ.ACK", "q", "x")),
    ("list", ("TQ.ACK", "q", "no-such-item")),
    ("list", ("TQ.MOVE", "q", "wrongtype")),       # WRONGTYPE destination
    ("list", ("TQ.PUSH", "q", "traceparent=00-bad", "x")),   # bad carrier
    ("corrupt", ("TQ.POP", "q")),                  # corrupted tail: list unchanged
    ("corrupt", ("TQ.MOVE", "q", "d")),
    ("string", ("TQ.PUSH", "q", TP, "x")),         # WRONGTYPE source
    ("string", ("TQ.POP", "q")),
]


def setup(r, state):
    r.set("wrongtype", "s")
    if state == "list":
        rq.push(r, "q", b"a", b"b", carrier=TP)
    elif state == "corrupt":
        r.rpush("q", rq.wrap(b"p", "", 1)[:-1] + b"!")
        r.lpush("q", "plain")
    elif state == "string":
        r.set("q", "v")


def contents(r):
    """Every key's type and value (DUMP would do, but Redis's lzf trips
    valgrind's uninitialised-value check in the memcheck run)."""
    out = {}
    for k in (b"q", b"d", b"wrongtype"):
        t = r.type(k)
        out[k] = (t, r.lrange(k, 0, -1) if t == b"list" else r.get(k) if t == b"string" else None)
    return out


@pytest.mark.parametrize("state,cmd", NOOPS, ids=["%s-%s" % (s, " ".join(c)) for s, c in NOOPS])
def test_noop_keeps_watch(r, server, state, cmd):
    setup(r, state)
    before = contents(r)
    assert exec_after(r, server, ("q", "d"), *cmd)
    assert contents(r) == before


@pytest.mark.parametrize("plain", [("RPOP", "q"), ("LMOVE", "q", "d", "RIGHT", "LEFT"),
                                   ("LREM", "q", "-1", "no-such-item")])
def test_plain_commands_agree(r, server, plain):
    assert exec_after(r, server, ("q", "d"), *plain)      # missing key
    r.rpush("q", "x")
    if plain[0] == "LREM":
        assert exec_after(r, server, ("q",), *plain)      # no match


CHANGES = [
    ("TQ.POP", "q"), ("TQ.BPOP", "q", "0.01"), ("TQ.MOVE", "q", "d"), ("TQ.MOVE", "q", "q"),
    ("TQ.ACK", "q", "a"), ("TQ.PUSH", "q", TP, "c"),
]


@pytest.mark.parametrize("cmd", CHANGES, ids=[" ".join(c) for c in CHANGES])
def test_change_aborts_watch(r, server, cmd):
    rq.push(r, "q", b"a", b"b", carrier=TP)
    if cmd[0] == "TQ.ACK":
        rq.move(r, "q", "q")             # 'a' sits at the head now; ACK finds it
    assert not exec_after(r, server, ("q",), *cmd)


def test_move_to_watched_destination_aborts(r, server):
    rq.push(r, "q", b"a", carrier=TP)
    assert not exec_after(r, server, ("d",), "TQ.MOVE", "q", "d")


def test_one_item_rotation_aborts_like_lmove(r, server):
    r.rpush("p", "x")
    assert not exec_after(r, server, ("p",), "LMOVE", "p", "p", "RIGHT", "LEFT")
    rq.push(r, "q", b"a", carrier=TP)
    assert not exec_after(r, server, ("q",), "TQ.MOVE", "q", "q")


STREAM_NOOPS = [
    ("TQ.XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),             # nothing new
    ("TQ.XREADGROUP", "GROUP", "g", "c", "BLOCK", "20", "STREAMS", "s", ">"),  # times out
    ("TQ.XREADGROUP", "GROUP", "nogroup", "c", "STREAMS", "s", ">"),       # NOGROUP
    ("TQ.XADD", "s", "*", "traceparent=00-bad", "f", "v"),                 # bad carrier
    ("TQ.XADD", "s", "*", TP, "traceparent", "v"),                         # reserved field
    ("TQ.XADD", "s", "1-1", TP, "f", "v"),                                 # id not above the top
    ("TQ.XADD", "missing", "NOMKSTREAM", "*", TP, "f", "v"),               # nothing created
]


@pytest.mark.parametrize("cmd", STREAM_NOOPS, ids=[" ".join(c[:6]) for c in STREAM_NOOPS])
def test_stream_noop_keeps_watch(r, server, cmd):
    r.xadd("s", {"f": "v"}, id="5-5")
    r.xgroup_create("s", "g", "$")
    before = r.xinfo_stream("s", full=True)
    assert exec_after(r, server, ("s", "missing"), *cmd)
    assert r.exists("missing") == 0 and r.xinfo_stream("s", full=True) == before


@pytest.mark.parametrize("cmd", [("XADD", "s", "*", "f", "v"),
                                 ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")])
def test_stream_changes_treat_watch_as_the_plain_command(r, server, cmd):
    """XADD signals the key (aborts WATCH); XREADGROUP delivering an entry
    does not (Redis 7.0 does not signal group changes). TQ.* does the same."""
    results = []
    for variant in (cmd, ("TQ." + cmd[0],) + cmd[1:3] + ((TP,) if cmd[0] == "XADD" else ()) + cmd[3:]):
        r.delete("s")
        r.xgroup_create("s", "g", "0", mkstream=True)
        r.xadd("s", {"f": "v"})
        results.append(exec_after(r, server, ("s",), *variant))
        if variant[0] == "TQ.XREADGROUP":
            assert r.xpending("s", "g")["pending"] == 1       # it did deliver
    assert results == [cmd[0] != "XADD"] * 2
