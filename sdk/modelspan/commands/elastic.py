"""``modelspan elastic setup|teardown|roles``: prepare (or clean up) Elasticsearch and Kibana.

Connection settings come from the options, else the environment, read exactly as the exporter
reads it (``modelspan.elasticsearch.connection``: ``ELASTICSEARCH_URL`` or ``ELASTICSEARCH_CLOUD_ID``,
``ELASTICSEARCH_API_KEY``, ``ELASTICSEARCH_USERNAME``/``_PASSWORD``, ``ELASTICSEARCH_CA_CERTS``,
``ELASTICSEARCH_VERIFY_CERTS``, ``ELASTICSEARCH_HEADERS``) and ``KIBANA_URL``::

    modelspan elastic setup --kibana-url http://localhost:5601 --webhook-url https://hooks.slack.com/...
    modelspan elastic setup --dry-run requests/     # write every request as JSON, send nothing
    modelspan elastic teardown [--delete-data]
    modelspan elastic roles > roles.json            # least-privilege role bodies
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from modelspan.elasticsearch import templates

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def register(subparsers: Any) -> None:
    """Add the ``elastic`` sub-command and its ``setup``, ``teardown`` and ``roles`` actions."""
    parser = subparsers.add_parser(
        "elastic", help="install templates, ILM, dashboards and alerts in Elasticsearch and Kibana",
        description="Prepare an Elasticsearch (8.17+ or 9.x) cluster and Kibana for modelspan.")
    actions = parser.add_subparsers(dest="elastic_command", metavar="ACTION", required=True)
    setup = actions.add_parser(
        "setup", help="install everything (idempotent: re-running changes nothing)",
        description="Install index templates, ILM policies, ingest pipelines, the findings/outcomes/baselines "
        "indices, Kibana data views and dashboards, and alerting (Watcher or Kibana rules). Re-running changes "
        "nothing. Without --webhook-url, alerts only reach the Kibana server log. --dry-run DIR writes every "
        "request as JSON and sends nothing.")
    _connection(setup)
    setup.add_argument("--webhook-url", help="URL alerts are posted to (Slack, PagerDuty, any webhook)")
    setup.add_argument("--throttle", default="15m", help="least time between two alerts of one watch/rule")
    setup.add_argument("--retention-days", type=int, default=templates.DEFAULT_RETENTION_DAYS,
                       help=f"days spans are kept (default {templates.DEFAULT_RETENTION_DAYS})")
    setup.add_argument("--findings-retention-days", type=int, default=templates.DEFAULT_FINDINGS_RETENTION_DAYS,
                       help=f"days findings are kept (default {templates.DEFAULT_FINDINGS_RETENTION_DAYS})")
    setup.add_argument("--baseline", action="append", default=[], metavar="FILE",
                       help="baseline JSON whose features get pinned field types (repeatable)")
    setup.add_argument("--alerting", choices=["auto", "watcher", "rules", "none"], default="auto",
                       help="auto: Watcher when the licence allows it, else Kibana rules")
    setup.set_defaults(handler=run_setup)
    teardown = actions.add_parser(
        "teardown", help="remove what setup installed (data stays unless --delete-data)",
        description="Remove the templates, pipelines, dashboards and alerts that setup installed. Span data, "
        "findings, outcomes, baselines and checkpoints stay unless --delete-data is given.")
    _connection(teardown)
    teardown.add_argument("--delete-data", action="store_true",
                          help="also delete span data streams, findings, outcomes, baselines, checkpoints and ILM")
    teardown.set_defaults(handler=run_teardown)
    roles = actions.add_parser(
        "roles", help="print least-privilege role bodies (PUT _security/role/<name>)",
        description="Print, as one JSON object, the least-privilege Elasticsearch role bodies for the exporter "
        "and the analyzer; create them with PUT _security/role/<name>. Sends nothing.")
    roles.set_defaults(handler=run_roles)


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--es-url", help="Elasticsearch URL (default: ELASTICSEARCH_URL)")
    parser.add_argument("--kibana-url", help="Kibana URL (default: KIBANA_URL; without it Kibana is skipped)")
    parser.add_argument("--api-key", help="API key (default: ELASTICSEARCH_API_KEY)")
    parser.add_argument("--username", help="user (default: ELASTICSEARCH_USERNAME); password from "
                        "ELASTICSEARCH_PASSWORD")
    parser.add_argument("--cloud-id", help="Elastic Cloud ID (default: ELASTICSEARCH_CLOUD_ID)")
    parser.add_argument("--ca-certs", help="CA bundle to verify TLS (default: ELASTICSEARCH_CA_CERTS)")
    parser.add_argument("--kibana-space", help="Kibana space for the dashboards and rules (default space)")
    parser.add_argument("--dry-run", metavar="DIR", help="write every request as JSON files in DIR; send nothing")
    parser.add_argument("--assume-license", default="basic",
                        help="licence a dry run assumes (basic: Kibana rules; platinum, trial...: watches)")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {"api_key": args.api_key, "username": args.username, "cloud_id": args.cloud_id,
            "ca_certs": args.ca_certs, "kibana_space": args.kibana_space, "dry_run_dir": args.dry_run,
            "dry_run_license": args.assume_license}


def run_setup(args: argparse.Namespace) -> int:
    from modelspan.baseline import Baseline
    from modelspan.elastic import SetupError, setup

    try:
        baselines = [Baseline.load(path) for path in args.baseline]
        report = setup(args.es_url, args.kibana_url, webhook_url=args.webhook_url, throttle=args.throttle,
                       retention_days=args.retention_days, findings_retention_days=args.findings_retention_days,
                       baselines=baselines, alerting=args.alerting, **_options(args))
    except SetupError as exc:
        print(f"modelspan elastic setup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, ValueError) as exc:
        print(f"modelspan elastic setup: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(dry_run_summary(report, args.dry_run, args.assume_license) if args.dry_run else report.summary())
    return 0


_WOULD = {"created": "would create", "updated": "would update", "unchanged": "would keep", "deleted": "would delete",
          "absent": "would find absent", "kept": "would keep", "skipped": "would skip"}


def dry_run_summary(report: Any, directory: str, licence: str, *, installs: bool = True) -> str:
    """What a run would do, said as a plan: no version or licence claimed as read from a cluster.

    ``installs``: setup (which says where alerts would go); teardown plans deletions only.
    """
    assumed = f"assumed (not read from a cluster): licence {licence} (--assume-license)"
    lines = [f"dry run: nothing sent; requests written to {directory}",
             assumed + (f", alerting {report.alerting}" if installs else ", every object installed")]
    if installs and report.alerts_to.startswith("nowhere"):
        lines.append("no alerts would be installed (--alerting none, or no Kibana URL for rules)")
    elif installs and report.alerts_to:
        lines.append(f"alerts would go to {report.alerts_to}")
    for action in report.actions:
        verb = _WOULD.get(action.outcome, f"would {action.outcome}")
        lines.append(f"{verb} {action.kind} {action.name}" + (f" ({action.note})" if action.note else ""))
    lines += [f"warning: {warning}" for warning in report.warnings]
    return "\n".join(lines)


def run_teardown(args: argparse.Namespace) -> int:
    from modelspan.elastic import SetupError, teardown

    try:
        report = teardown(args.es_url, args.kibana_url, delete_data=args.delete_data, **_options(args))
    except SetupError as exc:
        print(f"modelspan elastic teardown: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(dry_run_summary(report, args.dry_run, args.assume_license, installs=False) if args.dry_run
          else report.summary())
    return 0


def run_roles(args: argparse.Namespace) -> int:
    from modelspan.elastic import roles

    print(json.dumps(roles(), indent=2))
    return 0
