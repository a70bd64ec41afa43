"""Across languages: a Python producer inside a traced span pushes through the
module; Python and Lua consumers continue the trace. Every span is checked
from the Jaeger Thrift datagrams received by the test's UDP socket. Needs the
Python binding (tests/redis/run.sh installs it into build/redis-tests/py and
puts it on PYTHONPATH) and the Lua binding (built by tests/redis/run.sh).
Under run.sh a missing binding fails the test; run by hand, the test skips,
saying why."""
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest

from conftest import rq, TOP, trace_hex, span_hex, parent_hex, tags

HERE = pathlib.Path(__file__).resolve().parent
LUA_BUILD = pathlib.Path(os.environ.get("TW_BUILD_DIR", TOP / "build/redis-tests")) / "lua"


def need(what, reason):
    """Skips when a binding is missing, or fails under tests/redis/run.sh
    (TW_REDIS_BINDINGS=required), which builds both."""
    if os.environ.get("TW_REDIS_BINDINGS") == "required":
        pytest.fail(reason + " (tests/redis/run.sh builds it: see its output)")
    pytest.skip(reason)


def py_tracer(collector, service):
    try:
        import tracewire
        import tracewire._core  # noqa: F401  (the extension, not just the package dir)
    except ImportError as e:
        need("tracewire", "Python binding not installed: %s" % e)
    from tracewire.config import Config
    cfg = {"sampler": {"type": "const", "param": 1}, "logging": False, "protocol": "udp",
           "local_agent": {"reporting_host": "127.0.0.1", "reporting_port": collector.port},
           "reporter_flush_interval": 0.02}
    del tracewire
    return Config(config=cfg, service_name=service, validate=True).new_tracer()


def wait_names(collector, *names):
    return collector.wait_for(lambda s: set(names) <= {x.operationName for x in s})


def by_name(spans, name):
    found = [s for s in spans if s.operationName == name]
    assert len(found) == 1, (name, [s.operationName for s in spans])
    return found[0]


def produce(r, collector, key, payloads):
    """Pushes payloads from inside an active Python span; returns its span."""
    from tracewire import redis_queue   # the installed package's copy
    tracer = py_tracer(collector, "py-producer")
    with tracer.start_active_span("produce") as scope:
        scope.span.set_tag("span.kind", "producer")
        carrier = redis_queue.current_carrier(tracer)      # the active span's context
        before = time.time()    # wall clock, as the server stamps
        redis_queue.push(r, key, *payloads, carrier=carrier)
        after = time.time()
        produced = scope.span
    tracer.close()
    return produced, (before, after)


def check_wait(wait_us, push_window, pop_window):
    """The server's enqueue->dequeue interval lies inside what the client saw
    (from before the push was sent to after the pop returned) and covers the
    time between the two replies; on an idle machine both bounds are within a
    few ms of the sleep, and they stay exact on a loaded one."""
    outer = (pop_window[1] - push_window[0]) * 1e6
    inner = (pop_window[0] - push_window[1]) * 1e6
    assert inner - 1000 <= wait_us <= outer + 1000, (inner, wait_us, outer)
    slack = outer - inner           # the two round trips
    assert abs(wait_us - inner) <= slack + 5000, (wait_us, inner, slack)


def check_chain(spans, produced, key, consumer_name, wait_us):
    tid = "%032x" % produced.context.trace_id if isinstance(produced.context.trace_id, int) \
        else produced.context.trace_id
    send = by_name(spans, "send " + key)
    wait = by_name(spans, "wait " + key)
    proc = by_name(spans, consumer_name)
    pid = produced.context.span_id
    pid = "%016x" % pid if isinstance(pid, int) else pid
    assert trace_hex(send)[-len(tid):] == tid[-32:].rjust(32, "0")[-len(tid):]
    assert {trace_hex(s) for s in (send, wait, proc)} == {trace_hex(send)}
    assert parent_hex(send) == pid                 # producer -> send
    assert parent_hex(wait) == span_hex(send)      # send -> wait
    assert parent_hex(proc) == span_hex(wait)      # wait -> process (child by default)
    assert tags(send)["span.kind"] == "producer"
    assert tags(proc)["span.kind"] == "consumer"
    assert wait.duration == wait_us


def test_python_producer_to_python_consumer(r, collector):
    collector.clear()
    produced, push_window = produce(r, collector, "pyq", [b"job-1"])
    from tracewire import redis_queue
    consumer = py_tracer(collector, "py-consumer")
    time.sleep(0.2)
    t = time.time()
    item = redis_queue.bpop(r, "pyq", 5)
    pop_window = (t, time.time())
    check_wait(item.wait_us, push_window, pop_window)
    span = redis_queue.consumer_span(consumer, item, "pyq")
    span.finish()
    consumer.close()
    spans = wait_names(collector, "produce", "send pyq", "wait pyq", "process pyq")
    assert collector.errors == []
    check_chain(spans, produced, "pyq", "process pyq", item.wait_us)
    assert by_name(spans, "produce").spanId == by_name(spans, "send pyq").parentSpanId


def test_python_consumer_link_mode_uses_a_follows_from_reference(r, collector):
    collector.clear()
    produce(r, collector, "linkq", [b"x"])
    from tracewire import redis_queue
    consumer = py_tracer(collector, "py-consumer")
    item = redis_queue.pop(r, "linkq")
    span = redis_queue.consumer_span(consumer, item, "linkq", link=True)
    span.finish()
    consumer.close()
    spans = wait_names(collector, "process linkq", "wait linkq")
    proc, wait = by_name(spans, "process linkq"), by_name(spans, "wait linkq")
    assert trace_hex(proc) == trace_hex(wait)
    assert [(ref.refType, "%016x" % (ref.spanId & (2**64 - 1))) for ref in proc.references] == \
        [(1, span_hex(wait))]                    # FOLLOWS_FROM, not CHILD_OF


def lua_runtime(name):
    exe = shutil.which(name)
    abi = "5.4" if name == "lua5.4" else "5.1"
    so = LUA_BUILD / abi / "tracewire.so"
    if not exe:
        need(name, "%s not installed" % name)
    if not so.exists():
        need(name, "Lua binding not built at %s" % so)
    env = dict(os.environ)
    env["LUA_CPATH"] = "%s/?.so;;" % so.parent
    env["LUA_PATH"] = "%s/lua/?.lua;;" % TOP
    return exe, env


@pytest.mark.parametrize("runtime", ["lua5.4", "luajit"])
@pytest.mark.parametrize("how", ["tq.bpop", "plain brpop + unwrap"])
def test_python_producer_to_lua_consumer(r, server, collector, tmp_path, runtime, how):
    exe, env = lua_runtime(runtime)
    collector.clear()
    key = "luaq"
    produced, push_window = produce(r, collector, key, [b"job-lua"])
    time.sleep(0.15)
    args = [exe, str(HERE / "consumer.lua"), str(server.port), str(collector.port), key]
    if how == "plain brpop + unwrap":
        _, raw = r.brpop(key, 5)
        slept_us = (time.time() - push_window[1]) * 1e6
        (tmp_path / "raw").write_bytes(raw)
        args.append(str(tmp_path / "raw"))
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["ok"] and res["payload"] == "job-lua"
    names = ["process " + key, "send " + key] + (["wait " + key] if how == "tq.bpop" else [])
    spans = wait_names(collector, *names)
    proc = by_name(spans, "process " + key)
    send = by_name(spans, "send " + key)
    assert trace_hex(proc) == trace_hex(send)
    assert span_hex(proc) == res["span_id"][-16:]
    if how == "tq.bpop":
        # module -> wait span -> Lua process span
        wait = by_name(spans, "wait " + key)
        assert parent_hex(proc) == span_hex(wait) and parent_hex(wait) == span_hex(send)
        assert wait.duration == res["wait_us"]
        assert res["wait_us"] >= 150000
    else:
        # no module on the pop path: the Lua span continues from the send span
        # stored in the envelope; the wait is measured on the consumer's clock
        assert parent_hex(proc) == span_hex(send)
        assert not [s for s in spans if s.operationName == "wait " + key]
        # (measured when the Lua process decodes it, so after its start-up)
        assert slept_us - 5000 <= res["wait_us"] < slept_us + 5e6


@pytest.mark.parametrize("runtime", ["lua5.4", "luajit"])
def test_lua_consumer_link_mode_uses_a_follows_from_reference(r, server, collector, runtime):
    exe, env = lua_runtime(runtime)
    collector.clear()
    produce(r, collector, "lualink", [b"x"])
    env["TQ_LINK"] = "1"
    out = subprocess.run([exe, str(HERE / "consumer.lua"), str(server.port), str(collector.port), "lualink"],
                         env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    spans = wait_names(collector, "process lualink", "wait lualink")
    proc, wait = by_name(spans, "process lualink"), by_name(spans, "wait lualink")
    assert [(ref.refType, "%016x" % (ref.spanId & (2**64 - 1))) for ref in proc.references or []] == \
        [(1, span_hex(wait))]
