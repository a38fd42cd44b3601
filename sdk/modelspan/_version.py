"""The version of modelspan, in one place.

The distribution's metadata reads it from here (``[tool.hatch.version]`` in ``pyproject.toml``),
``modelspan.__version__`` re-exports it, and the instrumentation names it as the scope version of
every span. It imports nothing, so any layer may use it (docs/architecture.md, the layers).
"""

__version__ = "0.1.0"
