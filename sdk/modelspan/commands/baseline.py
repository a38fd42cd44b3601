"""``modelspan baseline data.csv --model m --version v``: build a baseline profile from a file.

Reads CSV (the standard library, or pandas when installed) and Parquet (pandas + pyarrow), then
writes the JSON profile that ``modelspan.configure(baselines=[...])`` and the analyzer read.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from modelspan.baseline import Baseline


def register(subparsers: Any) -> None:
    """Add the ``baseline`` sub-command."""
    parser = subparsers.add_parser(
        "baseline",
        help="build a baseline profile from training data (CSV or Parquet)",
        description="Profile a data set (bin edges, categories, vocabularies, output distribution) "
        "for one model version and write it as JSON.",
    )
    parser.add_argument("data", type=Path, help="training or reference data: .csv, .parquet or .pq")
    parser.add_argument("--model", required=True, help="model name, as in @modelspan.monitor(model=...)")
    parser.add_argument("--version", required=True, help="model version the profile belongs to")
    parser.add_argument("--prediction", metavar="COLUMN",
                        help="column holding the model's predictions: profiled as the output distribution")
    parser.add_argument("--label", metavar="COLUMN",
                        help="column holding the ground truth: left out of the features and of the output "
                             "distribution (send labels with record_outcome)")
    parser.add_argument("--output", metavar="COLUMN", help=argparse.SUPPRESS)  # before --prediction/--label
    parser.add_argument("--error-model", action="store_true",
                        help="a regressor on labelled reference data (not its training set): learn from --prediction "
                             "and --label the error model that estimates MAE and RMSE before labels arrive")
    parser.add_argument("--out", type=Path, help="where to write the JSON (default: <model>-<version>.json)")
    parser.add_argument("--bins", type=int, default=10, help="quantile bins per numeric feature (default 10)")
    parser.add_argument("--categorical", action="append", default=[], metavar="COLUMN",
                        help="treat COLUMN as categorical (repeatable)")
    parser.add_argument("--text", action="append", default=[], metavar="COLUMN",
                        help="treat COLUMN as free text (repeatable)")
    parser.set_defaults(handler=run)


MAX_BINS = 1000
"""More quantile bins than this is a typo: drift tests need a few observations per bin."""


def run(args: argparse.Namespace) -> int:
    """Build and write the baseline; returns the exit code (2 on bad input)."""
    try:
        prediction = _prediction_column(args)
        out = _out_path(args)
        if args.error_model and (prediction is None or args.label is None):
            raise ValueError("--error-model learns from the predictions and the ground truth: give --prediction "
                             "and --label")
        table = read_table(args.data)
        target = args.label if args.error_model else None
        data = _checked(table if target is not None else _without(table, args.label), args)
        baseline = Baseline.from_data(
            data,
            model=args.model,
            version=args.version,
            output=prediction,
            categorical=args.categorical,
            text=args.text,
            bins=args.bins,
            prediction=prediction if target is not None else None,
            target=target,
        )
    except (OSError, ValueError, ImportError) as exc:
        print(f"modelspan baseline: {exc}", file=sys.stderr)
        return 2
    baseline.save(out)
    print(f"wrote {out}: {baseline.row_count} rows, {len(baseline.features)} features, id {baseline.id}")
    return 0


def _out_path(args: argparse.Namespace) -> Path:
    """``--out`` (or ``<model>-<version>.json``), refused up front when its directory does not exist."""
    if not 2 <= args.bins <= MAX_BINS:
        raise ValueError(f"--bins {args.bins} is out of range: use between 2 and {MAX_BINS} (default 10)")
    out: Path = args.out or Path(f"{args.model}-{args.version}.json")
    if not out.parent.is_dir():
        raise ValueError(f"no directory {out.parent} for --out {out}: create it or choose another path")
    return out


def _checked(data: Any, args: argparse.Namespace) -> Any:
    """The data, refused when it has no rows or lacks a column named by an option."""
    names = [str(name) for name in getattr(data, "columns", data)]
    rows = len(data) if hasattr(data, "columns") else max((len(v) for v in data.values()), default=0)
    if rows == 0:
        raise ValueError(f"{args.data} has no data rows (only a header, or empty): a baseline needs the "
                         "training or reference data")
    for option, columns in (("--categorical", args.categorical), ("--text", args.text),
                            ("--prediction", [args.prediction] if args.prediction else [])):
        missing = [column for column in columns if column not in names]
        if missing:
            raise ValueError(f"{option} {', '.join(missing)}: no such column in {args.data} "
                             f"(columns: {', '.join(names[:20])})")
    return data


def _prediction_column(args: argparse.Namespace) -> str | None:
    """``--prediction``; the old ``--output`` still works as it, with a note (it never said which it was)."""
    if args.output is not None:
        if args.prediction is not None and args.prediction != args.output:
            raise ValueError("--output is the old name of --prediction: give one of them")
        print("modelspan baseline: --output is read as --prediction (the model's predictions); "
              "a ground-truth column goes in --label", file=sys.stderr)
    prediction: str | None = args.prediction if args.prediction is not None else args.output
    if prediction is not None and prediction == args.label:
        raise ValueError(f"column {prediction!r} cannot be both the prediction and the label")
    return prediction


def _without(data: Any, column: str | None) -> Any:
    """The data without the ground-truth column (it is neither a feature nor the model's output)."""
    if column is None:
        return data
    names = [str(name) for name in getattr(data, "columns", data)]
    if column not in names:
        raise ValueError(f"label column {column!r} is not in the data (columns: {', '.join(names[:20])})")
    if hasattr(data, "drop"):
        return data.drop(columns=[column])
    return {name: values for name, values in data.items() if name != column}


def read_table(path: Path) -> Any:
    """A DataFrame (pandas) or a dict of columns (CSV without pandas)."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("reading Parquet needs pandas and pyarrow: pip install 'modelspan[pandas]'") from exc
        return pd.read_parquet(path)
    if suffix not in (".csv", ".tsv", ".txt"):
        raise ValueError(f"{path}: expected a .csv or .parquet file")
    try:
        import pandas as pd
    except ImportError:
        return _read_csv(path)
    return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")


def _read_csv(path: Path) -> dict[str, list[Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
    names = list(rows[0]) if rows else []
    return {name: [_cell(row.get(name)) for row in rows] for name in names}


def _cell(text: str | None) -> Any:
    """CSV cells are text: empty is null, numbers are numbers."""
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text
