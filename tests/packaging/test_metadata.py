"""Metadata of the wheels and the sdist as a user's pip and PyPI see them."""
import email
import re
import subprocess
import sys
import tarfile
import zipfile

try:
    import tomllib
except ImportError:  # the suite's venv may be older than 3.11
    tomllib = None

import pytest
from packaging.specifiers import SpecifierSet

from conftest import TOP, VERSION, supported, wheels


def pyproject():
    if tomllib is None:
        pytest.fail("tomllib needed (Python >= 3.11 for the packaging venv)")
    with open(TOP / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def test_requires_python_is_what_ci_runs():
    vs = supported()
    low, high = vs[0], vs[-1]
    nxt = "3.%d" % (int(high.split(".")[1]) + 1)
    assert pyproject()["requires-python"] == ">=%s, <%s" % (low, nxt)
    cls = {c.rsplit(" ", 1)[1] for c in pyproject()["classifiers"]
           if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    assert cls == set(vs)


def test_license_file_is_apache_2():
    text = (TOP / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert pyproject()["license"] == "Apache-2.0"


def test_one_repaired_wheel_per_supported_cpython(out):
    tags = sorted(re.search(r"-(cp3\d+)-cp3\d+-", w.name).group(1) for w in wheels())
    assert tags == sorted("cp3%s" % v.split(".")[1] for v in supported())
    for w in wheels():
        assert re.fullmatch(r"tracewire-%s-(cp3\d+)-\1-manylinux_2_\d+_x86_64\.whl" % re.escape(VERSION), w.name), w.name


def test_auditwheel_accepts_the_manylinux_tag(out):
    for w in wheels():
        plat = re.search(r"-(manylinux_2_\d+_x86_64)\.whl$", w.name).group(1)
        show = (out / ("show-%s.txt" % w.name[:-4])).read_text()
        assert 'is consistent with\nthe following platform tag: "%s"' % plat in show \
            or 'consistent with the following platform tag: "%s"' % " ".join(plat.split()) in " ".join(show.split()), show


def test_wheel_carries_libcurl_and_jansson_not_sources(out):
    for w in wheels():
        names = zipfile.ZipFile(w).namelist()
        libs = [n for n in names if n.startswith("tracewire.libs/")]
        assert any(re.match(r"tracewire\.libs/libcurl-[0-9a-f]+\.so", n) for n in libs), libs
        assert any(re.match(r"tracewire\.libs/libjansson-[0-9a-f]+\.so", n) for n in libs), libs
        assert any(re.match(r"tracewire/_core\.cpython-3\d+-x86_64-linux-gnu\.so$", n) for n in names)
        assert not [n for n in names if n.endswith((".c", ".h"))]
        # every module of the package, subpackages included (tracewire.otel, …)
        py = [str(p.relative_to(TOP / "python")) for p in (TOP / "python" / "tracewire").rglob("*.py")]
        assert not [m for m in py if m not in names], [m for m in py if m not in names]
        assert "tracewire-%s.dist-info/licenses/LICENSE" % VERSION in names


def test_wheel_metadata(out):
    readme_head = (TOP / "README.md").read_text().splitlines()[0]
    for w in wheels():
        z = zipfile.ZipFile(w)
        msg = email.message_from_bytes(z.read("tracewire-%s.dist-info/METADATA" % VERSION))
        assert msg["Name"] == "tracewire" and msg["Version"] == VERSION
        assert msg["License-Expression"] == "Apache-2.0"
        assert SpecifierSet(msg["Requires-Python"]) == SpecifierSet(pyproject()["requires-python"])
        assert msg["Description-Content-Type"] == "text/markdown"
        assert readme_head in msg.get_payload()
        assert any(r.startswith("opentracing") for r in msg.get_all("Requires-Dist"))
        assert msg.get_all("Project-URL")
        assert set(msg.get_all("Classifier")) == set(pyproject()["classifiers"])


def test_sdist_holds_everything_the_build_needs(out):
    sdists = list((out / "sdist").glob("tracewire-*.tar.gz"))
    assert [p.name for p in sdists] == ["tracewire-%s.tar.gz" % VERSION]
    root = "tracewire-%s/" % VERSION
    names = set(tarfile.open(sdists[0]).getnames())
    need = ["LICENSE", "VERSION", "README.md", "pyproject.toml", "setup.py",
            "core/include/tracewire.h", "python/tracewire/pycompat.h", "python/tracewire/_core.h"]
    need += [str(p.relative_to(TOP)) for p in (TOP / "core" / "src").glob("*.[ch]")]
    need += [str(p.relative_to(TOP)) for p in (TOP / "python" / "tracewire").glob("*.[ch]")]
    need += [str(p.relative_to(TOP)) for p in (TOP / "python" / "tracewire").rglob("*.py")]
    missing = [n for n in need if root + n not in names]
    assert not missing
    junk = [n for n in names if n.startswith((root + "build/", root + ".venv/", root + "tests/"))]
    assert not junk, junk[:5]
    pkg_info = email.message_from_bytes(tarfile.open(sdists[0]).extractfile(root + "PKG-INFO").read())
    assert pkg_info["Version"] == VERSION


def test_wheel_built_from_the_sdist_works(out):
    """The sdist was unpacked away from the tree, built into a wheel, installed
    into a directory: that package imports and traces."""
    code = ("import tracewire, json; t = tracewire.Tracer({'service_name': 's', 'reporter.protocols': 'memory'});"
            "t.start_span('from-sdist').finish(); print(tracewire.__file__); print(tracewire.__version__)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/",
                       env={"PYTHONPATH": str(out / "sdist-target")})
    assert r.returncode == 0, r.stderr
    path, version = r.stdout.split()
    assert path.startswith(str(out / "sdist-target")) and version == VERSION
