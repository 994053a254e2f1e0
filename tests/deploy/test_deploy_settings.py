"""docker-compose.yml and the Helm chart set only settings the code reads, and all it needs.

The names come from the pydantic-settings classes themselves (`setting_env_names`), so a
renamed or removed setting fails here rather than being silently ignored in a deployment.
"""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from ticketstream.settings import SERVICE_NAMES

from .support import (
    REQUIRED_SERVICE_SETTINGS,
    REQUIRED_SETTINGS,
    Manifest,
    Renderer,
    component,
    default_port,
    of_kind,
    only_container,
    port_setting,
)

PREFIX = "TICKETSTREAM_"


def ticketstream_names(env: dict[str, str]) -> set[str]:
    return {name for name in env if name.startswith(PREFIX)}


def required_for(service: str) -> set[str]:
    return REQUIRED_SETTINGS | REQUIRED_SERVICE_SETTINGS.get(service, set())


# --- docker-compose --------------------------------------------------------------------------


def compose_env(definition: dict[str, Any]) -> dict[str, str]:
    """A compose service's environment, whether written as a mapping or a KEY=VALUE list."""
    environment = definition.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {name: str(value) for name, value in environment.items()}


def compose_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services named after a Ticketstream service (the `topics` job is not one)."""
    return {name: d for name, d in compose["services"].items() if name in SERVICE_NAMES}


def container_ports(definition: dict[str, Any]) -> set[int]:
    """Container-side ports of a compose service's `ports` ("127.0.0.1:8082:8082" -> 8082)."""
    return {int(str(mapping).rsplit(":", 1)[-1].split("/")[0]) for mapping in definition.get("ports", [])}


def test_compose_runs_every_service(compose: dict[str, Any]) -> None:
    assert set(compose_services(compose)) == set(SERVICE_NAMES)


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_compose_sets_only_settings_the_service_reads(
    compose: dict[str, Any], service_settings: dict[str, set[str]], service: str
) -> None:
    env = compose_env(compose_services(compose)[service])
    unknown = ticketstream_names(env) - service_settings[service]
    assert not unknown, f"{service} is given settings its Settings class does not read: {sorted(unknown)}"


def test_compose_topics_job_sets_only_platform_settings(
    compose: dict[str, Any], platform_settings: set[str]
) -> None:
    topics = compose["services"]["topics"]
    assert topics["command"] == ["ticketstream", "topics", "create"]
    assert ticketstream_names(compose_env(topics)) <= platform_settings
    assert "TICKETSTREAM_KAFKA_BOOTSTRAP" in compose_env(topics)


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_compose_sets_the_required_settings(compose: dict[str, Any], service: str) -> None:
    env = compose_env(compose_services(compose)[service])
    missing = required_for(service) - ticketstream_names(env)
    assert not missing, f"{service} lacks {sorted(missing)}"
    assert env["TICKETSTREAM_HTTP_HOST"] == "0.0.0.0"
    assert env["OTEL_SERVICE_NAME"] == f"ticketstream-{service}"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://otel-collector:")


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_compose_port_setting_matches_the_published_port(compose: dict[str, Any], service: str) -> None:
    definition = compose_services(compose)[service]
    env = compose_env(definition)
    port = int(env[port_setting(service)])
    assert port == default_port(service)
    expected = {port} | ({int(env["TICKETSTREAM_SMTP_PORT"])} if service == "ingest" else set())
    assert container_ports(definition) == expected


# --- the Helm chart --------------------------------------------------------------------------


def chart_env(manifests: list[Manifest], deployment: Manifest) -> dict[str, str]:
    """Everything a Deployment's container gets: ConfigMap, Secret (when rendered) and env."""
    env: dict[str, str] = {}
    config_maps = of_kind(manifests, "ConfigMap")
    secrets = of_kind(manifests, "Secret")
    container = only_container(deployment)
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]]["data"])
        elif source["secretRef"]["name"] in secrets:
            env.update(secrets[source["secretRef"]["name"]]["stringData"])
    for item in container.get("env", []):
        # A value read from a Secret key (IMAP mailboxes carry passwords) is named by that key.
        reference = item.get("valueFrom", {}).get("secretKeyRef")
        env[item["name"]] = f"secret:{reference['name']}/{reference['key']}" if reference else item["value"]
    return env


# Every config key set, so each one reaches the ConfigMap and its name gets checked.
EVERY_CONFIG_KEY: dict[str, Any] = {
    "config": {
        "env": "production",
        "kafkaBootstrap": "kafka:9092",
        "publicUrl": "https://help.example.com",
        "supportAddress": "support@example.com",
        "httpHost": "0.0.0.0",
        "databasePrefix": "helpdesk",
        "topicPrefix": "eu.",
        "topicPartitions": 12,
        "topicReplication": 3,
        "jwtJwksUrl": "https://login.example.com/jwks.json",
        "jwtAudience": "ticketstream",
        "jwtIssuer": "https://login.example.com/",
        "logLevel": "DEBUG",
        "fetchMaxWaitMs": 50,
        "handlerMaxAttempts": 5,
        "handlerRetryBackoffMs": 100,
        "outboxPollMs": 500,
    },
    "secret": {
        "jwtSecret": "a-real-secret-0123456789abcdef0123456789",
        "mongoUrl": "mongodb://mongo:27017/?replicaSet=rs0",
        "smtpUrl": "smtp://relay:587",
    },
    "services": {
        "ingest": {
            "inboundMaxBytes": 10485760,
            "trustedProxyHops": 1,
            "imapMailboxes": {"secretName": "helpdesk-imap", "secretKey": "mailboxes"},
            "imapPollSeconds": 20,
            "imapLeaseSeconds": 45,
        }
    },
}


@pytest.fixture(scope="module")
def fully_configured(render: Renderer, chart: helm.Chart) -> list[Manifest]:
    assert set(EVERY_CONFIG_KEY["config"]) == set(chart.values["config"]), "EVERY_CONFIG_KEY is out of date"
    return render(EVERY_CONFIG_KEY)


def test_every_config_key_becomes_one_setting(fully_configured: list[Manifest]) -> None:
    [config_map] = of_kind(fully_configured, "ConfigMap").values()
    assert len(ticketstream_names(config_map["data"])) == len(EVERY_CONFIG_KEY["config"])


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_chart_sets_only_settings_the_service_reads(
    fully_configured: list[Manifest], service_settings: dict[str, set[str]], service: str
) -> None:
    deployment = of_kind(fully_configured, "Deployment")[f"ticketstream-{service}"]
    unknown = ticketstream_names(chart_env(fully_configured, deployment)) - service_settings[service]
    assert not unknown, f"{service} is given settings its Settings class does not read: {sorted(unknown)}"


def test_chart_topics_job_sets_only_platform_settings(
    fully_configured: list[Manifest], platform_settings: set[str]
) -> None:
    [job] = of_kind(fully_configured, "Job").values()
    env = {item["name"]: item["value"] for item in only_container(job)["env"]}
    assert ticketstream_names(env) <= platform_settings
    assert env["TICKETSTREAM_TOPIC_PREFIX"] == "eu."


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_chart_sets_the_required_settings(default_manifests: list[Manifest], service: str) -> None:
    deployment = of_kind(default_manifests, "Deployment")[f"ticketstream-{service}"]
    env = chart_env(default_manifests, deployment)
    missing = required_for(service) - ticketstream_names(env)
    assert not missing, f"{service} lacks {sorted(missing)}"
    assert env["TICKETSTREAM_HTTP_HOST"] == "0.0.0.0"
    assert env["TICKETSTREAM_ENV"] == "production"
    assert env["OTEL_SERVICE_NAME"] == f"ticketstream-{service}"


def test_chart_port_setting_matches_container_and_service_ports(default_manifests: list[Manifest]) -> None:
    services = of_kind(default_manifests, "Service")
    for name, deployment in of_kind(default_manifests, "Deployment").items():
        service = component(deployment)
        container = only_container(deployment)
        env = {item["name"]: item["value"] for item in container["env"]}
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert int(env[port_setting(service)]) == ports["http"] == default_port(service)
        if service == "ingest":
            assert int(env["TICKETSTREAM_SMTP_PORT"]) == ports["smtp"]
        by_target = {p["targetPort"]: p["port"] for p in services[name]["spec"]["ports"]}
        assert by_target.keys() == ports.keys()


def test_a_changed_port_moves_setting_container_and_service_together(
    render: Renderer, default_values: dict[str, Any]
) -> None:
    manifests = render({**default_values, "services": {"sla": {"port": 9083}}})
    deployment = of_kind(manifests, "Deployment")["ticketstream-sla"]
    container = only_container(deployment)
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["TICKETSTREAM_SLA_PORT"] == "9083"
    assert container["ports"][0]["containerPort"] == 9083
    assert of_kind(manifests, "Service")["ticketstream-sla"]["spec"]["ports"][0]["port"] == 9083


def test_imap_mailboxes_reach_ingest_from_a_secret_key_only(fully_configured: list[Manifest]) -> None:
    deployments = of_kind(fully_configured, "Deployment")
    ingest = chart_env(fully_configured, deployments["ticketstream-ingest"])
    assert ingest["TICKETSTREAM_IMAP_MAILBOXES"] == "secret:helpdesk-imap/mailboxes"
    assert (ingest["TICKETSTREAM_IMAP_POLL_SECONDS"], ingest["TICKETSTREAM_IMAP_LEASE_SECONDS"]) == (
        "20",
        "45",
    )
    [config_map] = of_kind(fully_configured, "ConfigMap").values()
    assert not any(name.startswith("TICKETSTREAM_IMAP_") for name in config_map["data"])
    others = [
        chart_env(fully_configured, d) for name, d in deployments.items() if name != "ticketstream-ingest"
    ]
    assert not any("TICKETSTREAM_IMAP_MAILBOXES" in env for env in others)
