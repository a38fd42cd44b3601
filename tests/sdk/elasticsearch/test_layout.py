"""The Elasticsearch data layout: one home, names that agree with the documents and the mappings."""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from modelspan import semconv
from modelspan.elasticsearch import layout, templates
from modelspan.exporters._document import index_for, span_to_document
from tests.sdk.elasticsearch.test_templates import EffectiveMapping

ROOT = Path(__file__).resolve().parents[3]
# Modules that speak to Elasticsearch: none may spell a layout name itself.
USERS = [
    *sorted((ROOT / "sdk/modelspan/elastic").glob("*.py")),
    *sorted((ROOT / "sdk/modelspan/store").glob("_es_*.py")),
    ROOT / "sdk/modelspan/store/elasticsearch.py",
    ROOT / "sdk/modelspan/demo/__init__.py",
    ROOT / "sdk/modelspan/elasticsearch/templates.py",
    *sorted((ROOT / "kibana").glob("*.py")),
]


def _documents() -> tuple[dict[str, object], dict[str, object]]:
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("predict", attributes={layout.DATASET_KEY: semconv.MODELSPAN_DATASET}) as model:
        pass
    with tracer.start_as_current_span("GET /score") as app:
        pass
    provider.shutdown()
    return span_to_document(model), span_to_document(app)  # type: ignore[arg-type]


def test_documents_land_in_the_data_streams_the_layout_names() -> None:
    model, app = _documents()
    assert fnmatch.fnmatch(index_for(model), layout.SPANS_PATTERN)
    assert fnmatch.fnmatch(index_for(app), layout.APPLICATION_SPANS)
    assert not fnmatch.fnmatch(index_for(app), layout.SPANS_PATTERN)
    assert all(fnmatch.fnmatch(index_for(doc), layout.ALL_SPANS) for doc in (model, app))
    assert layout.SPANS_PATTERN in templates.index_templates()[templates.TRACES_TEMPLATE]["index_patterns"]


def test_core_fields_are_in_the_documents_and_typed_for_aggregation() -> None:
    model, _ = _documents()
    mapping = EffectiveMapping(templates.component_templates())
    expected = {layout.TIMESTAMP: "date", layout.TRACE_ID: "keyword", layout.SPAN_ID: "keyword",
                layout.NAME: "keyword", layout.KIND: "keyword", layout.DURATION: "long"}
    for field, kind in expected.items():
        holder: object = model
        for part in field.split("."):
            assert isinstance(holder, dict) and part in holder, (field, part)
            holder = holder[part]
        assert mapping.type_of(field, holder) == kind, field
    # An unset status is written as {} (as the Collector does); an error has its code, a keyword.
    assert model["status"] == {}
    assert mapping.type_of(layout.STATUS_CODE, layout.STATUS_ERROR) == "keyword"
    # resource attributes keep their dotted names under resource.attributes (a passthrough object)
    resource = model["resource"]
    assert isinstance(resource, dict)
    assert resource["attributes"][layout.SERVICE_NAME.removeprefix(layout.RESOURCE_ATTRIBUTES + ".")] == "checkout"
    assert model["kind"] == "Internal" and layout.KIND_SERVER == "Server"
    assert mapping.type_of(layout.attr(semconv.MODEL_NAME), "churn") == "keyword"


def test_no_module_that_speaks_to_elasticsearch_spells_a_layout_name() -> None:
    names = {layout.SPANS_PATTERN, layout.APPLICATION_SPANS, layout.ALL_SPANS, *layout.SPAN_EVENTS,
             layout.FINDINGS_INDEX, layout.OUTCOMES_INDEX, layout.BASELINES_INDEX, layout.CHECKPOINTS_INDEX,
             layout.OWN_INDICES, layout.TIMESTAMP, layout.TRACE_ID, layout.SPAN_ID, layout.PARENT_SPAN_ID,
             layout.STATUS_CODE, layout.SERVICE_NAME, layout.DATASET_KEY, "traces-*", "attributes."}
    found = []
    for path in USERS:
        tree = ast.parse(path.read_text())
        allowed = {id(node.body[0].value) for node in ast.walk(tree)  # docstrings
                   if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                   and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        # names of other objects that happen to equal an index name (a template, a policy, a data view)
        allowed |= {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.AnnAssign | ast.Assign)
                    for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    if isinstance(target, ast.Name) and target.id.endswith(("_TEMPLATE", "_POLICY", "_VIEW"))}
        found += [f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
                  and id(node) not in allowed]
    assert found == []
    assert len(USERS) > 15
