"""``modelspan demo``: a model service, traffic, five planted problems, the analysis and a report.

Runs on the embedded SQLite store (``--store``, default ``MODELSPAN_STORE`` or ``./modelspan.db``),
or on Elasticsearch when ``ELASTICSEARCH_URL`` is set. The findings table is the ``analyze``
command's own (one rendering for both).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from modelspan import findings
from modelspan.commands.analyze import table


def register(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="run a demo model service with planted problems, analyse it and write a report",
        description="Start an HTTP model service on 127.0.0.1, drive traffic at it while a unit change, a "
        "never-seen category, a sub-module latency regression and application error bursts happen, record "
        "late labels, then print what the analyzer found and write the HTML report.",
    )
    parser.add_argument("--duration", type=float, help="seconds of traffic (default 120; --quick: 28)")
    parser.add_argument("--quick", action="store_true", help="a short run (about 30-40 s in all)")
    parser.add_argument("--store", help="SQLite file (default: MODELSPAN_STORE or ./modelspan.db)")
    parser.add_argument("--report", default="modelspan-report.html", help="HTML report (default %(default)s)")
    parser.add_argument("--rate", type=float, help="requests per second (default 40)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; 2 on bad arguments."""
    from modelspan.demo import DEFAULT_DURATION, DEFAULT_RATE, QUICK_DURATION, run_demo

    duration = args.duration or (QUICK_DURATION if args.quick else DEFAULT_DURATION)
    rate = args.rate or DEFAULT_RATE
    if duration < 5 or rate <= 0:
        print("modelspan demo: --duration must be at least 5 seconds and --rate positive", file=sys.stderr)
        return 2
    result = run_demo(args.store, duration, report_path=args.report, rate=rate)
    flagged = result.flagged
    model_side = findings.ordered(d for d in flagged if d.get(findings.TYPE) != findings.TYPE_INCIDENT)
    incidents = findings.ordered(d for d in flagged if d.get(findings.TYPE) == findings.TYPE_INCIDENT)
    print(f"\nFindings ({len(model_side)} flagged, {len(result.findings)} measured):")
    print(table(model_side) if model_side else "no problems found")
    print(f"\nIncidents ({len(incidents)}: " + ", ".join(
        f"{d.get(findings.INCIDENT_KIND)} at {str(d.get(findings.WINDOW_START, ''))[11:19]}" for d in incidents) + "):")
    print(table(incidents) if incidents else "none")
    print(f"\n{result.traffic_summary()}")
    print(f"store:  {result.store}")
    if result.report:
        print(f"report: {result.report}")
    print(f"took {result.timings.get('total', 0.0):.0f} s "
          + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items() if k != "total"))
    return 0
