"""Reader of tests/env_vectors.tsv, shared by the Python and Lua face tests."""
import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "env_vectors.tsv")


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
                cases.append({"name": cols[1], "env": {}, "expect": {}, "warn": None})
            elif cols[0] == "env":
                cases[-1]["env"][cols[1]] = cols[2]
            elif cols[0] == "expect":
                cases[-1]["expect"][cols[1]] = cols[2] if len(cols) > 2 else ""
            elif cols[0] == "warn":
                cases[-1]["warn"] = cols[1]
            else:
                raise AssertionError("bad line in %s: %r" % (PATH, line))
    return keys, cases
