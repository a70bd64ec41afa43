"""Builds the CPython extension `tracewire._core` (python/tracewire/_core_*.c), into
which every core/src/*.c is compiled (hidden visibility; only PyInit__core is
exported). libcurl, jansson and zlib are linked through pkg-config. The package's
metadata (name, version from the VERSION file, dependencies, classifiers) is in
pyproject.toml.

    pip install .                      # or: pip install --no-build-isolation .
    pip wheel --no-deps -w dist .      # a wheel; auditwheel repair makes it portable
    TW_SANITIZE=1 pip install .        # ASan+UBSan build (run with LD_PRELOAD=libasan)
    TW_WERROR=1 pip install .          # -Werror, as CI builds the core
"""
import glob
import os
import shlex
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def pkg_config(*args):
    try:
        out = subprocess.check_output(("pkg-config",) + args, text=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out)


def deps():
    flags = pkg_config("--cflags", "--libs", "libcurl", "jansson", "zlib")
    if flags is None:          # no pkg-config: the Debian library names
        flags = ["-lcurl", "-ljansson", "-lz"]
    inc = [f[2:] for f in flags if f.startswith("-I")]
    libdirs = [f[2:] for f in flags if f.startswith("-L")]
    libs = [f[2:] for f in flags if f.startswith("-l")]
    return inc, libdirs, libs + ["pthread", "m"]


class BuildExt(build_ext):
    """Adds a linker version script so the extension exports only PyInit__core
    (the core's tw_* symbols stay private to this module)."""

    def build_extension(self, ext):
        os.makedirs(self.build_temp, exist_ok=True)
        script = os.path.join(self.build_temp, "tracewire_core.map")
        with open(script, "w") as f:
            f.write("{ global: PyInit__core; local: *; };\n")
        ext.extra_link_args = list(ext.extra_link_args) + ["-Wl,--version-script=" + script]
        super().build_extension(ext)


def check_version():
    """The public header's TW_VERSION must be the VERSION file's (as CMake checks)."""
    with open(os.path.join(HERE, "VERSION")) as f:
        version = f.read().strip()
    with open(os.path.join(HERE, "core", "include", "tracewire.h")) as f:
        header = f.read()
    if '\n#define TW_VERSION "%s"\n' % version not in header:
        raise SystemExit("core/include/tracewire.h's TW_VERSION is not VERSION's %s: "
                         "run scripts/set-version %s" % (version, version))


check_version()
inc, libdirs, libs = deps()
# initial-exec TLS: the core's per-thread id generator and span pool (tens of
# bytes) without a __tls_get_addr call per access; fits glibc's static TLS
# surplus reserved for dlopen()ed modules.
cflags = ["-std=gnu11", "-D_GNU_SOURCE", "-fvisibility=hidden", "-O2", "-ftls-model=initial-exec",
          "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
ldflags = []
if os.environ.get("TW_WERROR"):
    cflags.append("-Werror")
if os.environ.get("TW_SANITIZE"):
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"]
    cflags += san + ["-O1", "-g"]
    ldflags += san

def sources(*parts):
    return sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, *parts)))


# the binding, one file per type (python/tracewire/_core_*.c), then the core
ext_sources = sources("python", "tracewire", "_core_*.c") + sources("core", "src", "*.c")
ext_headers = sources("python", "tracewire", "*.h") + sources("core", "src", "*.h") + ["core/include/tracewire.h"]

setup(
    ext_modules=[
        Extension(
            "tracewire._core",
            sources=ext_sources,
            include_dirs=["core/include", "core/src"] + inc,
            library_dirs=libdirs,
            libraries=libs,
            extra_compile_args=cflags,
            extra_link_args=ldflags,
            depends=ext_headers,
        )
    ],
    cmdclass={"build_ext": BuildExt},
    options={"build": {"build_base": "build/python"}},
)
