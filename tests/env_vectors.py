"""Reader of tests/env_vectors.tsv, shared by the Python, Lua and Redis face tests.

Each case is run under both profiles (PROFILES) by the Python and Lua faces;
case["expect_by_profile"][profile] is what every listed key must read under
that profile (`expect` lines plus that profile's `expect@<profile>` lines).
case["expect"] is the native profile's (the Redis face has no other).
case["options"] are core options the tracer is also given; nested(options) is
the same as a jaeger_client config dict."""
import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "env_vectors.tsv")
PROFILES = ("native", "jaeger_client")


def load():
    keys, cases = [], []
    with open(PATH, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if cols[0] == "keys":
                keys = cols[1:]
            elif cols[0] == "case":
                cases.append({"name": cols[1], "env": {}, "options": {}, "warn": None,
                              "lines": {p: {} for p in ("",) + PROFILES}})
            elif cols[0] == "env":
                cases[-1]["env"][cols[1]] = cols[2]
            elif cols[0] == "option":
                cases[-1]["options"][cols[1]] = cols[2]
            elif cols[0].partition("@")[0] == "expect":
                only = cols[0].partition("@")[2]
                assert not only or only in PROFILES, "bad profile in %r" % line
                cases[-1]["lines"][only][cols[1]] = cols[2] if len(cols) > 2 else ""
            elif cols[0] == "warn":
                cases[-1]["warn"] = cols[1]
            else:
                raise AssertionError("bad line in %s: %r" % (PATH, line))
    for c in cases:
        lines = c.pop("lines")
        # a profile's own line wins over the common one
        c["expect_by_profile"] = {p: dict(lines[""], **lines[p]) for p in PROFILES}
        c["expect"] = c["expect_by_profile"]["native"]
    return keys, cases


def nested(options):
    """{"tags.k": v} -> {"tags": {"k": v}}: options as a jaeger_client config."""
    out = {}
    for key, value in options.items():
        *path, last = key.split(".")
        d = out
        for p in path:
            d = d.setdefault(p, {})
        d[last] = value
    return out
