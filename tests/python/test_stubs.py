"""The extension's type stubs (python/tracewire/_core.pyi + py.typed): they name
what the extension has, ship in the installed package, and mypy uses them:
a user-style program type-checks clean and a wrong type in one is caught.
mypy runs from the repo's .venv (scripts/bootstrap installs it) against the
interpreter running this suite (--python-executable), so each CPython's
installed wheel is checked."""
import ast
import os
import subprocess
import sys

import tracewire
from tracewire import _core

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PKG = os.path.dirname(tracewire.__file__)


def stub_names():
    tree = ast.parse(open(os.path.join(PKG, "_core.pyi")).read())
    names, members = set(), {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            members[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
    return names, members


def test_stubs_ship_with_the_package():
    assert os.path.isfile(os.path.join(PKG, "py.typed"))
    assert os.path.isfile(os.path.join(PKG, "_core.pyi"))


def test_stubs_name_what_the_extension_has():
    names, members = stub_names()
    public = {n for n in dir(_core) if not n.startswith("__")}
    assert public - {"Format"} == names - {"_Options", "_Parent"} - {"Format"}
    for cls in ("Tracer", "Span", "SpanContext", "Scope", "ThreadLocalScopeManager",
                "ContextVarsScopeManager"):
        have = {n for n, v in vars(getattr(_core, cls)).items() if not n.startswith("_")}
        assert have <= members[cls], "%s: not in the stub: %s" % (cls, have - members[cls])
        assert members[cls] - {"__init__", "__enter__", "__exit__"} <= have | {
            n for n in dir(getattr(_core, cls)) if not n.startswith("_")}


GOOD = '''
from opentracing import Format
import tracewire
from tracewire import Config

tracer = Config({"sampler": {"type": "const", "param": 1}, "protocol": "memory"},
                service_name="typed").new_tracer()
with tracer.start_active_span("op") as scope:
    scope.span.set_tag("k", 1).log_kv({"event": "e"})
    headers: dict = {}
    tracer.inject(scope.span.context, Format.HTTP_HEADERS, headers)
span: tracewire.Span = tracer.start_span("x")
span.finish()
n: int = span.trace_id
name: str = span.operation_name
ok: bool = tracer.flush(1.0)
end = span.end_time
kind: str = tracer.sampler.type
native = tracewire.Tracer({"reporter.protocols": "memory"})
ctx = native.extract(Format.HTTP_HEADERS, headers)
hexid: str = ctx.trace_id_hex if ctx is not None else ""
'''


def mypy(tmp_path, source):
    prog = tmp_path / "prog.py"
    prog.write_text(source)
    mypy_py = os.path.join(TOP, ".venv", "bin", "python")
    assert os.path.exists(mypy_py), "mypy runs from the repo's .venv (scripts/bootstrap)"
    return subprocess.run(
        [mypy_py, "-m", "mypy", "--ignore-missing-imports", "--no-incremental",
         "--python-executable", sys.executable, str(prog)],
        capture_output=True, text=True, cwd=str(tmp_path), timeout=300)


def test_mypy_accepts_a_user_program(tmp_path):
    r = mypy(tmp_path, GOOD)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_sees_the_stubs(tmp_path):
    r = mypy(tmp_path, GOOD + "\nwrong: str = span.trace_id\nbad: int = tracer.config('x')\n")
    assert r.returncode == 1
    assert 'expression has type "int", variable has type "str"' in r.stdout
    assert 'expression has type "str", variable has type "int"' in r.stdout
