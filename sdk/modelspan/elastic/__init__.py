"""modelspan on the Elastic stack: install and remove templates, ILM, indices, dashboards and alerts.

``setup()`` / ``teardown()`` back ``modelspan elastic setup|teardown``; ``roles()`` gives the
least-privilege role bodies documented in ``docs/elastic-roles.md``. The dashboards, watches and
rules themselves are loaded by ``modelspan.elastic.assets`` (from ``kibana/``).

Exceptions: :class:`SetupError` (``RuntimeError``) for every failure setup can explain: an
unreachable URL, rejected credentials (401), a missing privilege (403, named), an unsupported
version (below 8.17) or licence.
"""

from __future__ import annotations

from modelspan.elastic._http import SetupError
from modelspan.elastic._session import Action, SetupReport
from modelspan.elastic.setup import roles, setup, teardown

__all__ = ["Action", "SetupError", "SetupReport", "roles", "setup", "teardown"]
