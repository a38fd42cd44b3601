"""Type-check Elasticsearch request and response bodies against the official types with ``tsc``.

The npm package ``@elastic/elasticsearch`` ships the request/response types of every Elasticsearch
API (``estypes``). A body is written as a TypeScript object literal annotated with its type, so
``tsc --noEmit --strict`` rejects misspelled parameters, aggregations and wrong value types
(excess-property checks). ``.ci/run`` installs the npm packages (``npm ci`` in this folder).

Usage in a test::

    from tests.contract.tsc import Case, typecheck
    typecheck([Case("churn drift search", "SearchBody", body)])

``type`` is any TypeScript type expression over ``estypes``; the aliases below cover the common
request bodies (a request type minus the path parameters that are not part of the JSON body).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
TSC = HERE / "node_modules" / ".bin" / "tsc"

# Request bodies without their path/query parameters.
PRELUDE = """
import type { estypes } from '@elastic/elasticsearch'
type SearchBody = Omit<estypes.SearchRequest, 'index'>
type IndexTemplateBody = Omit<estypes.IndicesPutIndexTemplateRequest, 'name'>
type ComponentTemplateBody = Omit<estypes.ClusterPutComponentTemplateRequest, 'name'>
type IlmPolicyBody = Omit<estypes.IlmPutLifecycleRequest, 'name'>
type WatchBody = Omit<estypes.WatcherPutWatchRequest, 'id'>
type CreateIndexBody = Omit<estypes.IndicesCreateRequest, 'index'>
// One bulk action names exactly one operation (BulkOperationContainer alone would accept {} or two).
type BulkCreate = { create: estypes.BulkCreateOperation }
type BulkOperation = BulkCreate | { index: estypes.BulkIndexOperation } | { update: estypes.BulkUpdateOperation }
  | { delete: estypes.BulkDeleteOperation }
// A /_bulk body, grouped by bulk_groups(): each action with the line that must follow it (none for a
// delete). A source document is an object that is not itself an action (a missing line shifts the pairs).
type BulkSource = Record<string, unknown> & { create?: never, index?: never, update?: never, delete?: never }
type BulkBody = ([BulkCreate | { index: estypes.BulkIndexOperation }, BulkSource]
  | [{ update: estypes.BulkUpdateOperation }, estypes.BulkUpdateAction] | [{ delete: estypes.BulkDeleteOperation }])[]
type RoleBody = Omit<estypes.SecurityPutRoleRequest, 'name'>
"""


@dataclass(frozen=True)
class Case:
    """One body to check: a label for error messages, its TypeScript type, and the body."""

    label: str
    type: str
    body: Any


def available() -> bool:
    return TSC.exists() and shutil.which("node") is not None


def typecheck(cases: Iterable[Case]) -> None:
    """Fail the calling test with tsc's messages (mapped to case labels) if any body is ill-typed."""
    cases = list(cases)
    assert cases, "nothing to type-check"
    if not available():
        pytest.fail(f"contract check needs `npm ci` in {HERE} (see .ci/run)")
    lines = [PRELUDE]
    starts: list[tuple[int, str]] = []
    for number, case in enumerate(cases):
        starts.append((len("\n".join(lines).splitlines()) + 1, case.label))
        literal = json.dumps(case.body, indent=1, ensure_ascii=False)
        lines.append(f"export const case{number}: {case.type} = {literal}\n")
    source = "\n".join(lines)
    with tempfile.TemporaryDirectory(dir=HERE, prefix=".tsc-") as tmp:
        path = Path(tmp) / "bodies.ts"
        path.write_text(source)
        result = subprocess.run(
            [str(TSC), "--noEmit", "--strict", "--skipLibCheck", "--target", "es2022",
             "--module", "nodenext", "--moduleResolution", "nodenext", str(path)],
            capture_output=True, text=True, cwd=HERE, timeout=300,
        )
    if result.returncode != 0:
        pytest.fail("Elasticsearch contract check failed:\n" + _explain(result.stdout + result.stderr, starts))


def _explain(output: str, starts: list[tuple[int, str]]) -> str:
    explained = []
    for line in output.splitlines():
        match = re.search(r"bodies\.ts[(:](\d+)", line)
        if match:
            number = int(match[1])
            label = next((lab for start, lab in reversed(starts) if start <= number), "?")
            line = f"[{label}] {line}"
        explained.append(line)
    return "\n".join(explained)


RECORDED_TYPES = {
    "/_search": "SearchBody",
    "/_msearch": "estypes.MsearchRequest['searches']",
    "/_bulk": "BulkBody",
    "/_delete_by_query": "Pick<estypes.DeleteByQueryRequest, 'query'>",
}
"""The official type of each endpoint's body, for requests a loopback Elasticsearch recorded."""

RECORDED_PATHS = {
    r"/_index_template/[^/_][^/]*": "IndexTemplateBody",
    r"/_component_template/[^/_][^/]*": "ComponentTemplateBody",
    r"/_ilm/policy/[^/_][^/]*": "IlmPolicyBody",
    r"/_watcher/watch/[^/_][^/]*": "WatchBody",
    r"/[^/_][^/]*/_mapping": "Omit<estypes.IndicesPutMappingRequest, 'index' | 'write_index_only'>",
    r"/[^/_][^/]*": "CreateIndexBody",
}
"""Bodies sent to a named object (``modelspan elastic setup``): the whole path decides the type."""


def recorded_cases(requests: Sequence[tuple[str, str, Any]]) -> list[Case]:
    """A case for every recorded ``(method, path, body)`` that carries a body.

    A body sent to an endpoint without a type here fails the test: no request escapes the check.
    """
    cases = []
    for number, (method, path, body) in enumerate(requests):
        if body is None:
            continue
        endpoint = next((e for e in RECORDED_TYPES if path.endswith(e)), None)
        kind = RECORDED_TYPES[endpoint] if endpoint is not None else next(
            (t for pattern, t in RECORDED_PATHS.items() if re.fullmatch(pattern, path)), None)
        assert kind is not None, f"no contract type for a body sent to {method} {path}"
        if endpoint == "/_bulk":
            body = bulk_groups(body)
        cases.append(Case(f"{number} {method} {path}", kind, body))
    return cases


_BULK_OPERATIONS = ("create", "index", "update", "delete")


def bulk_groups(lines: Sequence[Any]) -> list[list[Any]]:
    """The parsed NDJSON lines of a ``/_bulk`` body, grouped as ``BulkBody`` types them.

    An action is followed by its source line, except ``delete``; a line that is not a one-operation
    action where one is due is kept in a group of its own, so tsc rejects it.

    >>> bulk_groups([{"create": {"_id": "a"}}, {"x": 1}, {"delete": {"_id": "b"}}])
    [[{'create': {'_id': 'a'}}, {'x': 1}], [{'delete': {'_id': 'b'}}]]
    """
    groups, position = [], 0
    while position < len(lines):
        action = lines[position]
        one_operation = isinstance(action, dict) and len(action) == 1 and next(iter(action)) in _BULK_OPERATIONS
        width = 1 if not one_operation or "delete" in action else 2
        groups.append(list(lines[position:position + width]))
        position += width
    return groups
