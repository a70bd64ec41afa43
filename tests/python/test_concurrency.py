"""Parents stay right under concurrency: 8 threads (thread-local scope manager)
and 200 asyncio tasks (contextvars scope manager) nesting active spans."""
import asyncio
import threading

import tracewire
from conftest import memory_tracer


def check_tree(spans, roots, depth):
    by_id = {s["span_id"]: s for s in spans}
    assert len(spans) == roots * depth
    for s in spans:
        name = s["operation_name"]
        worker, level = name.split("/")
        level = int(level)
        if level == 0:
            assert s["parent_id"] in ("0000000000000000", None)
        else:
            parent = by_id[s["parent_id"]]
            assert parent["operation_name"] == "%s/%d" % (worker, level - 1)
            assert parent["trace_id"] == s["trace_id"]


def test_eight_threads_nesting_spans_keep_parents():
    tracer = memory_tracer()
    depth, per_thread = 4, 25
    barrier = threading.Barrier(8)
    errors = []

    def nest(name, level):
        with tracer.start_active_span("%s/%d" % (name, level)) as scope:
            if tracer.active_span is not scope.span:
                errors.append("active mismatch")
            if level + 1 < depth:
                nest(name, level + 1)

    def run(tid):
        barrier.wait()
        for i in range(per_thread):
            nest("t%d.%d" % (tid, i), 0)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    check_tree(tracer.memory_spans(), 8 * per_thread, depth)


def test_two_hundred_asyncio_tasks_keep_parents():
    tracer = memory_tracer(tracewire.ContextVarsScopeManager())
    depth = 3

    async def nest(name, level):
        with tracer.start_active_span("%s/%d" % (name, level)) as scope:
            await asyncio.sleep(0)
            assert tracer.active_span is scope.span
            if level + 1 < depth:
                await nest(name, level + 1)
            await asyncio.sleep(0)
            assert tracer.active_span is scope.span

    async def main():
        await asyncio.gather(*(nest("a%d" % i, 0) for i in range(200)))
        assert tracer.active_span is None

    asyncio.run(main())
    check_tree(tracer.memory_spans(), 200, depth)


def test_thread_local_manager_is_per_thread():
    tracer = memory_tracer()
    seen = []
    with tracer.start_active_span("main"):
        th = threading.Thread(target=lambda: seen.append(tracer.active_span))
        th.start()
        th.join()
    assert seen == [None]


def test_tracer_shared_across_threads_with_udp(udp_sink):
    tracer = tracewire.Config({"sampler": {"type": "const", "param": 1}, "protocol": "udp", "local_agent": {"reporting_port": udp_sink.port}},
                              service_name="mt").new_tracer()

    def run():
        for _ in range(200):
            with tracer.start_span("x") as s:
                s.set_tag("k", "v")

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tracer.close(timeout=10.0)
    m = tracer.metrics()
    assert m["spans_finished"] == 1600
    assert m["spans_reported"] + m["dropped_queue_full"] + m["dropped_too_large"] \
        + m["dropped_send_failed"] + m["dropped_on_close"] == 1600
    assert m["spans_reported"] == 1600


def test_more_thread_local_managers_than_pthread_keys():
    """Past the process's pthread keys a manager falls back to the thread-state dict."""
    managers = [tracewire.ThreadLocalScopeManager() for _ in range(1100)]
    tracer = memory_tracer(managers[-1])
    with tracer.start_active_span("outer") as outer:
        inner = tracer.start_span("inner")
        assert inner.context.parent_id == outer.span.context.span_id
        for m in (managers[0], managers[-1]):
            span = tracer.start_span("x", ignore_active_span=True)
            with m.activate(span, True) as sc:
                assert m.active is sc
            assert span.finished
    assert tracer.active_span is None
    del managers


def test_forked_child_reports_its_own_spans(udp_sink):
    """A tracer made before fork (gunicorn --preload) works in the child: the
    reporter starts lazily there and the child's spans reach the agent."""
    import os
    tracer = tracewire.Config({"sampler": {"type": "const", "param": 1}, "protocol": "udp", "local_agent": {"reporting_port": udp_sink.port}},
                              service_name="forked").new_tracer()
    with tracer.start_active_span("parent-before-fork"):
        pass
    # The master's reporter thread has started and delivered before the fork
    # (as in gunicorn --preload, where the master forks long after its last
    # span). Forking while that thread is still starting up is safe with
    # glibc's malloc, which is locked around fork, but not under the ASan
    # runtime of gcc 12 (TW_SANITIZE=1), whose allocator is not: a size-class
    # lock held by the parent's thread at fork time stayed locked in the
    # child, and the child's own reporter thread hung on it in its start-up
    # calloc (pthread_getattr_np), so flush(5.0) there timed out.
    assert tracer.flush(5.0)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            with tracer.start_active_span("in-child") as scope:
                scope.span.set_tag("pid", os.getpid())
            code = 0 if tracer.flush(5.0) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    seen = b""
    for _ in range(3):
        try:
            seen += udp_sink.recv(5)
        except OSError:
            break
        if b"in-child" in seen:
            break
    assert b"in-child" in seen
    assert b"parent-before-fork" in seen   # the master's span, sent before the fork
    tracer.close()
