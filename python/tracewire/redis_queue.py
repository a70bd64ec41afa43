"""Traced Redis work queues: client helpers for the tracewire Redis module.

The module (``MODULE LOAD .../tracewire.so``) stores each item of a plain Redis
list inside a small binary envelope carrying the producer's trace context and
the server-clock enqueue time. This file is the Python face of that design:

* :func:`push`, :func:`pop`, :func:`bpop`, :func:`move` call ``TQ.PUSH``,
  ``TQ.POP``, ``TQ.BPOP`` and ``TQ.MOVE`` through any redis-py client and
  return :class:`QueueItem` (payload, carrier, enqueue_us, wait_us);
* :func:`unwrap` decodes a raw list value for workers that still use plain
  ``BRPOP``/``RPOP`` (only ``wait_us`` then comes from the local clock);
* :func:`parse_carrier` / :func:`format_carrier` convert between the carrier
  text and a header dict for ``tracer.extract``/``inject``.

The envelope and the carrier text are decoded by the C core, the same code
the Redis module runs (``tracewire.h``, "queue envelope" and "carrier
text"), through the binding: Python never disagrees with the module about
what is corrupted. Envelope v1 (all integers big-endian)::

    00 54 57 51 1A | ver=1 | flags=0 | 0 | enqueue_us:i64 | carrier_len:u32 |
    payload_len:u32 | carrier | payload | crc32(all preceding bytes):u32

redis-py is used only when the command functions are called (any client with
``execute_command`` works).
"""
from __future__ import annotations

import time
from typing import Any, Dict, Mapping, NamedTuple, Optional, Union

__all__ = [
    "MAGIC", "EnvelopeError", "QueueItem", "wrap", "unwrap", "is_envelope",
    "parse_carrier", "format_carrier", "push", "pop", "bpop", "move", "ack",
    "current_carrier", "consumer_span",
    "CARRIER_FIELDS", "StreamEntry", "stream_entry", "xadd", "xreadgroup", "stream_consumer_span",
]

from . import _core

MAGIC = b"\x00TWQ\x1a"
VERSION = 1


class EnvelopeError(ValueError):
    """A value that starts with the envelope magic but does not decode."""


class QueueItem(NamedTuple):
    payload: bytes
    carrier: str        # "" for items pushed with plain LPUSH
    enqueue_us: int     # server wall clock, µs since the epoch; -1 if unknown
    wait_us: int        # enqueue -> dequeue; -1 if unknown

    @property
    def traced(self) -> bool:
        return bool(self.carrier)

    def headers(self) -> Dict[str, str]:
        """The carrier as a header dict (lower-case names)."""
        return parse_carrier(self.carrier)


def is_envelope(raw: bytes) -> bool:
    return raw[:5] == MAGIC


def wrap(payload: bytes, carrier: Union[str, bytes] = "", enqueue_us: Optional[int] = None) -> bytes:
    """Builds an envelope exactly as the module does (for tools and tests;
    producers should use :func:`push` so the server stamps the time)."""
    if enqueue_us is None:
        enqueue_us = time.time_ns() // 1000
    return _core.envelope_encode(payload, carrier, enqueue_us)


def unwrap(raw: bytes, now_us: Optional[int] = None) -> QueueItem:
    """Decodes one raw list value. Plain values come back unchanged with an
    empty carrier; a damaged envelope raises :class:`EnvelopeError`."""
    try:
        item = _core.envelope_decode(raw)
    except ValueError as e:
        raise EnvelopeError(str(e)) from None
    if item is None:
        return QueueItem(bytes(raw), "", -1, -1)
    payload, carrier, enq = item
    if now_us is None:
        now_us = time.time_ns() // 1000
    return QueueItem(payload, carrier, enq, max(0, now_us - enq))


def parse_carrier(text: Union[str, bytes]) -> Dict[str, str]:
    """Carrier text -> {lower-case name: value}. Accepts the module's header
    block ("name: value" lines) and the one-line "name=value;name=value" form;
    raises ValueError, with the module's reason, for text the module refuses."""
    return _core.carrier_parse(text)


def format_carrier(headers: Mapping[str, Any]) -> str:
    """{name: value} -> the header-block carrier text TQ.PUSH accepts, written
    by the core's carrier text writer (the one the Redis module and Lua use).
    List values are joined with ","; raises ValueError, with the core's
    reason, for a name or value carrier text cannot hold (a newline, a name
    outside [A-Za-z0-9._-])."""
    pairs = []
    for k, v in headers.items():
        if isinstance(v, (list, tuple)):
            v = ",".join(str(x) for x in v)
        pairs.append((str(k), str(v)))
    return _core.carrier_format(pairs)


# ------------------------------------------------------------------ tracing glue

def current_carrier(tracer: Any = None, span: Any = None) -> str:
    """The carrier text for span; by default the active span of tracer (or of
    the global opentracing tracer). "" when there is no span. Uses the
    OpenTracing ``tracer.inject(ctx, "http_headers", dict)``, which the
    tracewire binding implements."""
    if span is None:
        if tracer is None:
            import opentracing
            tracer = opentracing.global_tracer()
        span = getattr(tracer, "active_span", None)
        if span is None:
            return ""
    if tracer is None:
        tracer = span.tracer
    headers: Dict[str, str] = {}
    ctx = span.context if hasattr(span, "context") else span
    tracer.inject(ctx, "http_headers", headers)
    return format_carrier(headers)


def consumer_span(tracer: Any, item: QueueItem, key: str, link: bool = False, **kw: Any) -> Any:
    """Starts the consumer's "process <key>" CONSUMER span continuing item's
    trace: a child of the returned context by default, or (link=True) a span
    that references it with FOLLOWS_FROM instead (the OpenTracing form of the
    OpenTelemetry messaging "link"). The caller finishes the span."""
    parent = tracer.extract("http_headers", item.headers()) if item.traced else None
    tags = {"span.kind": "consumer", "messaging.system": "redis",
            "messaging.destination.name": key, "messaging.operation.type": "process"}
    tags.update(kw.pop("tags", {}) or {})
    if parent is not None and link:
        import opentracing
        return tracer.start_span("process %s" % key, tags=tags,
                                 references=[opentracing.follows_from(parent)], **kw)
    return tracer.start_span("process %s" % key, child_of=parent, tags=tags, **kw)


# ------------------------------------------------------------------ commands

def _item(reply: Any) -> Optional[QueueItem]:
    if reply is None:
        return None
    payload, carrier, enq, wait = reply
    if isinstance(carrier, bytes):
        carrier = carrier.decode("latin-1")
    return QueueItem(bytes(payload) if not isinstance(payload, str) else payload.encode(),
                     carrier, int(enq), int(wait))


def push(client: Any, key: str, *items: Union[bytes, str], carrier: Optional[Union[str, Mapping[str, str]]] = None,
         tracer: Any = None, span: Any = None) -> int:
    """TQ.PUSH key carrier item...: carrier defaults to the active span's
    context. Returns the list length."""
    if not items:
        raise ValueError("push needs at least one item")
    if carrier is None:
        carrier = current_carrier(tracer, span)
    elif not isinstance(carrier, str):
        carrier = format_carrier(carrier)
    return client.execute_command("TQ.PUSH", key, carrier, *items)


def pop(client: Any, key: str) -> Optional[QueueItem]:
    """TQ.POP key -> QueueItem or None when the list is empty."""
    return _item(client.execute_command("TQ.POP", key))


def bpop(client: Any, key: str, timeout: float = 0) -> Optional[QueueItem]:
    """TQ.BPOP key timeout (seconds, 0 = forever) -> QueueItem or None."""
    return _item(client.execute_command("TQ.BPOP", key, timeout))


def move(client: Any, src: str, dst: str) -> Optional[QueueItem]:
    """TQ.MOVE src dst: reliable-queue pop; the stored value stays at the head
    of dst (the processing list) until :func:`ack` removes it."""
    return _item(client.execute_command("TQ.MOVE", src, dst))


def ack(client: Any, key: str, payload: Union[bytes, str]) -> bool:
    """TQ.ACK key payload: removes the processed item from the processing list."""
    return bool(client.execute_command("TQ.ACK", key, payload))


# ------------------------------------------------------------------ streams
# Helpers for TQ.XADD / TQ.XREADGROUP (Redis Streams and consumer groups).
# The module stores the context as ordinary entry fields (traceparent, and
# tracestate/baggage when present), so these helpers only assemble commands
# and split replies; they work with redis.Redis and redis.cluster.RedisCluster
# alike (the cluster client routes TQ.* by the module's key declarations: one
# stream per call, or keys sharing a {hash tag}).

#: Entry field names that hold the trace context (read back as the carrier):
#: every header name the core injects or extracts, from the core
#: (tw_header_names, the list the Redis module uses), plus the prefixes below.
CARRIER_FIELDS = tuple(n for n, is_prefix in _core.header_names() if not is_prefix)
_CARRIER_PREFIXES = tuple(n for n, is_prefix in _core.header_names() if is_prefix)


def _is_carrier_field(name: str) -> bool:
    n = name.lower()
    return n in CARRIER_FIELDS or any(len(n) > len(p) and n.startswith(p) for p in _CARRIER_PREFIXES)


class StreamEntry(NamedTuple):
    key: str
    id: str
    fields: Dict[bytes, bytes]   # the producer's fields, carrier fields left out
    carrier: str                 # header block of the carrier fields; "" if none
    enqueue_us: int              # the id's milliseconds, in µs (server clock)

    @property
    def traced(self) -> bool:
        return bool(self.carrier)

    def headers(self) -> Dict[str, str]:
        return parse_carrier(self.carrier)


def _text(v: Any) -> str:
    return v.decode("latin-1") if isinstance(v, (bytes, bytearray)) else str(v)


def stream_entry(key: Any, entry_id: Any, flat: Any) -> StreamEntry:
    """One entry of an XREADGROUP/XRANGE reply ([f1, v1, f2, v2, ...], or a
    dict) as a StreamEntry."""
    pairs = list(flat.items()) if isinstance(flat, dict) else \
        [(flat[i], flat[i + 1]) for i in range(0, len(flat or []) - 1, 2)]
    fields: Dict[bytes, bytes] = {}
    lines = []
    for f, v in pairs:
        name = _text(f)
        if _is_carrier_field(name):
            lines.append("%s: %s" % (name, _text(v)))
        else:
            fields[f if isinstance(f, bytes) else str(f).encode()] = \
                v if isinstance(v, bytes) else str(v).encode()
    eid = _text(entry_id)
    ms = eid.split("-", 1)[0]
    return StreamEntry(_text(key), eid, fields, "\n".join(lines), int(ms) * 1000 if ms.isdigit() else -1)


def xadd(client: Any, key: str, fields: Mapping[Any, Any], id: str = "*",
         carrier: Optional[Union[str, Mapping[str, str]]] = None, tracer: Any = None,
         span: Any = None, maxlen: Optional[int] = None, minid: Optional[str] = None,
         approximate: bool = True, limit: Optional[int] = None, nomkstream: bool = False) -> Any:
    """TQ.XADD: adds an entry whose fields are the carrier's context followed
    by ``fields``; carrier defaults to the active span's context. Returns the
    entry id (None with nomkstream on a missing stream)."""
    if not fields:
        raise ValueError("xadd needs at least one field")
    if carrier is None:
        carrier = current_carrier(tracer, span)
    elif not isinstance(carrier, str):
        carrier = format_carrier(carrier)
    args: list = [key]
    if nomkstream:
        args.append("NOMKSTREAM")
    if maxlen is not None or minid is not None:
        args += ["MAXLEN" if maxlen is not None else "MINID", "~" if approximate else "=",
                 maxlen if maxlen is not None else minid]
        if limit is not None:
            args += ["LIMIT", limit]
    args += [id, carrier]
    for f, v in fields.items():
        args += [f, v]
    return client.execute_command("TQ.XADD", *args)


def xreadgroup(client: Any, group: str, consumer: str, streams: Mapping[str, str],
               count: Optional[int] = None, block: Optional[int] = None,
               noack: bool = False) -> list:
    """TQ.XREADGROUP: ``streams`` maps keys to ids ('>' for new entries, an id
    to re-read this consumer's pending ones); ``block`` in milliseconds.
    Returns the delivered entries as StreamEntry, in reply order ([] when
    nothing came). The module reports each entry's wait span."""
    args: list = ["GROUP", group, consumer]
    if count is not None:
        args += ["COUNT", count]
    if block is not None:
        args += ["BLOCK", block]
    if noack:
        args.append("NOACK")
    args.append("STREAMS")
    args += list(streams.keys()) + list(streams.values())
    reply = client.execute_command("TQ.XREADGROUP", *args)
    if not reply:
        return []
    per_key = reply.items() if isinstance(reply, dict) else reply
    out = []
    for key, entries in per_key:
        for e in entries or []:
            if e and e[1] is not None:          # [id, nil]: a pending entry deleted since
                out.append(stream_entry(key, e[0], e[1]))
    return out


def stream_consumer_span(tracer: Any, entry: StreamEntry, link: bool = False, **kw: Any) -> Any:
    """Starts the "process <key>" CONSUMER span for a stream entry: a child of
    the entry's context (link=True: a FOLLOWS_FROM reference). The caller
    finishes it (and XACKs the entry)."""
    return consumer_span(tracer, entry, entry.key, link=link, **kw)
