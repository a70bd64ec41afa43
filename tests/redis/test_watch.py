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
