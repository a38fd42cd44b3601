"""What the per-feature part of profiles costs in Elasticsearch (docs/profiles.md): mapping, documents, bytes.

Builds one minute's model profile with ``FEATURES`` numeric features over a baseline of 10 edges (11
bins, every bin used), one path and one label, as the SDK's ``FeatureFold`` holds them, encodes it with
the exporter's ``encode_profiles`` and prints: the leaf fields of the profile data stream's mapping
(fixed, whatever the number of features) against the fields a wide format (a field per feature
statistic and per bin) would need; and the documents and bytes (bulk action + source, before gzip) of
the flush at 1, 20 and 500 features.

    python benchmarks/feature_profile_documents.py
"""

from __future__ import annotations

import numpy as np

from modelspan.elasticsearch import feature_profiles
from modelspan.exporters._profiles import encode_profiles
from modelspan.instrumentation._feature_profiles import COUNT_STATS, FeatureFold
from modelspan.instrumentation._profiles import Profile

START_NS = 1_795_341_600 * 10**9
FEATURES = 500
EDGES = 10
CALLS = 5_000


def flush(features: int) -> Profile:
    rng = np.random.default_rng(1)
    profile = Profile("churn", "3", "", START_NS, 60 * 10**9, calls=CALLS, spans=CALLS)
    for number in range(features):
        fold = FeatureFold("numeric", "b-1f2e3d", EDGES + 1, None)
        for value, index in zip(rng.normal(size=CALLS), rng.integers(0, EDGES + 1, CALLS), strict=True):
            fold.number(float(value), int(index))
        profile.features[(f"feature_{number:03d}", "b-1f2e3d")] = fold
    profile.paths = {"": {"ok": CALLS}}
    return profile


def main() -> None:
    fixed = feature_profiles.leaf_fields(feature_profiles.mapping()["properties"])
    wide = FEATURES * (len(COUNT_STATS) + 2 + 4 + EDGES + 1)  # counts, other, top_other, sums/min/max, bins
    print(f"mapping leaf fields: {fixed} (any number of features); a wide format at {FEATURES} features: {wide}"
          f" ({wide / 1000:.1f}x the default index.mapping.total_fields.limit of 1,000)")
    for features in (1, 20, FEATURES):
        items, rejected = encode_profiles([flush(features)], "default", "4711-0123456789ab", 0)
        assert not rejected
        size = sum(len(item.lines) for item in items)
        print(f"{features:4d} features: {len(items)} documents per model, minute and process, {size / 1000:.1f} kB "
              f"({size / len(items):.0f} B per document; {size / CALLS:.1f} B per call at {CALLS} calls/min)")


if __name__ == "__main__":
    main()
