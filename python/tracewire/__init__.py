"""tracewire for Python: a drop-in for ``opentracing`` + ``jaeger_client``.

Change ``from jaeger_client import Config`` to ``from tracewire import Config``;
the rest of an opentracing 2.x program stays as it is::

    from tracewire import Config
    tracer = Config(config={'sampler': {'type': 'const', 'param': 1},
                            'logging': True},
                    service_name='my-service').initialize_tracer()
    with tracer.start_active_span('work') as scope:
        scope.span.set_tag('k', 'v')

Every class here is implemented in C (``tracewire._core``) over the tracewire
core and is an instance of the matching opentracing class: ``Tracer`` is an
``opentracing.Tracer``, spans are ``opentracing.Span``, and so on.
"""
from opentracing import Format  # noqa: F401  (re-exported for convenience)

from . import _core
from ._core import (  # noqa: F401
    ContextVarsScopeManager,
    Scope,
    Span,
    SpanContext,
    ThreadLocalScopeManager,
    Tracer,
)
from .config import Config, install_global  # noqa: F401
from ._fidelity import JaegerTracer, LogRecord, SamplerInfo  # noqa: F401
from . import _fidelity

_fidelity.install()     # Span.tags / .logs / .end_time (read-only, off the span path)

__version__ = _core.VERSION

__all__ = [
    "Config", "Tracer", "Span", "SpanContext", "Scope", "ThreadLocalScopeManager",
    "ContextVarsScopeManager", "Format", "install_global", "__version__",
    "JaegerTracer", "LogRecord", "SamplerInfo",
]
