"""Pipeline aggregations of the loopback Elasticsearch (``fake_search``): ``bucket_script``.

The stand-in runs no painless: a ``bucket_script`` here is arithmetic (``+ - * /``, numbers,
``params.<name>``) over its ``buckets_path`` values and its script's ``params``, which is what the
alert watches compute with it (a rate: a sum over the window's seconds; a share: errors over calls).
"""

from __future__ import annotations

import ast
import operator
from typing import Any

_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def bucket_script(siblings: dict[str, Any], arg: dict[str, Any]) -> float | None:
    """``bucket_script`` whose script is arithmetic over ``params.<name>`` (the stand-in runs no painless)."""
    params: dict[str, Any] = dict(arg["script"].get("params", {})) if isinstance(arg["script"], dict) else {}
    for name, path in arg["buckets_path"].items():
        node: Any = siblings
        for part in path.split(">"):
            node = node.get(part, {})
        if node.get("value") is None:
            return None
        params[name] = float(node["value"])
    source = arg["script"]["source"] if isinstance(arg["script"], dict) else arg["script"]

    def evaluate(node: ast.AST) -> float:
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            return float(_ARITHMETIC[type(node.op)](evaluate(node.left), evaluate(node.right)))
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "params":
            return float(params[node.attr])
        raise ValueError(f"fake Elasticsearch runs arithmetic bucket scripts only, not {source!r}")

    try:
        return evaluate(ast.parse(source, mode="eval").body)
    except ZeroDivisionError:
        return None  # painless gives NaN or Infinity, which Elasticsearch answers as no value
