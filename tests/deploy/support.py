"""Paths, constants and small helpers shared by the deployment tests (fixtures are in conftest).

Everything here is offline and Docker-free. The chart is rendered in-process by
helm-python-sdk (Helm's Go SDK behind a C ABI, bundled in the wheel), so no `helm` binary and
no cluster are involved; manifests are checked against the Kubernetes OpenAPI schemas that
ship inside kubernetes-validate.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from ticketstream.settings import PlatformSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "deploy" / "helm" / "ticketstream"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
OTEL_COLLECTOR_CONFIG = REPO_ROOT / "deploy" / "otel-collector.yaml"
HEALTHCHECK_SCRIPT = REPO_ROOT / "deploy" / "docker" / "healthcheck.py"

# The Kubernetes release the manifests are validated against: a recent minor that the major
# managed offerings run, and one kubernetes-validate ships schemas for.
KUBERNETES_VERSION = "1.34"

# Release name and namespace used for every render. A release named like the chart keeps the
# object names short: ticketstream-tickets rather than <release>-ticketstream-tickets.
RELEASE = "ticketstream"
NAMESPACE = "helpdesk"

# chart-testing style values files under deploy/helm/ticketstream/ci/.
CI_VALUES_FILES = sorted((CHART_DIR / "ci").glob("*-values.yaml"))

# Settings every service must be given explicitly, wherever it is deployed.
REQUIRED_SETTINGS = {
    "TICKETSTREAM_KAFKA_BOOTSTRAP",
    "TICKETSTREAM_MONGO_URL",
    "TICKETSTREAM_JWT_SECRET",
    "TICKETSTREAM_SUPPORT_ADDRESS",
    "TICKETSTREAM_PUBLIC_URL",
    "TICKETSTREAM_ENV",
    "TICKETSTREAM_HTTP_HOST",
}
# ... and those only some services need.
REQUIRED_SERVICE_SETTINGS = {"notify": {"TICKETSTREAM_SMTP_URL"}}

Manifest = dict[str, Any]
# render(values) -> manifests; see the `render` fixture.
Renderer = Callable[[dict[str, Any]], list[Manifest]]


def settings_class(service: str) -> type[PlatformSettings]:
    """A service's Settings class, imported without importing the rest of its package."""
    module = importlib.import_module(f"ticketstream_{service}.settings")
    cls: type[PlatformSettings] = module.Settings
    return cls


def default_port(service: str) -> int:
    """The service's HTTP port as the code defaults it (read from the field, not the environment)."""
    default = PlatformSettings.model_fields[f"{service}_port"].default
    assert isinstance(default, int)
    return default


def port_setting(service: str) -> str:
    return f"TICKETSTREAM_{service.upper()}_PORT"


def validate_manifest(manifest: Manifest) -> None:
    """Raise if the manifest does not match its Kubernetes schema (unknown fields included)."""
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def load_yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def of_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    """The manifests of one kind, by metadata.name."""
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def component(manifest: Manifest) -> str:
    """The service a manifest belongs to (its app.kubernetes.io/component label)."""
    label: str = manifest["metadata"]["labels"]["app.kubernetes.io/component"]
    return label


def pod_spec(manifest: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


def only_container(manifest: Manifest) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(manifest)["containers"]
    assert len(containers) == 1, f"{manifest['metadata']['name']}: expected one container"
    return containers[0]
