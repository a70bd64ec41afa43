"""INFO tracewire shows every counter the core keeps: the reporter section is
driven by the core's counter list (tw_counters_at), so the agent controls'
counters of #20 (throttler, baggage restrictions) appear beside the span
counters, and a counter added to tw_counters later appears without an edit in
the module. Checked against the field list of tw_counters in the public
header, and by values moved by a real failure: a throttler and a restrictions
manager polling an agent port nobody listens on."""
import pathlib
import re
import time

from conftest import TOP, free_port, module_args

HEADER = pathlib.Path(TOP) / "core" / "include" / "tracewire.h"


def header_counters():
    text = HEADER.read_text()
    body = text[text.index("typedef struct tw_counters {"):text.index("} tw_counters;")]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = []
    for decl in re.findall(r"uint64_t\s+([^;]+);", body):
        names += [n.strip() for n in decl.split(",")]
    return names


def reporter_fields(r):
    info = r.info("tracewire")
    return {k[len("tracewire_"):]: v for k, v in info.items()}


def wait_info(r, pred, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        got = reporter_fields(r)
        if pred(got) or time.time() > deadline:
            return got
        time.sleep(0.05)


def test_info_shows_every_counter_of_the_core(server):
    names = header_counters()
    assert len(names) >= 22 and "throttled_debug_spans" in names
    got = reporter_fields(server.client())
    missing = [n for n in names if n not in got]
    assert not missing, missing
    assert all(isinstance(got[n], int) for n in names)


def test_agent_control_failures_move_their_info_counters(make_server, collector):
    dead = free_port()          # nobody listens: every poll is refused
    srv = make_server("ctl").start(module_args(
        collector, "sampler.type=const", "sampler.param=0", "debug_id_header=X-Dbg",
        "throttler.port=%d" % dead, "throttler.refresh_interval_ms=50",
        "baggage_restrictions.host_port=127.0.0.1:%d" % dead,
        "baggage_restrictions.refresh_interval_ms=50"))
    r = srv.client()
    # a debug-id carrier: the throttler has no credit for the operation yet
    r.execute_command("TQ.PUSH", "jobs", b"x-dbg: corr-1\n", b"item")
    got = wait_info(r, lambda f: f["throttler_updates_err"] >= 1
                    and f["baggage_restrictions_updates_err"] >= 1)
    assert got["throttled_debug_spans"] == 1, got
    assert got["throttler_updates_err"] >= 1, got
    assert got["throttler_updates_ok"] == 0, got
    assert got["baggage_restrictions_updates_err"] >= 1, got
    assert got["baggage_restrictions_updates_ok"] == 0, got
    # and the failures speak in the Redis log, at warning (" # ")
    deadline = time.time() + 3
    while time.time() < deadline:
        lines = [l for l in srv.log.read_text().splitlines() if "tracewire:" in l and
                 ("throttler" in l or "baggage restrictions" in l)]
        if len(lines) >= 2:
            break
        time.sleep(0.1)
    assert any("throttler" in l for l in lines), lines
    assert all(" # " in l for l in lines), lines
