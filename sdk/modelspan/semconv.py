"""Attribute names of modelspan spans: the one place that owns them.

Every ``ml.*`` attribute the SDK writes, the exporters map, the analyzer queries and the Kibana
objects read is named here and documented in ``docs/semantic-conventions.md``. Never write one of
these names as a string literal elsewhere; import the constant or call the helper.

Why our own namespace: OpenTelemetry's semantic conventions cover generative-AI calls
(``gen_ai.*``) but not classic ML inference yet (open-telemetry/semantic-conventions#3420). This
module is a proposal for that gap, kept small and flat so that the OTel Collector's Elasticsearch
exporter (``mapping.mode: otel``) and our direct exporter store each attribute under
``attributes.<name>`` with an aggregatable type.

Shape of a model call (one *root* model span per decorated call)::

    predict <model>                      ml.span.kind = "model"
      ├─ module <sub-module>             ml.span.kind = "module", ml.module.name = ...
      │    └─ module <nested>            (ml.module.path on the root lists them in call order)
      └─ ...

Names that carry a feature, a category index or a bin index are built by the helper functions
below (``feature_value("temp")`` -> ``"ml.feature.temp"``) so that parsing them back is also in
one place (``parse_feature_attribute``). A feature name enters an attribute name escaped
(``feature_token``): ``%`` and ``.`` are percent-encoded, as is a leading ``_`` (reserved for the
pseudo-features ``_output`` and ``_score``), so no feature name, whatever its dots, spaces, unicode
or likeness to a statistic's name, can make two attributes collide. Category and label *values*
have one canonical text form too (``category_value``): ``1``, ``np.int64(1)``, ``1.0`` and ``"1"``
are all ``"1"``.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any, Final

# --- Routing -------------------------------------------------------------------------------
DATA_STREAM_DATASET: Final = "data_stream.dataset"
"""Set to ``MODELSPAN_DATASET`` on model spans so both export paths route them to
``traces-modelspan.otel-<namespace>``."""
DATA_STREAM_NAMESPACE: Final = "data_stream.namespace"
"""Namespace part of the data stream; from ``configure(environment=...)``; default ``default``."""
MODELSPAN_DATASET: Final = "modelspan"
"""The dataset value of every span modelspan creates."""

# --- Span identity ---------------------------------------------------------------------------
SPAN_KIND: Final = "ml.span.kind"
"""``"model"`` on the root span of a decorated call, ``"module"`` on sub-module spans."""
SPAN_KIND_MODEL: Final = "model"
SPAN_KIND_MODULE: Final = "module"

MODEL_NAME: Final = "ml.model.name"
"""Name of the model, e.g. ``"churn"``. On root and module spans."""
MODEL_VERSION: Final = "ml.model.version"
"""Version of the model, e.g. ``"2024-06-01"``. On root and module spans."""
MODEL_TASK: Final = "ml.model.task"
"""``"classification"``, ``"regression"`` or ``"ranking"`` if known."""
PREDICTION_ID: Final = "ml.prediction.id"
"""Unique id of the call. For a batch, row ``i`` has prediction id ``f"{id}:{i}"``."""
BATCH_SIZE: Final = "ml.batch.size"
"""Rows in the call: 1 for a single-row call."""
SAMPLE_RATE: Final = "ml.sample_rate"
"""Probability with which this call was recorded (1.0 = all). QPS is scaled by ``1/sample_rate``."""
BASELINE_ID: Final = "ml.baseline.id"
"""Id of the baseline whose bin edges and category list the summaries on this span use."""

# --- Module paths ----------------------------------------------------------------------------
MODULE_NAME: Final = "ml.module.name"
"""On a module span: the sub-module's name."""
MODULE_PATH: Final = "ml.module.path"
"""On the root span: ordered ``string[]`` of sub-modules the call entered (bounded)."""
MODULE_PATH_KEY: Final = "ml.module.path_key"
"""On the root span: ``MODULE_PATH`` joined with ``PATH_SEPARATOR``; a keyword for terms
aggregations (array order is lost in Elasticsearch doc values)."""
MODULE_PATH_TRUNCATED: Final = "ml.module.path_truncated"
"""``True`` when the path was longer than the bound and was cut."""
PATH_SEPARATOR: Final = ">"

# --- Outputs -------------------------------------------------------------------------------
OUTPUT_LABEL: Final = "ml.output.label"
"""Single-row classification: the predicted class, as a string."""
OUTPUT_VALUE: Final = "ml.output.value"
"""Single-row regression: the predicted value (double)."""
OUTPUT_SCORE: Final = "ml.output.score"
"""Single-row: probability of the predicted (or positive) class, 0..1."""
OUTPUT_MARGIN: Final = "ml.output.margin"
"""Single-row: top-1 minus top-2 probability."""
OUTPUT_LABELS: Final = "ml.output.labels"
"""Batch (bounded, rows <= ``MAX_ROW_OUTPUTS``): predicted class per row, ``string[]``."""
OUTPUT_VALUES: Final = "ml.output.values"
"""Batch (bounded): predicted value per row, ``double[]``."""
OUTPUT_SCORES: Final = "ml.output.scores"
"""Batch (bounded): score per row, ``double[]``."""
OUTPUT_CLASS: Final = "ml.output.class"
"""Single-row multiclass (3 to ``MAX_CLASS_PROBABILITIES`` probabilities): the column of the
highest probability (int), whatever the class is called (docs/estimation.md)."""
OUTPUT_PROBABILITY_PREFIX: Final = "ml.output.probability."
"""``ml.output.probability.<k>``: single-row multiclass, the probability of column ``k`` (double)."""
OUTPUT_PROBABILITIES: Final = "ml.output.probabilities"
"""Batch multiclass (bounded): the first rows' probability vectors, row after row, ``double[]``
(at most ``MAX_ROW_OUTPUTS`` rows and ``MAX_BATCH_PROBABILITIES`` values, whole rows; the rest of
the batch is counted as unscored)."""
MAX_CLASS_PROBABILITIES: Final = 32
"""Most classes whose probabilities a span records."""
MAX_BATCH_PROBABILITIES: Final = 2048
"""Most probabilities a batch span records (whole rows of the vector)."""

# --- Direct loss estimation (docs/estimation.md, "Regression") -----------------------------
ESTIMATION_ROWS: Final = "ml.estimation.rows"
"""Rows of the call whose expected error the baseline's error model gave (long)."""
ESTIMATION_ABS_ERROR: Final = "ml.estimation.abs_error"
"""Sum over those rows of the expected absolute error E|y - ŷ| (double; a window's sum / rows = estimated MAE)."""
ESTIMATION_SQUARED_ERROR: Final = "ml.estimation.squared_error"
"""Sum over those rows of the expected squared error E(y - ŷ)² (double; estimated RMSE = √(sum / rows))."""

# --- Confidence-based performance estimation of batches (docs/estimation.md, "What the SDK records") ---
CBPE_CALIBRATION: Final = "ml.estimation.cbpe.calibration"
"""Fingerprint of the calibration the call's sums were computed with (string; a store uses a span's sums
only when it matches the calibration asked about)."""
CBPE_POSITIVE_ROWS: Final = "ml.estimation.cbpe.positive_rows"
"""Rows of a batch predicted as the positive class (``1``/``true``; long)."""
CBPE_POSITIVE_SUM: Final = "ml.estimation.cbpe.positive_sum"
"""Sum of calibrated P(class 1) over those rows (double: the expected true positives)."""
CBPE_NEGATIVE_ROWS: Final = "ml.estimation.cbpe.negative_rows"
"""Rows of a batch predicted as the negative class (``0``/``false``; long)."""
CBPE_NEGATIVE_SUM: Final = "ml.estimation.cbpe.negative_sum"
"""Sum of calibrated P(class 1) over those rows (double: the expected false negatives)."""
CBPE_UNUSABLE: Final = "ml.estimation.cbpe.unusable"
"""Rows of a batch without a binary label or a score in [0, 1] (long)."""
CBPE_CELLS: Final = "ml.estimation.cbpe.cells"
"""Cells of the batch's rows, ``positive * (len(edges) + 1) + interval`` of the recorded score on the
calibration's score edges (long[], paired by index with the next two; only the cells that hold rows)."""
CBPE_CELL_ROWS: Final = "ml.estimation.cbpe.cell_rows"
"""Rows per cell (long[])."""
CBPE_CELL_SUMS: Final = "ml.estimation.cbpe.cell_sums"
"""Sum of the recorded scores per cell (double[])."""
CBPE_VECTORS: Final = "ml.estimation.cbpe.vectors"
"""Multiclass batch: rows with a usable probability vector (long; their cells are the next three)."""
CBPE_CLASS_CELLS: Final = "ml.estimation.cbpe.class_cells"
"""Multiclass batch: cells ``offset(k) + predicted_k * (len(edges[k]) + 1) + interval`` of each row's
probability of class ``k`` on that class's edges, ``offset(k)`` the cells of the classes before it (long[],
paired by index with the next two; only the cells that hold rows)."""
CBPE_CLASS_CELL_ROWS: Final = "ml.estimation.cbpe.class_cell_rows"
"""Rows per class cell (long[])."""
CBPE_CLASS_CELL_SUMS: Final = "ml.estimation.cbpe.class_cell_sums"
"""Sum of the class's probabilities per class cell (double[])."""
CBPE_CLASS_PREFIX: Final = "ml.estimation.cbpe.class."
"""Multiclass batch, per class column ``k < MAX_CLASS_PROBABILITIES`` (scalars an aggregation can add up):
``ml.estimation.cbpe.class.<k>.predicted_rows`` (long: rows predicted ``k``), ``.predicted_sum`` (double: Σ
calibrated p̂_k over those rows) and ``.sum`` (double: Σ calibrated p̂_k over every usable row)."""


def cbpe_class(k: int, suffix: str) -> str:
    """A multiclass batch's per-class CBPE scalar: ``suffix`` is ``predicted_rows``, ``predicted_sum`` or ``sum``.

    >>> cbpe_class(2, "sum")
    'ml.estimation.cbpe.class.2.sum'
    """
    return f"{CBPE_CLASS_PREFIX}{k}.{suffix}"



# --- Inputs: single row ----------------------------------------------------------------------
FEATURE_PREFIX: Final = "ml.feature."
"""``ml.feature.<name>``: a single-row call's value of feature ``name`` (double or string)."""
BATCH_PREFIX: Final = "ml.batch."
"""``ml.batch.<name>.<stat>``: mergeable summary of feature ``name`` in a batch call. The
pseudo-feature ``OUTPUT_FEATURE`` summarises the batch's outputs the same way."""


class PseudoFeature(str):
    """A name modelspan summarises on its own account (the outputs), written into attribute names as
    it is, where a user's feature name is escaped: so a user feature called ``_output`` stays apart."""

    __slots__ = ()


OUTPUT_FEATURE: Final = PseudoFeature("_output")
"""Pseudo-feature summarising a batch's outputs (labels or values)."""
OUTPUT_SCORE_FEATURE: Final = PseudoFeature("_score")
"""Pseudo-feature summarising a batch's per-row scores (probability of the predicted class)."""
PSEUDO_FEATURES: Final = (OUTPUT_FEATURE, OUTPUT_SCORE_FEATURE)

# Per-feature statistics of a batch summary (``ml.batch.<name>.<stat>``).
STAT_COUNT: Final = "count"  # non-null values
STAT_NULL_COUNT: Final = "null_count"  # None / missing
STAT_NAN_COUNT: Final = "nan_count"  # NaN or +-inf (numeric)
STAT_SUM: Final = "sum"
STAT_SUM_SQ: Final = "sum_sq"
STAT_MIN: Final = "min"
STAT_MAX: Final = "max"
STAT_OUT_OF_RANGE: Final = "out_of_range_count"  # outside the baseline's [min, max]
STAT_UNSEEN_COUNT: Final = "unseen_count"  # categories not in the baseline
STAT_TYPE_CHANGE_COUNT: Final = "type_change_count"  # values of the wrong type
STAT_OTHER_COUNT: Final = "cat.other"  # categories beyond the baseline's top-k list (seen, or its unlisted tail)
STAT_TOP_VALUES: Final = "top.values"  # string[]: most frequent categories in the batch
STAT_TOP_COUNTS: Final = "top.counts"  # int[]: their counts, same order
STAT_LENGTH_MEAN: Final = "length_mean"  # text
STAT_OOV_RATE: Final = "oov_rate"  # text: out-of-vocabulary token rate
SUMMARY_STATS: Final = (
    STAT_COUNT,
    STAT_NULL_COUNT,
    STAT_NAN_COUNT,
    STAT_SUM,
    STAT_SUM_SQ,
    STAT_MIN,
    STAT_MAX,
    STAT_OUT_OF_RANGE,
    STAT_UNSEEN_COUNT,
    STAT_TYPE_CHANGE_COUNT,
    STAT_OTHER_COUNT,
    STAT_TOP_VALUES,
    STAT_TOP_COUNTS,
    STAT_LENGTH_MEAN,
    STAT_OOV_RATE,
)

# Text features on single-row calls (the raw text is never stored unless captured).
TEXT_LENGTH_SUFFIX: Final = ".length"
TEXT_OOV_RATE_SUFFIX: Final = ".oov_rate"

# --- Call-time checks -----------------------------------------------------------------------
QUALITY_PREFIX: Final = "ml.quality."
"""``ml.quality.<check>``: ``string[]`` of features that failed ``check`` on a single-row call;
``ml.quality.<check>.count``: how many values failed it (single row or batch)."""
CHECK_NULL: Final = "null"
CHECK_NAN: Final = "nan"  # NaN or infinity
CHECK_TYPE_CHANGE: Final = "type_change"
CHECK_OUT_OF_RANGE: Final = "out_of_range"
CHECK_UNSEEN_CATEGORY: Final = "unseen_category"
CHECKS: Final = (CHECK_NULL, CHECK_NAN, CHECK_TYPE_CHANGE, CHECK_OUT_OF_RANGE, CHECK_UNSEEN_CATEGORY)
QUALITY_EVENT: Final = "ml.quality"
"""Span event added once per failed check (attributes ``ml.quality.check``, ``ml.feature.name``)."""
QUALITY_EVENT_CHECK: Final = "ml.quality.check"
QUALITY_EVENT_FEATURE: Final = "ml.feature.name"

# --- Captured raw inputs (opt-in) -----------------------------------------------------------
INPUT_RAW: Final = "ml.input.raw"
"""Opt-in only: JSON of the (redacted) input, truncated to the configured bound."""
REDACTED_HASH_PREFIX: Final = "sha256:"
"""Prefix of an unkeyed redaction hash (only with ``allow_unkeyed_hash``; see docs/privacy.md)."""
REDACTED_HMAC_PREFIX: Final = "hmac-sha256:"
"""Prefix of a keyed redaction hash: HMAC-SHA-256 of the value's canonical text (64 hex digits)."""
OUTPUT_PREFIX: Final = "ml.output."

# --- Monitoring's own health ----------------------------------------------------------------
MONITORING_ERRORS: Final = "ml.monitoring.errors"
"""Number of monitoring failures swallowed while recording this call (0 is omitted)."""

ATTRIBUTES_DROPPED: Final = "ml.attributes.dropped"
"""Number of summary attributes left off this span to stay within the span attribute limit."""

# --- Experiments (docs/experiments.md) ---------------------------------------------------------
SPAN_KIND_SHADOW: Final = "shadow"
"""``ml.span.kind`` of a challenger's model span run by ``modelspan.shadow``: a model call that served
no one, so production QPS, latency, drift and quality (which read ``model`` spans) never count it."""
EXPERIMENT_ID: Final = "ml.experiment.id"
"""The experiment a root model call belongs to (``modelspan.assign`` / ``modelspan.shadow``)."""
EXPERIMENT_ARM: Final = "ml.experiment.arm"
"""The arm of the experiment that served (or, for a shadow call, shadowed) the call."""
EXPERIMENT_UNIT: Final = "ml.experiment.unit"
"""The experiment unit (user, session, ...) as a pseudonym: the first 16 hex digits of
``sha256(experiment + "\x1f" + unit)``; analysis counts units, not requests."""
EXPERIMENT_SHADOW: Final = "ml.experiment.shadow"
"""``true`` on a shadow call: its output was computed for comparison and returned to no one."""
EXPERIMENT_CHAMPION_PREDICTION_ID: Final = "ml.experiment.champion.prediction_id"
"""On a shadow call: the prediction id of the champion call it shadows (the span also links to it)."""
EXPERIMENT_AGREEMENT: Final = "ml.experiment.agreement"
"""On a shadow call: share of output rows equal to the champion's (1.0 or 0.0 for one row)."""
EXPERIMENT_DIFFERENCE: Final = "ml.experiment.difference"
"""On a shadow call with numeric outputs: mean absolute difference from the champion's output."""


# --- Bounds (documented in docs/semantic-conventions.md) ------------------------------------
MAX_PATH_LENGTH: Final = 32
PROFILE_INTERVAL_SECONDS: Final = 60
"""Length of a profile interval (docs/profiles.md); intervals start on multiples of it since the epoch."""
PROFILE_WHOLE_MINUTES_FROM: Final = 10
"""A window at least this many profile intervals long is answered from profiles in whole intervals (each
counts where it starts) even when it cuts one at an edge; a shorter one that cuts one is answered from spans."""
MAX_ROW_OUTPUTS: Final = 256
MAX_TOP_CATEGORIES: Final = 20
MAX_BASELINE_CATEGORIES: Final = 50
MAX_STRING_LENGTH: Final = 256
MAX_FEATURES: Final = 200
MAX_RAW_INPUT_BYTES: Final = 4096
MAX_NAME_LENGTH: Final = 128
"""Feature names longer than this are cut and given a hash suffix (``bounded_name``)."""


MAX_EXACT_INTEGER: Final = 2**53
"""Floats below this magnitude that are whole numbers are written as integers (``3.0`` -> ``"3"``)."""

_ESCAPES: Final = {"%": "%25", ".": "%2E"}
_UNESCAPE_RE = re.compile(r"%(25|2E|5F)")
_UNESCAPES: Final = {"25": "%", "2E": ".", "5F": "_"}
EMPTY_NAME_TOKEN: Final = "%"
"""Token of the empty feature name (escaping never yields a lone ``%``)."""


def category_value(value: Any) -> str | None:
    """The one text form of a label or category, shared by the SDK, baselines, outcomes and stores.

    Strings are kept as they are; booleans are ``"true"``/``"false"`` (as Elasticsearch keywords hold
    them); integers of any type are their decimal digits; a float that is a whole number below
    ``MAX_EXACT_INTEGER`` in magnitude is written as that integer (so a column read as float because
    of one blank cell matches its integer codes); other floats are their shortest ``repr``. ``None``,
    pandas missing markers, NaN and infinities are ``None`` (a missing value, never a category).

    >>> [category_value(v) for v in (1, 1.0, "1", True, 0.5, float("nan"), None)]
    ['1', '1', '1', 'true', '0.5', None, None]
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return _float_text(value)
    return _other_value(value)


def _float_text(number: float) -> str | None:
    if not math.isfinite(number):
        return None
    if number.is_integer() and abs(number) < MAX_EXACT_INTEGER:
        return str(int(number))
    return repr(number)


def _other_value(value: Any) -> str | None:
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, str):  # numpy str_, str subclasses
        return str.__str__(value)
    module = type(value).__module__
    if module == "numpy" and hasattr(value, "item"):  # numpy scalars: the Python value they hold
        item = value.item()
        return category_value(item) if type(item) in (bool, int, float, str) else str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _float_text(float(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def bounded_name(name: str) -> str:
    """A feature name of at most ``MAX_NAME_LENGTH`` characters: a longer one is cut and ends in
    ``~`` and 15 hex digits of a SHA-256, so distinct long names stay distinct.

    The digest covers the length, the first and last 4,096 characters and 4,096 characters taken
    at an even stride through the rest: its cost does not grow with the name (a 10 MB name costs
    what a 12 KB one does), and two names collide only if they are equal at every one of those
    positions and have the same length.

    >>> bounded_name("x" * 1000)[-20:]
    'xxxx~e174cdffd61b559'
    >>> bounded_name("a" * 200 + "1") != bounded_name("a" * 200 + "2")
    True
    """
    if len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.sha256(str(len(name)).encode())
    stride = max(len(name) // _NAME_SAMPLE, 1)
    for part in (name[:_NAME_SAMPLE], name[-_NAME_SAMPLE:], name[::stride][:_NAME_SAMPLE]):
        digest.update(b"\x00" + part.encode("utf-8", "surrogatepass"))
    return name[: MAX_NAME_LENGTH - 16] + "~" + digest.hexdigest()[:15]


_NAME_SAMPLE: Final = 4096


def feature_token(name: str) -> str:
    """A feature name as it appears inside attribute names: ``%``, ``.`` and a leading ``_`` escaped.

    Names without those characters (the usual ones) are unchanged; escaping makes the attribute
    grammar unambiguous for any name (``parse_feature_attribute`` reverses it).

    >>> feature_token("temp"), feature_token("sensor.temp"), feature_token("_id"), feature_token("50%")
    ('temp', 'sensor%2Etemp', '%5Fid', '50%25')
    """
    if type(name) is PseudoFeature:
        return name
    if not name:
        return EMPTY_NAME_TOKEN
    if len(name) > MAX_NAME_LENGTH:
        name = bounded_name(name)
    if "." in name or "%" in name:
        name = name.replace("%", "%25").replace(".", "%2E")
    if name[0] == "_":
        name = "%5F" + name[1:]
    return name


def feature_name(token: str) -> str:
    """Inverse of :func:`feature_token` (pseudo-feature tokens give the pseudo-feature).

    >>> feature_name("sensor%2Etemp"), feature_name("_output") is OUTPUT_FEATURE
    ('sensor.temp', True)
    """
    for pseudo in PSEUDO_FEATURES:
        if token == pseudo:
            return pseudo
    if token == EMPTY_NAME_TOKEN:
        return ""
    if "%" not in token:
        return token
    return _UNESCAPE_RE.sub(lambda match: _UNESCAPES[match[1]], token)


def feature_value(name: str) -> str:
    """Attribute holding a single-row call's value of feature ``name``.

    >>> feature_value("temp"), feature_value("a.b")
    ('ml.feature.temp', 'ml.feature.a%2Eb')
    """
    return FEATURE_PREFIX + feature_token(name)


def text_length(name: str) -> str:
    """Attribute holding a single-row call's text length of text feature ``name``.

    >>> text_length("review")
    'ml.feature.review.length'
    """
    return FEATURE_PREFIX + feature_token(name) + TEXT_LENGTH_SUFFIX


def text_oov_rate(name: str) -> str:
    """Attribute holding a single-row call's out-of-vocabulary token rate of text feature ``name``."""
    return FEATURE_PREFIX + feature_token(name) + TEXT_OOV_RATE_SUFFIX


def batch_field(name: str) -> str:
    """Common prefix (without the final dot) of every batch statistic of feature ``name``.

    >>> batch_field("temp"), batch_field(OUTPUT_FEATURE), batch_field("_output")
    ('ml.batch.temp', 'ml.batch._output', 'ml.batch.%5Foutput')
    """
    return BATCH_PREFIX + feature_token(name)


def single_row_attribute(name: str, kind: str, *, output: bool = False) -> str:
    """Attribute a single-row call's value of feature ``name`` (or the ``output``) is summarised from.

    Numbers and categories are the value itself; text is summarised by its length; the output is
    its value for regression, its label otherwise.

    >>> single_row_attribute("review", "text"), single_row_attribute(OUTPUT_FEATURE, "categorical", output=True)
    ('ml.feature.review.length', 'ml.output.label')
    """
    if output:
        return OUTPUT_VALUE if kind == "numeric" else OUTPUT_LABEL
    return text_length(name) if kind == "text" else feature_value(name)


def batch_stat(name: str, stat: str) -> str:
    """Attribute holding statistic ``stat`` of feature ``name`` in a batch call.

    >>> batch_stat("temp", STAT_SUM), batch_stat("sum", STAT_SUM), batch_stat("a.cat", STAT_OTHER_COUNT)
    ('ml.batch.temp.sum', 'ml.batch.sum.sum', 'ml.batch.a%2Ecat.cat.other')
    """
    return f"{BATCH_PREFIX}{feature_token(name)}.{stat}"


def batch_bin(name: str, index: int) -> str:
    """Count of batch values in bin ``index`` of the baseline's edges for feature ``name``.

    With edges ``e[0] < ... < e[k-1]`` there are ``k + 1`` bins: bin 0 is ``x < e[0]``, bin ``i``
    is ``e[i-1] <= x < e[i]``, bin ``k`` is ``x >= e[k-1]`` (Elasticsearch ``range`` semantics).

    >>> batch_bin("temp", 3)
    'ml.batch.temp.bin.3'
    """
    return f"{BATCH_PREFIX}{feature_token(name)}.bin.{index}"


def batch_category(name: str, index: int) -> str:
    """Count of batch values equal to the baseline's ``index``-th category of feature ``name``.

    >>> batch_category("country", 0)
    'ml.batch.country.cat.0'
    """
    return f"{BATCH_PREFIX}{feature_token(name)}.cat.{index}"


def quality_features(check: str) -> str:
    """``string[]`` of features that failed ``check`` on a single-row call.

    >>> quality_features(CHECK_NAN)
    'ml.quality.nan'
    """
    return QUALITY_PREFIX + check


def quality_count(check: str) -> str:
    """Number of values that failed ``check`` in the call.

    >>> quality_count(CHECK_NAN)
    'ml.quality.nan.count'
    """
    return f"{QUALITY_PREFIX}{check}.count"


_STAT_PATTERN: Final = (
    r"bin\.\d+|cat\.\d+|" + "|".join(re.escape(stat) for stat in SUMMARY_STATS)
)
_BATCH_RE = re.compile(rf"^ml\.batch\.(?P<token>[^.]+)\.(?P<stat>{_STAT_PATTERN})$", re.DOTALL)
# Spans written before names were escaped (a dot in a name was written as is): the name is the
# shortest prefix followed by a whole statistic, which is unambiguous for every statistic listed.
_LEGACY_BATCH_RE = re.compile(rf"^ml\.batch\.(?P<name>.+?)\.(?P<stat>{_STAT_PATTERN})$", re.DOTALL)
_TEXT_SUFFIXES: Final = (TEXT_LENGTH_SUFFIX, TEXT_OOV_RATE_SUFFIX)


def parse_feature_attribute(key: str) -> tuple[str, str | None] | None:
    """Split an attribute name into ``(feature, stat)``; ``stat`` is ``None`` for a single-row value
    and ``"length"``/``"oov_rate"`` for a single-row text feature's length and OOV rate.

    Returns ``None`` for names that are not feature attributes. Names written before feature names
    were escaped (a raw dot inside the name) are read too.

    >>> parse_feature_attribute("ml.feature.temp")
    ('temp', None)
    >>> parse_feature_attribute("ml.batch.temp.bin.2")
    ('temp', 'bin.2')
    >>> parse_feature_attribute("ml.batch.c.cat.other"), parse_feature_attribute("ml.batch.a%2Eb.sum")
    (('c', 'cat.other'), ('a.b', 'sum'))
    """
    if key.startswith(FEATURE_PREFIX):
        token = key[len(FEATURE_PREFIX) :]
        head, dot, tail = token.partition(".")
        if dot and "." + tail in _TEXT_SUFFIXES:
            return feature_name(head), tail
        return feature_name(token) if not dot else token, None
    match = _BATCH_RE.match(key)
    if match:
        return feature_name(match["token"]), match["stat"]
    legacy = _LEGACY_BATCH_RE.match(key)
    if legacy:
        return legacy["name"], legacy["stat"]
    return None


def canonical_attribute(key: str) -> str:
    """A feature attribute name in today's grammar (escaped names); other names unchanged.

    Reads spans stored before feature names were escaped, so that old and new spans of the same
    feature meet under one name (the SQLite store's schema migration uses it).

    >>> canonical_attribute("ml.feature.a.b"), canonical_attribute("ml.batch.a.b.sum")
    ('ml.feature.a%2Eb', 'ml.batch.a%2Eb.sum')
    >>> canonical_attribute("ml.feature.note.length"), canonical_attribute("ml.model.name")
    ('ml.feature.note.length', 'ml.model.name')
    """
    parsed = parse_feature_attribute(key)
    if parsed is None:
        return key
    name, stat = parsed
    if key.startswith(FEATURE_PREFIX):
        if stat is None:
            return feature_value(name)
        return FEATURE_PREFIX + feature_token(name) + "." + stat
    return batch_stat(name, stat or "")
