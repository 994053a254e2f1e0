"""Fixtures for the deployment tests: offline chart rendering, compose file, known settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import helm_python as helm
import pytest
import yaml

from ticketstream.settings import SERVICE_NAMES, PlatformSettings, setting_env_names

from .support import (
    CHART_DIR,
    CI_VALUES_FILES,
    COMPOSE_FILE,
    NAMESPACE,
    RELEASE,
    Manifest,
    Renderer,
    load_yaml,
    settings_class,
)


@pytest.fixture(scope="session")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart: helm.Chart) -> Renderer:
    """Render the chart offline with the given values; returns the manifests, NOTES.txt left out.

    Rendering validates the values against values.schema.json first, as `helm install` does.
    """

    def _render(values: dict[str, Any]) -> list[Manifest]:
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
        manifests: list[Manifest] = []
        for template, text in sorted(rendered.items()):
            if template.endswith(".yaml"):
                manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
        return manifests

    return _render


@pytest.fixture(scope="session")
def ci_values() -> dict[str, dict[str, Any]]:
    """Each ci/*-values.yaml by file stem, e.g. "default-values"."""
    return {path.stem: load_yaml(path) for path in CI_VALUES_FILES}


@pytest.fixture(scope="session")
def default_values(ci_values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The smallest complete set of values (ci/default-values.yaml)."""
    return ci_values["default-values"]


@pytest.fixture(scope="session")
def default_manifests(render: Renderer, default_values: dict[str, Any]) -> list[Manifest]:
    return render(default_values)


@pytest.fixture(scope="session")
def rendered_ci(render: Renderer, ci_values: dict[str, dict[str, Any]]) -> dict[str, list[Manifest]]:
    """The chart rendered with each ci/*-values.yaml, by file stem."""
    return {name: render(values) for name, values in ci_values.items()}


@pytest.fixture(scope="session")
def service_settings() -> dict[str, set[str]]:
    """The TICKETSTREAM_* names each service's Settings class reads."""
    return {service: setting_env_names(settings_class(service)) for service in SERVICE_NAMES}


@pytest.fixture(scope="session")
def platform_settings() -> set[str]:
    """The names every service reads, and all that the `ticketstream` CLI can read."""
    return setting_env_names(PlatformSettings)


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml, parsed; YAML anchors and merge keys are resolved by the loader."""
    return load_yaml(COMPOSE_FILE)
