"""Too much baggage in a TQ.PUSH carrier (issue #19 item 4): the job keeps
its trace, the excess baggage is dropped, and INFO tracewire counts it in
the reporter section's baggage_dropped, beside the span counters."""
from conftest import rq  # noqa: F401  (loads the helpers the fixtures use)

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
TP = b"traceparent: 00-%s-00f067aa0ba902b7-01" % TID.encode()


def dropped(r):
    return r.info("tracewire")["tracewire_baggage_dropped"]


def test_excess_baggage_is_dropped_counted_and_the_trace_goes_on(r):
    before = dropped(r)
    members = b",".join(b"k%d=1" % i for i in range(181))
    assert r.execute_command("TQ.PUSH", "q", TP + b"\nbaggage: " + members, b"job") == 1
    job, carrier = r.execute_command("TQ.POP", "q")[:2]
    assert job == b"job"
    lines = carrier.split(b"\n")
    assert lines[0].startswith(b"traceparent: 00-%s-" % TID.encode())
    sent = lines[1].split(b": ", 1)[1].split(b",")
    assert len(sent) == 180 and b"k180=1" not in sent
    # one item dropped on the push's extract
    assert dropped(r) == before + 1
