"""The Collector config and the compose files: parsed, and checked against what modelspan expects.

No Docker or Collector binary exists here, so these are structural checks: OTLP on 4317/4318,
the ``elasticsearch`` exporter in ``otel`` mapping mode in the traces pipeline, credentials from the
same environment variables the direct exporter reads, Elasticsearch 9 with security on and the
password from the environment, healthchecks, and the top-level compose including this one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from modelspan.elasticsearch import connection

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "collector_config"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _env_names(value: Any) -> set[str]:
    """``${env:NAME}`` / ``${env:NAME:-default}`` references in a config value."""
    return set(re.findall(r"\$\{env:([A-Z_]+)(?::-[^}]*)?\}", str(value)))


def test_collector_receives_otlp_and_exports_in_otel_mode() -> None:
    config = _load(FOLDER / "otel-collector.yaml")
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317") and protocols["http"]["endpoint"].endswith(":4318")
    exporter = config["exporters"]["elasticsearch"]
    # `mapping::mode` is deprecated upstream; otel mode is the default of every supported version.
    assert "mapping" not in exporter
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"] and traces["exporters"] == ["elasticsearch"]
    assert traces["processors"] == ["memory_limiter"]  # the limiter must see data first
    # Batching lives in the exporter's sending queue, where upstream moved it (no batch processor).
    assert "batch" not in config["processors"]
    queue = exporter["sending_queue"]
    assert queue["enabled"] is True and set(queue["batch"]) == {"flush_timeout", "min_size", "max_size"}
    assert queue["batch"]["min_size"] <= queue["batch"]["max_size"]
    assert set(config["service"]["extensions"]) <= set(config["extensions"])


def test_profiles_have_a_metrics_pipeline_to_an_exporter_that_never_splits_a_batch() -> None:
    """Profiles travel as OTLP metrics (docs/profiles.md): without this pipeline the Collector refuses them.

    A split batch would cut one profile document's data points into two partial documents, so the
    profiles' exporter is the spans' one (same cluster, credentials, retries) without ``max_size``.
    """
    config = _load(FOLDER / "otel-collector.yaml")
    metrics = config["service"]["pipelines"]["metrics"]
    assert metrics == {"receivers": ["otlp"], "processors": ["memory_limiter"], "exporters": ["elasticsearch/profiles"]}
    assert "histogram:raw" in (FOLDER / "otel-collector.yaml").read_text()
    spans, profiles = config["exporters"]["elasticsearch"], config["exporters"]["elasticsearch/profiles"]
    assert "max_size" not in profiles["sending_queue"]["batch"] and profiles["sending_queue"]["enabled"] is True
    same = {key: value for key, value in spans.items() if key != "sending_queue"}
    assert {key: value for key, value in profiles.items() if key != "sending_queue"} == same


def test_collector_reads_the_direct_exporters_environment_variables() -> None:
    exporter = _load(FOLDER / "otel-collector.yaml")["exporters"]["elasticsearch"]
    assert _env_names(exporter["endpoints"]) == {connection.ENV_URL}
    assert _env_names(exporter["user"]) == {connection.ENV_USERNAME}
    assert _env_names(exporter["password"]) == {connection.ENV_PASSWORD}
    assert _env_names(exporter["api_key"]) == {connection.ENV_API_KEY}
    assert _env_names(exporter["tls"]["ca_file"]) == {connection.ENV_CA_CERTS}
    # Optional credentials default to empty so an unset variable is not an error.
    for key in ("user", "password", "api_key"):
        assert ":-}" in exporter[key]


def test_collector_retries_only_what_cannot_duplicate_documents() -> None:
    """Upstream's default: a 5xx bulk item may already be indexed, and its retry would duplicate it."""
    retry = _load(FOLDER / "otel-collector.yaml")["exporters"]["elasticsearch"]["retry"]
    assert retry["enabled"] is True
    assert retry["retry_on_status"] == [429]


def test_minimum_collector_version_is_stated_and_the_compose_default_is_at_least_it() -> None:
    config_text = (FOLDER / "otel-collector.yaml").read_text()
    minimum = re.search(r"minimum supported (\d+)\.(\d+)\.(\d+)", config_text)
    assert minimum is not None
    image = _load(FOLDER / "docker-compose.yml")["services"]["otel-collector"]["image"]
    pinned = re.search(r"OTELCOL_VERSION:-(\d+)\.(\d+)\.(\d+)\}", image)
    assert pinned is not None
    as_tuple = lambda match: tuple(int(part) for part in match.groups())  # noqa: E731
    assert as_tuple(pinned) >= as_tuple(minimum) >= (0, 136, 0)
    readme = (FOLDER / "README.md").read_text()
    assert f"OTELCOL_VERSION={'.'.join(pinned.groups())}" in readme


def test_compose_brings_up_secured_elasticsearch_kibana_and_the_collector() -> None:
    services = _load(FOLDER / "docker-compose.yml")["services"]
    elastic, kibana, collector = services["elasticsearch"], services["kibana"], services["otel-collector"]
    assert re.search(r"elasticsearch:\$\{ELASTIC_VERSION:-9\.\d+\.\d+\}", elastic["image"])
    assert re.search(r"kibana:\$\{ELASTIC_VERSION:-9\.\d+\.\d+\}", kibana["image"])
    assert collector["image"].startswith("otel/opentelemetry-collector-contrib:")
    settings = dict(item.split("=", 1) for item in elastic["environment"])
    assert settings["xpack.security.enabled"] == "true"
    assert settings["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD:?")  # never a default password
    assert elastic["healthcheck"]["test"] and kibana["healthcheck"]["test"]
    assert collector["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    published = {port.split(":")[-1] for port in collector["ports"]}
    assert {"4317", "4318"} <= published
    env = dict(item.split("=", 1) for item in collector["environment"])
    assert {connection.ENV_URL, connection.ENV_USERNAME, connection.ENV_PASSWORD} <= set(env)
    assert env[connection.ENV_URL] == "http://elasticsearch:9200"
    mount = next(volume for volume in collector["volumes"] if volume.endswith(":ro"))
    source, target = mount.split(":")[:2]
    assert (FOLDER / source).resolve() == FOLDER / "otel-collector.yaml"
    assert f"--config={target}" in collector["command"]
    kibana_env = dict(item.split("=", 1) for item in kibana["environment"])
    assert len(kibana_env["XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY"].split(":-", 1)[-1].rstrip("}")) >= 32


def test_top_level_compose_includes_the_collector_stack() -> None:
    top = _load(ROOT / "docker-compose.yml")
    paths = [entry["path"] if isinstance(entry, dict) else entry for entry in top["include"]]
    assert paths == ["collector_config/docker-compose.yml"]
    assert (ROOT / paths[0]).is_file()
