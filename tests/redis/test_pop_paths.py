"""The pop core takes the tail in one step when the list holds two or more
values (and puts a corrupted one back), and only reads-then-deletes the last
value. Both paths must answer the same and leave a corrupted list exactly as
it was, TTL included; good items pop in order either way."""
import pytest
import redis

from conftest import rq

TP = "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
BAD = rq.wrap(b"payload", "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
              1700000000000000)[:-1] + b"!"          # checksum mismatch


@pytest.mark.parametrize("before", [0, 1, 5])
@pytest.mark.parametrize("cmd", [("TQ.POP", "q"), ("TQ.BPOP", "q", "0.1"), ("TQ.MOVE", "q", "d"),
                                 ("TQ.MOVE", "q", "q")])
def test_corrupted_tail_stays_with_its_ttl(r, before, cmd):
    r.rpush("q", BAD)
    for i in range(before):
        r.lpush("q", "plain-%d" % i)
    r.pexpire("q", 100000)
    content = r.lrange("q", 0, -1)
    with pytest.raises(redis.ResponseError, match="corrupted queue item .* list unchanged"):
        r.execute_command(*cmd)
    assert r.lrange("q", 0, -1) == content
    assert 90000 < r.pttl("q") <= 100000
    if cmd[-1] == "d":
        assert r.exists("d") == 0


@pytest.mark.parametrize("n", [1, 2, 3])
def test_pop_and_move_order_on_short_lists(r, n):
    for i in range(n):
        rq.push(r, "q", b"%d" % i, carrier=TP)
    assert rq.move(r, "q", "q").payload == b"0"       # rotate: tail -> head of the same list
    got = [rq.pop(r, "q").payload for _ in range(n)]
    assert got == [b"%d" % i for i in range(1, n)] + [b"0"]
    assert rq.pop(r, "q") is None and r.exists("q") == 0
    for i in range(n):
        rq.push(r, "q", b"%d" % i, carrier=TP)
    moved = [rq.move(r, "q", "p").payload for _ in range(n)]
    assert moved == [b"%d" % i for i in range(n)]
    assert r.exists("q") == 0
    assert [rq.unwrap(v).payload for v in r.lrange("p", 0, -1)] == list(reversed(moved))
