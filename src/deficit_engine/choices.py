"""The fixed choices the API and the command line share: inference backends, export formats.

A module with no imports, so that the command line can offer these choices
(``--backend``, ``route --format``) without importing the engine or the renderers:
``deficit-engine --help`` and ``deficit-engine schema`` stay fast. ``engine`` and
``export`` re-export them (``engine.BACKENDS``, ``export.FORMATS``).
"""

from __future__ import annotations

__all__ = ["BACKENDS", "EXPORT_FORMATS"]

#: The inference backends an :class:`~deficit_engine.engine.Engine` runs (docs/rules.md,
#: "Backends"): durable_rules' Rete, the reference pure-Python matcher, the compiled one.
BACKENDS = ("durable", "python", "fast")

#: The formats :func:`deficit_engine.export.render` writes, as ``route --format`` names them.
EXPORT_FORMATS = ("json", "md", "html", "mermaid", "dot")
