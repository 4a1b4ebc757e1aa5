"""The Kubernetes manifests parse and wire what the server needs (no cluster runs here)."""

import yaml
from tests.helpers import REPO


def _documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((REPO / "deploy" / "k8s" / name).read_text()) if d]


def test_server_deployment_runs_three_replicas_with_grpc_health_probes() -> None:
    deployment, service = _documents("server.yaml")
    assert deployment["kind"] == "Deployment"
    assert deployment["spec"]["replicas"] == 3
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["grpc"]["service"] == "hyperdial.v1.HyperdialService"
    assert container["livenessProbe"]["grpc"]["port"] == 50051
    env = {e["name"]: e for e in container["env"]}
    assert env["HYPERDIAL_DATABASE"]["valueFrom"]["secretKeyRef"]["name"] == "hyperdial-db"
    assert "--address" in container["args"]
    assert service["kind"] == "Service"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_trainer_job_runs_in_parallel() -> None:
    (job,) = _documents("trainer-job.yaml")
    assert job["kind"] == "Job"
    assert job["spec"]["parallelism"] >= 2


def test_compose_wires_the_dashboard_and_the_scrape_config() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "--metrics-port" in services["server"]["command"]
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in scrape["scrape_configs"]
    }
    assert jobs["hyperdial-server"] == ["server:9464"]
    assert jobs["hyperdial-trainers"] == ["trainer-1:9465", "trainer-2:9465"]
    assert "trainer" in services["trainer-1"]["command"]
    assert services["trainer-2"]["command"] == services["trainer-1"]["command"]
    mounts = " ".join(services["grafana"]["volumes"])
    assert "dashboards" in mounts
    assert "provisioning" in mounts
