"""docker-compose.yml wires real infrastructure and the five services in a start-up order that works.

Docker is not needed: the file is checked as data. (`docker compose config` would resolve the
same anchors but needs the docker CLI.)
"""

from __future__ import annotations

from typing import Any

import pytest

from ticketstream.settings import SERVICE_NAMES

from .support import COMPOSE_FILE, OTEL_COLLECTOR_CONFIG, REPO_ROOT, load_yaml


def conditions(definition: dict[str, Any]) -> dict[str, str]:
    depends_on = definition.get("depends_on") or {}
    assert isinstance(depends_on, dict), "depends_on must use conditions, not a plain list"
    return {name: spec["condition"] for name, spec in depends_on.items()}


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_service_is_built_from_the_one_dockerfile(compose: dict[str, Any], service: str) -> None:
    definition = compose["services"][service]
    assert definition["build"] == {"context": ".", "args": {"SERVICE": service}}
    assert definition["image"].split(":")[0] == f"ticketstream-{service}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_service_has_a_healthcheck_and_waits_for_its_dependencies(
    compose: dict[str, Any], service: str
) -> None:
    definition = compose["services"][service]
    assert definition["healthcheck"]["test"] == ["CMD", "python", "/opt/ticketstream/healthcheck.py"]
    expected = {
        "topics": "service_completed_successfully",
        "kafka": "service_healthy",
        "mongo": "service_healthy",
        "otel-collector": "service_started",
    }
    if service == "notify":
        expected["mailpit"] = "service_healthy"
    assert conditions(definition) == expected


def test_services_share_one_environment_anchor() -> None:
    text = COMPOSE_FILE.read_text()
    assert "x-ticketstream-env: &ticketstream-env" in text
    assert text.count("<<: *ticketstream-env") == len(SERVICE_NAMES)


def test_kafka_is_a_single_kraft_node_that_never_auto_creates_topics(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = kafka["environment"]
    assert kafka["image"].startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "healthcheck" in kafka


def test_mongo_is_a_replica_set_initiated_by_its_healthcheck(compose: dict[str, Any]) -> None:
    mongo = compose["services"]["mongo"]
    assert mongo["image"].startswith("mongo:")
    assert "--replSet" in mongo["command"]
    script = mongo["healthcheck"]["test"][-1]
    assert "rs.initiate(" in script and "isWritablePrimary" in script
    assert "replicaSet=rs0" in compose["x-ticketstream-env"]["TICKETSTREAM_MONGO_URL"]


def test_topics_are_created_once_kafka_is_healthy(compose: dict[str, Any]) -> None:
    topics = compose["services"]["topics"]
    assert topics["command"] == ["ticketstream", "topics", "create"]
    assert conditions(topics) == {"kafka": "service_healthy"}
    assert topics["restart"] == "no"


def test_mail_goes_to_mailpit(compose: dict[str, Any]) -> None:
    mailpit = compose["services"]["mailpit"]
    assert mailpit["image"].startswith("axllent/mailpit:")
    assert compose["x-ticketstream-env"]["TICKETSTREAM_SMTP_URL"] == "smtp://mailpit:1025"
    assert "127.0.0.1:8025:8025" in mailpit["ports"]


def test_traces_flow_through_the_collector_to_jaeger(compose: dict[str, Any]) -> None:
    collector = compose["services"]["otel-collector"]
    mounted = {volume.split(":")[0]: volume.split(":")[1] for volume in collector["volumes"]}
    assert mounted["./deploy/otel-collector.yaml"] == "/etc/otelcol/config.yaml"
    assert (REPO_ROOT / "deploy" / "otel-collector.yaml").is_file()
    assert "jaeger" in compose["services"]


def test_collector_config_is_consistent() -> None:
    config = load_yaml(OTEL_COLLECTOR_CONFIG)
    pipelines = config["service"]["pipelines"]
    for kind in ("receivers", "processors", "exporters"):
        used = {name for pipeline in pipelines.values() for name in pipeline.get(kind, [])}
        assert used <= set(config[kind]), f"undefined {kind}: {sorted(used - set(config[kind]))}"
    assert config["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    assert "otlp/jaeger" in pipelines["traces"]["exporters"]


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, definition in compose["services"].items():
        image = definition["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
