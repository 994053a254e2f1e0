"""The Helm chart renders offline into valid, hardened Kubernetes objects, and its values are checked."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from ticketstream.settings import SERVICE_NAMES

from .support import (
    CHART_DIR,
    CI_VALUES_FILES,
    KUBERNETES_VERSION,
    Manifest,
    Renderer,
    component,
    default_port,
    of_kind,
    only_container,
    pod_spec,
    validate_manifest,
)


def with_changes(values: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of values with changes merged in (nested dicts merge, anything else replaces)."""
    merged = copy.deepcopy(values)

    def merge(target: dict[str, Any], source: dict[str, Any]) -> None:
        for key, value in source.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                merge(target[key], value)
            else:
                target[key] = value

    merge(merged, changes)
    return merged


# --- the chart as a whole -----------------------------------------------------------------


@pytest.mark.parametrize("values_file", CI_VALUES_FILES, ids=lambda path: path.stem)
def test_chart_lints_clean(values_file: Path) -> None:
    report = helm.lint(
        CHART_DIR,
        yaml.safe_load(values_file.read_text()),
        strict=True,
        kube_version=f"v{KUBERNETES_VERSION}.0",
    )
    assert report["errors"] == []
    # "icon is recommended" is the only finding allowed.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("values_file", CI_VALUES_FILES, ids=lambda path: path.stem)
def test_every_manifest_is_valid_kubernetes(
    values_file: Path, rendered_ci: dict[str, list[Manifest]]
) -> None:
    manifests = rendered_ci[values_file.stem]
    assert manifests
    for manifest in manifests:
        validate_manifest(manifest)


def test_one_deployment_and_service_per_service(default_manifests: list[Manifest]) -> None:
    expected = {f"ticketstream-{service}" for service in SERVICE_NAMES}
    assert set(of_kind(default_manifests, "Deployment")) == expected
    assert set(of_kind(default_manifests, "Service")) == expected
    # Autoscaling is off by default: fixed replica counts, no HPA.
    assert of_kind(default_manifests, "HorizontalPodAutoscaler") == {}
    for deployment in of_kind(default_manifests, "Deployment").values():
        assert deployment["spec"]["replicas"] >= 1


def test_a_disabled_service_renders_nothing(render: Renderer, default_values: dict[str, Any]) -> None:
    manifests = render(with_changes(default_values, {"services": {"analytics": {"enabled": False}}}))
    names = {m["metadata"]["name"] for m in manifests}
    assert "ticketstream-analytics" not in names
    assert "ticketstream-tickets" in names


def test_images_are_named_after_the_service(default_manifests: list[Manifest], chart: helm.Chart) -> None:
    app_version = chart.metadata["appVersion"]
    for deployment in of_kind(default_manifests, "Deployment").values():
        service = component(deployment)
        expected = f"ghcr.io/ticketstream/ticketstream-{service}:{app_version}"
        assert only_container(deployment)["image"] == expected


def test_selectors_match_pod_labels(default_manifests: list[Manifest]) -> None:
    deployments = of_kind(default_manifests, "Deployment")
    for name, service in of_kind(default_manifests, "Service").items():
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        selector = service["spec"]["selector"]
        assert selector.items() <= pod_labels.items()
        assert deployments[name]["spec"]["selector"]["matchLabels"] == selector


# --- pods -----------------------------------------------------------------------------------


def pods(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m["kind"] in {"Deployment", "Job"}]


def test_every_pod_is_hardened(default_manifests: list[Manifest]) -> None:
    workloads = pods(default_manifests)
    assert {m["kind"] for m in workloads} == {"Deployment", "Job"}
    for workload in workloads:
        spec = pod_spec(workload)
        name = workload["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == 10001, name  # the Dockerfile's uid
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        # Service links would inject TICKETSTREAM_<SERVICE>_PORT=tcp://... into every pod.
        assert spec["enableServiceLinks"] is False, name
        container = only_container(workload)
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"] == {"drop": ["ALL"]}, name
        tmp = [v for v in spec["volumes"] if v["name"] == "tmp"]
        assert tmp and "emptyDir" in tmp[0], name
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name


def test_probes_use_healthz_and_readyz(default_manifests: list[Manifest]) -> None:
    for deployment in of_kind(default_manifests, "Deployment").values():
        container = only_container(deployment)
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_ports_are_the_documented_ones(default_manifests: list[Manifest]) -> None:
    services = of_kind(default_manifests, "Service")
    for name, deployment in of_kind(default_manifests, "Deployment").items():
        service = component(deployment)
        http = {"name": "http", "port": default_port(service), "targetPort": "http", "protocol": "TCP"}
        assert http in services[name]["spec"]["ports"]
        container_ports = {p["name"]: p["containerPort"] for p in only_container(deployment)["ports"]}
        assert container_ports["http"] == default_port(service)


def test_ingest_also_exposes_smtp(default_manifests: list[Manifest]) -> None:
    ingest = of_kind(default_manifests, "Service")["ticketstream-ingest"]
    assert {"name": "smtp", "port": 2525, "targetPort": "smtp", "protocol": "TCP"} in ingest["spec"]["ports"]
    container = only_container(of_kind(default_manifests, "Deployment")["ticketstream-ingest"])
    assert {"name": "smtp", "containerPort": 2525, "protocol": "TCP"} in container["ports"]
    for name, service in of_kind(default_manifests, "Service").items():
        if name != "ticketstream-ingest":
            assert [p["name"] for p in service["spec"]["ports"]] == ["http"]


def test_settings_come_from_the_configmap_and_secret(default_manifests: list[Manifest]) -> None:
    [config_map] = of_kind(default_manifests, "ConfigMap").keys()
    [secret] = of_kind(default_manifests, "Secret").keys()
    for deployment in of_kind(default_manifests, "Deployment").values():
        assert only_container(deployment)["envFrom"] == [
            {"configMapRef": {"name": config_map}},
            {"secretRef": {"name": secret}},
        ]


def test_an_existing_secret_replaces_the_rendered_one(
    render: Renderer, default_values: dict[str, Any]
) -> None:
    values = with_changes(
        default_values,
        {
            "secret": {
                "existingSecret": "helpdesk-credentials",
                "jwtSecret": "",
                "mongoUrl": "",
                "smtpUrl": "",
            }
        },
    )
    manifests = render(values)
    assert of_kind(manifests, "Secret") == {}
    for deployment in of_kind(manifests, "Deployment").values():
        assert {"secretRef": {"name": "helpdesk-credentials"}} in only_container(deployment)["envFrom"]


# --- autoscaling ---------------------------------------------------------------------------


def test_autoscaled_services_get_an_hpa_and_no_fixed_replicas(
    render: Renderer, default_values: dict[str, Any]
) -> None:
    scaling = {"enabled": True, "minReplicas": 3, "maxReplicas": 12, "targetCPUUtilizationPercentage": 65}
    manifests = render(with_changes(default_values, {"services": {"tickets": {"autoscaling": scaling}}}))
    hpas = of_kind(manifests, "HorizontalPodAutoscaler")
    assert set(hpas) == {"ticketstream-tickets"}
    spec = hpas["ticketstream-tickets"]["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "ticketstream-tickets",
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 12)
    assert spec["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 65}
    deployments = of_kind(manifests, "Deployment")
    assert "replicas" not in deployments["ticketstream-tickets"]["spec"]  # the HPA owns it
    assert deployments["ticketstream-sla"]["spec"]["replicas"] == 2


# --- the topic-creation Job ----------------------------------------------------------------


def test_topics_are_created_by_a_pre_install_and_pre_upgrade_hook(default_manifests: list[Manifest]) -> None:
    (job,) = of_kind(default_manifests, "Job").values()
    hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert sorted(hooks) == ["pre-install", "pre-upgrade"]
    container = only_container(job)
    assert container["command"] == ["ticketstream", "topics", "create"]
    assert container["image"].rsplit("/", 1)[-1].startswith("ticketstream-tickets:")
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "TICKETSTREAM_KAFKA_BOOTSTRAP": "ticketstream-kafka-bootstrap.kafka:9092",
        "TICKETSTREAM_TOPIC_PARTITIONS": "6",
        "TICKETSTREAM_TOPIC_REPLICATION": "3",
    }
    # A pre-install hook runs before the chart's other objects exist: it must not need them.
    spec = pod_spec(job)
    assert "envFrom" not in container
    assert "serviceAccountName" not in spec
    assert spec["restartPolicy"] == "Never"


# --- values and the schema -----------------------------------------------------------------


def test_default_and_ci_values_satisfy_the_schema(
    chart: helm.Chart, ci_values: dict[str, dict[str, Any]]
) -> None:
    # Helm compiles values.schema.json against its meta-schema here, so a malformed schema fails too.
    chart.validate_schema(None)
    for values in ci_values.values():
        chart.validate_schema(values)


def test_every_allowed_key_is_documented_in_values_yaml(chart: helm.Chart) -> None:
    # values.yaml is the chart's documentation: a key only the schema knows is a hidden option.
    schema = chart.schema
    assert schema is not None
    for section in ("config", "secret", "image", "topicsJob"):
        assert set(schema["properties"][section]["properties"]) == set(chart.values[section]), section
    assert set(schema["properties"]) - {"global"} == set(chart.values)


BAD_VALUES = {
    "misspelt service key": ("services:\n  tickets:\n    replcas: 3\n", "replcas"),
    "unknown service": ("services:\n  ticket:\n    enabled: true\n", "ticket"),
    "misspelt top-level key": ("servces: {}\n", "servces"),
    "port as a string": ("services:\n  sla:\n    port: '8083'\n", "port"),
    "port out of range": ("services:\n  sla:\n    port: 70000\n", "port"),
    "smtpPort on a service without SMTP": ("services:\n  notify:\n    smtpPort: 2525\n", "smtpPort"),
    "misspelt autoscaling key": (
        "services:\n  tickets:\n    autoscaling:\n      maxReplica: 4\n",
        "maxReplica",
    ),
    "misspelt resources key": ("services:\n  tickets:\n    resources:\n      request: {}\n", "request"),
    "unknown environment": ("config:\n  env: staging\n", "env"),
    "unknown setting": ("config:\n  kafkaBootstrapServers: kafka:9092\n", "kafkaBootstrapServers"),
    "replication above the code's limit": ("config:\n  topicReplication: 9\n", "topicReplication"),
    "mongo URL that is not one": ("secret:\n  mongoUrl: postgres://db\n", "mongoUrl"),
}


@pytest.mark.parametrize("bad_values", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_rejects_bad_values_files(chart: helm.Chart, bad_values: tuple[str, str]) -> None:
    text, offending_key = bad_values
    values = helm.values_from_yaml(text)
    with pytest.raises(helm.HelmValuesError) as error:
        chart.validate_schema(values)
    assert offending_key in str(error.value)


def test_install_refuses_to_render_with_a_bad_values_file(
    render: Renderer, default_values: dict[str, Any]
) -> None:
    bad = with_changes(default_values, {"services": {"tickets": {"replcas": 3}}})
    with pytest.raises(helm.HelmValuesError, match="replcas"):
        render(bad)


MISSING_REQUIRED = {
    "kafka bootstrap": ({"config": {"kafkaBootstrap": ""}}, "config.kafkaBootstrap"),
    "public URL": ({"config": {"publicUrl": ""}}, "config.publicUrl"),
    "support address": ({"config": {"supportAddress": ""}}, "config.supportAddress"),
    "mongo URL": ({"secret": {"mongoUrl": ""}}, "secret.mongoUrl"),
    "JWT secret": ({"secret": {"jwtSecret": ""}}, "secret.jwtSecret"),
    "SMTP relay in production": ({"secret": {"smtpUrl": ""}}, "secret.smtpUrl"),
}


@pytest.mark.parametrize("change", MISSING_REQUIRED.values(), ids=MISSING_REQUIRED.keys())
def test_required_values_are_enforced(
    render: Renderer, default_values: dict[str, Any], change: tuple[dict[str, Any], str]
) -> None:
    missing, message = change
    with pytest.raises(helm.HelmRenderError, match=message.replace(".", r"\.")):
        render(with_changes(default_values, missing))


def test_a_jwks_url_replaces_the_jwt_secret(render: Renderer, default_values: dict[str, Any]) -> None:
    values = with_changes(
        default_values,
        {"config": {"jwtJwksUrl": "https://login.example.com/jwks.json"}, "secret": {"jwtSecret": ""}},
    )
    (secret,) = of_kind(render(values), "Secret").values()
    assert "TICKETSTREAM_JWT_SECRET" not in secret["stringData"]


def test_large_numbers_are_not_printed_in_exponent_form(
    render: Renderer, default_values: dict[str, Any]
) -> None:
    # YAML/JSON numbers reach the templates as float64; 52428800 must not become 5.24288e+07.
    values = with_changes(default_values, {"services": {"ingest": {"inboundMaxBytes": 52428800}}})
    container = only_container(of_kind(render(values), "Deployment")["ticketstream-ingest"])
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["TICKETSTREAM_INBOUND_MAX_BYTES"] == "52428800"
