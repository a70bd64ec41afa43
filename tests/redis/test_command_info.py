"""Every TQ.* command declares its arity, flags and keys (COMMAND INFO,
COMMAND GETKEYS: what cluster clients route by) and documents itself
(COMMAND DOCS: summary and arguments)."""
import pytest
import redis

from conftest import raw

TP = "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

# name -> (arity, flags that must be there, (first, last, step))
EXPECTED = {
    "tq.push": (-4, {"write", "denyoom"}, (1, 1, 1)),
    "tq.pop": (2, {"write", "fast"}, (1, 1, 1)),
    "tq.bpop": (3, {"write", "blocking"}, (1, 1, 1)),
    "tq.move": (3, {"write", "fast"}, (1, 2, 1)),
    "tq.ack": (3, {"write"}, (1, 1, 1)),
    "tq.xadd": (-6, {"write", "denyoom", "fast"}, (1, 1, 1)),
    "tq.xreadgroup": (-7, {"write", "blocking", "movablekeys"}, (0, 0, 0)),
}


def info(r, name):
    return raw(r, "COMMAND", "INFO", name)[0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_command_info(r, name):
    arity, flags, (first, last, step) = EXPECTED[name]
    got = info(r, name)
    assert got[0] == name.encode()
    assert got[1] == arity
    assert flags <= {f.decode() for f in got[2]}, got[2]
    assert tuple(got[3:6]) == (first, last, step)
    assert got[8], "no key specs"


GETKEYS = [
    (("TQ.PUSH", "k", TP, "a", "b"), [b"k"]),
    (("TQ.POP", "k"), [b"k"]),
    (("TQ.BPOP", "k", "1"), [b"k"]),
    (("TQ.MOVE", "src", "dst"), [b"src", b"dst"]),
    (("TQ.ACK", "k", "item"), [b"k"]),
    (("TQ.XADD", "s", "MAXLEN", "~", "10", "*", TP, "f", "v"), [b"s"]),
    (("TQ.XREADGROUP", "GROUP", "g", "c", "STREAMS", "s1", ">"), [b"s1"]),
    (("TQ.XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "BLOCK", "0", "NOACK", "STREAMS",
      "s1", "s2", "s3", ">", "0", ">"), [b"s1", b"s2", b"s3"]),
    (("TQ.XREADGROUP", "GROUP", "streams", "STREAMS", "STREAMS", "a", ">"), [b"a"]),
    (("TQ.XREADGROUP", "COUNT", "1", "GROUP", "g", "c", "STREAMS", "a", "b", ">", ">"), [b"a", b"b"]),
]


@pytest.mark.parametrize("cmd,keys", GETKEYS, ids=[c[0][0] + str(len(c[0])) for c in GETKEYS])
def test_getkeys(r, cmd, keys):
    assert raw(r, "COMMAND", "GETKEYS", *cmd) == keys


@pytest.mark.parametrize("cmd", [("TQ.POP",), ("TQ.POP", "a", "b"), ("TQ.MOVE", "a"),
                                 ("TQ.PUSH", "k", TP), ("TQ.ACK", "k"), ("TQ.BPOP", "k"),
                                 ("TQ.XADD", "s", "*", TP, "f"),
                                 ("TQ.XREADGROUP", "GROUP", "g", "c", "STREAMS", "s")])
def test_arity_errors_come_from_the_declared_arity(r, cmd):
    with pytest.raises(redis.ResponseError,
                       match="wrong number of arguments for '%s' command" % cmd[0].lower()):
        r.execute_command(*cmd)


def _docs(r, name):
    got = raw(r, "COMMAND", "DOCS", name)
    assert got[0] == name.encode()
    flat = got[1]
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def _arg_names(args):
    out = []
    for a in args:
        d = {a[i].decode(): a[i + 1] for i in range(0, len(a), 2)}
        out.append(d["name"].decode())
    return out


DOC_ARGS = {
    "tq.push": ["key", "carrier", "item"],
    "tq.pop": ["key"],
    "tq.bpop": ["key", "timeout"],
    "tq.move": ["source", "destination"],
    "tq.ack": ["key", "item"],
    "tq.xadd": ["key", "nomkstream", "trim", "id-selector", "carrier", "data"],
    "tq.xreadgroup": ["group-block", "count", "milliseconds", "noack", "streams"],
}


@pytest.mark.parametrize("name", sorted(DOC_ARGS))
def test_command_docs(r, name):
    d = _docs(r, name)
    assert len(d["summary"]) > 20
    assert d["module"] == b"tracewire"
    assert _arg_names(d["arguments"]) == DOC_ARGS[name]
