"""Profiles as bulk items for ``metrics-modelspan.profile-<namespace>`` (docs/profiles.md).

One operations document per profile and process flush (``modelspan.elasticsearch.profiles`` owns the
shape) and, for a model profile, its per-feature documents (``modelspan.elasticsearch.feature_profiles``):
readers sum them, so two processes, or two flushes of one process in the same interval, add up
instead of overwriting each other. The ``_id`` hashes a per-process token, the flush number and
the profile's key: a retried or spooled-and-replayed item carries the same id and is answered 409
(counted as stored once), while the next flush gets new ids. The items go through the exporter's
own sender, retries, spool and dead-letter file, exactly like spans.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from typing import Any

from modelspan.elasticsearch import feature_profiles, profiles
from modelspan.exporters._bulk import DEAD, NOT_SENT, Item, Outcome


def process_token() -> str:
    """A token for this process's profile documents: the pid and a random part (a forked child gets a new one)."""
    return f"{os.getpid()}-{secrets.token_hex(6)}"


def encode_profiles(items: Sequence[Any], namespace: str, process: str, flush: int) -> tuple[list[Item], list[Outcome]]:
    """Bulk ``create`` items of one flush, and the documents that cannot be encoded (with the reason).

    Each profile is its operations document followed by its per-feature documents
    (``modelspan.elasticsearch.feature_profiles``); one that cannot be encoded costs only itself.
    """
    index = profiles.data_stream_name(namespace)
    encoded: list[Item] = []
    rejected: list[Outcome] = []
    for profile in items:
        identifier = ""
        try:
            identifier = profiles.document_id(process, flush, profile)
            document = profiles.profile_document(profile, namespace, process)
            documents = [(identifier, document), *feature_profiles.feature_documents(profile, document, process, flush)]
        except Exception as exc:  # a malformed profile (NaN rows, ...) must not cost the others
            rejected.append(_rejected(index, identifier, profile, exc))
            continue
        for identifier, document in documents:
            try:
                source = json.dumps(document, separators=(",", ":"), allow_nan=False)
            except Exception as exc:
                rejected.append(_rejected(index, identifier, document, exc))
                continue
            encoded.append(Item(identifier, index, _action(index, identifier) + source.encode() + b"\n"))
    return encoded, rejected


def _rejected(index: str, identifier: str, what: Any, exc: Exception) -> Outcome:
    reason = f"profile cannot be encoded as JSON ({type(exc).__name__}: {exc})"[:500]
    line = json.dumps({"profile": repr(what)[:10_000]})
    return Outcome(Item(identifier, index, _action(index, identifier) + line.encode() + b"\n"), DEAD, NOT_SENT, reason)


def _action(index: str, identifier: str) -> bytes:
    return json.dumps({"create": {"_index": index, "_id": identifier}}, separators=(",", ":")).encode() + b"\n"
