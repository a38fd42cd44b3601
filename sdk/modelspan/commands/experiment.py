"""``modelspan experiment``: create an experiment, and show its verdict as a promotion gate.

    modelspan experiment create ranker-v2 --arm champion=0.9 --arm challenger=0.1 --control champion
    modelspan experiment show ranker-v2                      # since the experiment's creation, up to now
    modelspan experiment show ranker-v2 --format json --no-write

``create`` fixes the arms, weights and statistics parameters (always-valid inference needs them
chosen before the data) and refuses to change them later. ``show`` analyses the experiment from its
creation (or ``--since``) to now (or ``--until``) -- with SQL on the SQLite store, with aggregations
on Elasticsearch (where labels are not joined: no accuracy effect, no McNemar) -- and writes
``experiment`` findings unless ``--no-write``.

Exit codes of ``show`` (a CI/CD promotion gate, ``docs/experiments.md``): 0 promote (a challenger
wins on some metric and loses on none), 1 keep waiting (inconclusive or not enough data), 3 reject
(a challenger is significantly worse on some metric), 4 sample-ratio mismatch (the experiment is
broken; no effect is reported), 2 bad arguments, unknown experiment or unusable store.
``create`` exits 0, or 2 on bad arguments or a conflicting existing definition.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from typing import Any

from modelspan.analyzer.experiments.analysis import EXIT_ERROR
from modelspan.analyzer.experiments.definition import DEFAULT_TAUS, Definition


def register(subparsers: Any) -> None:
    """Add the ``experiment`` sub-command (``create`` and ``show``)."""
    parser = subparsers.add_parser("experiment", help="champion/challenger and A/B experiments (create, show)",
                                   description="Always-valid analysis of experiments: fix the arms with 'create', "
                                   "then 'show' the verdicts (details: python -m pydoc modelspan.commands.experiment).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="fix an experiment's arms, weights and parameters",
                                description="Record an experiment's arms, their designed shares, the control arm "
                                "and the analysis parameters in the store, before its traffic is analysed.")
    create.add_argument("id", help="the experiment's id (the value of its experiment attribute on spans)")
    create.add_argument("--arm", action="append", required=True, metavar="NAME=WEIGHT",
                        help="an arm and its designed share of units (repeat for each arm)")
    create.add_argument("--control", required=True, help="the arm effects are measured against")
    create.add_argument("--alpha", type=float, default=0.05, help="error rate of the always-valid intervals")
    create.add_argument("--srm-alpha", type=float, default=0.001, help="level of the sample-ratio check")
    create.add_argument("--min-units", type=int, default=100, help="units per arm before any effect")
    for metric, tau in DEFAULT_TAUS.items():
        create.add_argument(f"--tau-{metric.replace('_', '-')}", type=float, default=tau, dest=f"tau_{metric}",
                            help=f"mixture spread for {metric}, in its units (default {tau:g})")
    _store_argument(create)
    create.set_defaults(handler=run_create)
    show = actions.add_parser("show", help="analyse an experiment; the exit code is a promotion gate",
                              description="Analyse an experiment's arms against its control with always-valid "
                              "intervals and a sample-ratio check; the exit code is a CI/CD promotion gate (see "
                              "python -m pydoc modelspan.commands.experiment).")
    show.add_argument("id", help="the experiment's id, as given to 'create'")
    show.add_argument("--since", help="start (ISO 8601; default: the experiment's creation)")
    show.add_argument("--until", help="end (ISO 8601; default: now)")
    show.add_argument("--format", choices=("table", "json"), default="table",
                      help="table (default) or one JSON document")
    show.add_argument("--no-write", action="store_true", help="do not write findings back to the store")
    _store_argument(show)
    show.set_defaults(handler=run_show)


def _store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="SQLite file or Elasticsearch URL (default: MODELSPAN_STORE, "
                        "ELASTICSEARCH_URL, ./modelspan.db)")


def _open(target: str | None) -> Any:
    from modelspan.store import open_store

    return open_store(target)


def _stats(store: Any, experiment: str, window: Any) -> Any:
    """The experiment's statistics: SQL on the SQLite store, aggregations on Elasticsearch."""
    from modelspan.store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        from modelspan.store._sqlite_experiments import experiment_stats

        return experiment_stats(store.connection, experiment, window)
    from modelspan.store import _es_experiments

    def search(body: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = store.client.search(index=store.spans_index, body=body,
                                                       ignore_unavailable=True).body
        return response

    return _es_experiments.experiment_stats(search, experiment, window)


def _arms(items: list[str]) -> dict[str, float]:
    arms: dict[str, float] = {}
    for item in items:
        name, sep, weight = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--arm takes NAME=WEIGHT, got {item!r}")
        arms[name] = float(weight)
    return arms


def run_create(args: argparse.Namespace) -> int:
    """Store the experiment's definition (see the module docstring for exit codes)."""
    from modelspan.analyzer.experiments import definition

    try:
        wanted = Definition(args.id, _arms(args.arm), args.control, alpha=args.alpha, srm_alpha=args.srm_alpha,
                            min_units=args.min_units, taus={m: getattr(args, f"tau_{m}") for m in DEFAULT_TAUS})
        store = _open(args.store)
    except (ValueError, OSError) as exc:
        print(f"modelspan experiment create: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        stored = definition.create(store, wanted)
    except ValueError as exc:
        print(f"modelspan experiment create: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        store.close()
    print(f"experiment {stored.id} created {stored.created_at}: arms {stored.arms}, control {stored.control}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Analyse, write findings, print; the exit code is the promotion gate."""
    from modelspan.analyzer.experiments import analysis, definition
    from modelspan.store import Window

    try:
        store = _open(args.store)
    except (ValueError, OSError) as exc:
        print(f"modelspan experiment show: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        found = definition.load(store, args.id)
        if found is None:
            print(f"modelspan experiment show: no experiment {args.id!r} (create it first: "
                  f"modelspan experiment create {args.id} --arm ... --control ...)", file=sys.stderr)
            return EXIT_ERROR
        now = _dt.datetime.now(_dt.timezone.utc).isoformat()
        try:
            window = Window.parse(args.since or found.created_at, args.until or now)
        except ValueError as exc:
            print(f"modelspan experiment show: {exc}", file=sys.stderr)
            return EXIT_ERROR
        report = analysis.analyse(_stats(store, args.id, window), found, window)
        documents = analysis.findings(report, now)
        report["written"] = 0 if args.no_write else store.write_findings(documents)
    finally:
        store.close()
    code = analysis.exit_code(report)
    report["exit_code"] = code
    if args.format == "json":
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        print(table(report))
    return code


def table(report: dict[str, Any]) -> str:
    """A short human-readable form of the report."""
    srm = report["srm"]
    lines = [f"experiment {report['experiment']} ({report['window']['start']} .. {report['window']['end']}), "
             f"control {report['control']}: {report['status']}",
             f"sample ratio: observed {srm['observed']} vs designed {srm['expected']}, p={srm['p_value']:.3g}"
             + ("  MISMATCH: effects withheld" if srm["mismatch"] else "")]
    lines.append(f"{'arm':<14}{'units':>8}{'calls':>8}{'err%':>8}{'p95 ms':>9}{'acc':>7}  verdict")
    for arm in report["arms"]:
        p95 = arm["latency_ms"].get("p95")
        acc = "-" if arm["accuracy"] is None else f"{arm['accuracy']:.3f}"
        err = "-" if arm["error_rate"] is None else f"{100 * arm['error_rate']:.2f}"
        p95_text = "-" if p95 is None else f"{p95:.1f}"
        verdict = report["verdicts"].get(arm["arm"], "control")
        lines.append(f"{arm['arm']:<14}{arm['units']:>8}{arm['calls']:>8}{err:>8}{p95_text:>9}{acc:>7}  {verdict}")
    for e in report["effects"]:
        if e["lower"] is None:
            lines.append(f"  {e['arm']} {e['metric']}: {e['direction']}")
            continue
        lines.append(f"  {e['arm']} {e['metric']}: {e['difference']:+.4g} [{e['lower']:+.4g}, {e['upper']:+.4g}] "
                     f"q={e['q_value']:.3g} {e['direction']}")
    if report.get("shadow"):
        s = report["shadow"]
        test = s["mcnemar"]
        mcnemar = "no labels joined" if test is None else f"p={test['p_value']:.3g} ({test['method']})"
        lines.append(f"shadow: {s['calls']} calls, churn {s['churn']}, mean |diff| {s['mean_abs_difference']}, "
                     f"McNemar {mcnemar}")
    return "\n".join(lines)
