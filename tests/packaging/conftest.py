"""Shared facts for the packaging tests. tests/packaging/run.sh builds and installs
everything first (wheels, clean venvs, sdist, rock tree, cmake prefix) into
TW_PKG_OUT; these tests only read what it left and ask the installed things."""
import os
import pathlib

import pytest

TOP = pathlib.Path(__file__).resolve().parents[2]
VERSION = (TOP / "VERSION").read_text().strip()
OUT = pathlib.Path(os.environ.get("TW_PKG_OUT", TOP / "build" / "packaging")).resolve()


def supported():
    """The supported CPython versions, from scripts/pythons (the one list)."""
    text = (TOP / "scripts" / "pythons").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("SUPPORTED=("))
    return line[len("SUPPORTED=("):-1].split()


def wheels():
    f = OUT / "wheels.txt"
    return [pathlib.Path(p) for p in f.read_text().split()] if f.exists() else []


@pytest.fixture(scope="session")
def out():
    assert OUT.is_dir(), "run tests/packaging/run.sh (it prepares %s)" % OUT
    return OUT
