"""One setup run's connection: sends requests, turns bad answers into clear errors, records actions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

from modelspan.elastic._http import Request, Response, SetupError, Target, Transport
from modelspan.elasticsearch.templates import PASSTHROUGH_PRIORITY

Outcome = Literal["created", "updated", "unchanged", "deleted", "absent", "kept", "skipped"]


@dataclass(frozen=True)
class Action:
    """What setup or teardown did to one object."""

    outcome: Outcome
    kind: str
    name: str
    note: str = ""

    def __str__(self) -> str:
        return f"{self.outcome:9} {self.kind} {self.name}" + (f" ({self.note})" if self.note else "")


@dataclass
class SetupReport:
    """Everything a run did, in order, plus what it found out about the cluster."""

    version: str = ""
    license: str = ""
    alerting: Literal["watcher", "rules", "none"] = "none"
    alerts_to: str = ""
    """Where alerts will be delivered (the Kibana server log, the watch history, a webhook)."""
    actions: list[Action] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[Action]:
        """Actions that wrote something (created, updated or deleted)."""
        return [action for action in self.actions if action.outcome in ("created", "updated", "deleted")]

    def summary(self) -> str:
        lines = [f"Elasticsearch {self.version}, licence {self.license}, alerting: {self.alerting}"]
        if self.alerts_to:
            lines.append(f"alerts go to {self.alerts_to}")
        lines += [str(action) for action in self.actions]
        lines += [f"warning: {warning}" for warning in self.warnings]
        lines.append(f"{len(self.changed)} change(s)")
        return "\n".join(lines)


class Session:
    """Sends :class:`Request` values through a transport and keeps the run's report."""

    def __init__(self, transport: Transport, *, kibana_space: str | None = None) -> None:
        self.transport = transport
        self.report = SetupReport()
        self.passthrough_priority = PASSTHROUGH_PRIORITY
        """Priority of ``attributes`` in the cluster's ``otel@mappings`` (read by setup's first checks)."""
        self.kibana_prefix = f"/s/{kibana_space}" if kibana_space and kibana_space != "default" else ""

    def es(self, method: str, path: str, privilege: str, body: Any = None,
           expect: Collection[int] = (200,)) -> Response:
        return self.call(Request("elasticsearch", method, path, privilege, body), expect)

    def kibana(self, method: str, path: str, privilege: str, body: Any = None,
               expect: Collection[int] = (200,), *, raw: bytes | None = None,
               headers: dict[str, str] | None = None) -> Response:
        request = Request("kibana", method, self.kibana_prefix + path, privilege, body, headers or {}, raw)
        return self.call(request, expect)

    def call(self, request: Request, expect: Collection[int]) -> Response:
        response = self.transport.send(request)
        if response.status in expect:
            return response
        raise explain(request, response)

    def record(self, outcome: Outcome, kind: str, name: str, note: str = "") -> None:
        self.report.actions.append(Action(outcome, kind, name, note))


_SERVICE = {"elasticsearch": "Elasticsearch", "kibana": "Kibana"}


def explain(request: Request, response: Response) -> SetupError:
    """A :class:`SetupError` that says what went wrong and what to do about it."""
    service = _SERVICE[request.target]
    what = f"{request.method} {request.path}"
    reason = _reason(response.body)
    if response.status == 401:
        return SetupError(
            f"{service} rejected the credentials (401) on {what}: check ELASTICSEARCH_API_KEY, or "
            f"ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD (--api-key / --username / --password)", 401)
    if response.status == 403:
        return SetupError(
            f"{service} refused {what} (403): the user needs the {request.privilege} "
            f"(see docs/elastic-roles.md). {service} said: {reason}", 403)
    return SetupError(f"{service} answered {response.status} to {what}: {reason}", response.status)


def _reason(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("reason") or error.get("type") or error)
        if body.get("message"):
            return str(body["message"])
        if error:
            return str(error)
    return str(body)[:500]


def version_tuple(number: str) -> tuple[int, int]:
    """``"8.17.3-SNAPSHOT"`` -> ``(8, 17)``.

    >>> version_tuple("9.1.0")
    (9, 1)
    """
    parts = number.split("-")[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError as exc:
        raise SetupError(f"cannot read the version {number!r}") from exc


def check_version(target: Target, body: Any, minimum: tuple[int, int]) -> str:
    """The server's version number; a :class:`SetupError` when it is below ``minimum``."""
    number = body.get("version", {}).get("number") if isinstance(body, dict) else None
    if not isinstance(number, str):
        raise SetupError(f"{_SERVICE[target]} did not report its version; is this URL really {_SERVICE[target]}?")
    if version_tuple(number) < minimum:
        raise SetupError(f"{_SERVICE[target]} {number} is not supported: modelspan needs "
                         f"{minimum[0]}.{minimum[1]} or later (OTel-native data streams, passthrough attributes)")
    return number
