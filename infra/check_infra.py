"""Cross-checks infra/ against the code (make lint-infra).

Schemas say a manifest is well formed; this says it still matches the
project: every environment variable it sets is one a process reads
(services/lib/src/config.ts), every `node X.js` it runs is built from a
source file, gRPC and metrics ports agree with the code's defaults, the
kustomization lists every manifest, and the collector's pipelines name only
components it defines. Prints one line per problem; exit 1 if any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"

# Variables read by the images' base software, not by uniformity.
FOREIGN_ENV = re.compile(r"^(NVIDIA_|NODE_ENV$|PATH$|PIP_)")

# Which process serves which gRPC address variable, and its source of truth.
SERVICES = {
    "selection": ("UNIFORMITY_SELECTION_ADDR", "services/selection/src/app.ts"),
    "training": ("UNIFORMITY_TRAINING_ADDR", "services/training/src/app.ts"),
    "evaluation": ("UNIFORMITY_EVALUATION_ADDR", "services/evaluation/src/app.ts"),
}
WORKER_MAIN = "workers/daemon/src/main.ts"

problems: list[str] = []


def problem(where: str, message: str) -> None:
    problems.append(f"{where}: {message}")


def config_variables() -> dict[str, str]:
    """Variable name -> default as written in config.ts (for *_ADDR: the host:port)."""
    source = (ROOT / "services/lib/src/config.ts").read_text()
    found = dict(re.findall(r'\(env, "([A-Z][A-Z0-9_]*)"(?:, "([^"]*)")?', source))
    if not found:
        problem("services/lib/src/config.ts", "no environment variable found (did the loader change shape?)")
    return found


def default_metrics_port(path: str) -> int | None:
    match = re.search(r"defaultMetricsPort:\s*(\d+)", (ROOT / path).read_text())
    if not match:
        problem(path, "no defaultMetricsPort found")
        return None
    return int(match.group(1))


def load_all(path: Path) -> list[dict]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def check_env(where: str, names: list[str], known: dict[str, str]) -> None:
    for name in names:
        if name not in known and not FOREIGN_ENV.match(name):
            problem(where, f"sets {name}, which no uniformity process reads (services/lib/src/config.ts)")


def check_entry(where: str, command: list[str] | str | None) -> None:
    """A `node path/dist/src/x.js` command must come from path/src/x.ts."""
    words = command.split() if isinstance(command, str) else list(command or [])
    for word in words:
        match = re.fullmatch(r"(?:/app/)?((?:services|workers)/[a-z]+)/dist/(src/[\w/]+)\.js", word)
        if match and not (ROOT / match.group(1) / (match.group(2) + ".ts")).is_file():
            problem(where, f"runs {word}, but {match.group(1)}/{match.group(2)}.ts does not exist")


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def check_compose(known: dict[str, str], metrics: dict[str, int | None]) -> None:
    where = "infra/compose.yaml"
    compose = load_all(INFRA / "compose.yaml")[0]
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        if not str(service.get("image", "")).startswith("uniformity"):
            continue  # third-party images (Postgres, NATS, Jaeger, the collector)
        check_env(f"{where} {name}", list(env), known)
        check_entry(f"{where} {name}", service.get("command"))
        check_entry(f"{where} {name}", service.get("entrypoint"))
        if name in SERVICES:
            variable, _ = SERVICES[name]
            port = port_of(env[variable])
            if port != port_of(known[variable]):
                problem(where, f"{name} listens on {port}, the code's default is {known[variable]}")
            published = {int(p.split(":")[-1]) for p in service.get("ports", [])}
            for wanted in (port, metrics[name]):
                if wanted not in published:
                    problem(where, f"{name} does not publish port {wanted}")
            if str(port) not in " ".join(service["healthcheck"]["test"]):
                problem(where, f"{name}'s healthcheck does not ask port {port}")


def check_k8s(known: dict[str, str], metrics: dict[str, int | None]) -> None:
    manifests = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    kustomization = load_all(K8S / "kustomization.yaml")[0]
    listed = set(kustomization.get("resources", []))
    for path in manifests:
        if path.name not in listed and path.name != "secret.example.yaml":
            problem("infra/k8s/kustomization.yaml", f"does not list {path.name}")
    for name in listed:
        if not (K8S / name).is_file():
            problem("infra/k8s/kustomization.yaml", f"lists {name}, which does not exist")

    configmap: dict[str, str] = {}
    for path in manifests:
        for doc in load_all(path):
            where = f"infra/k8s/{path.name} {doc['kind']}/{doc['metadata']['name']}"
            if doc["kind"] in ("ConfigMap", "Secret"):
                data = {**(doc.get("data") or {}), **(doc.get("stringData") or {})}
                check_env(where, list(data), known)
                if doc["kind"] == "ConfigMap":
                    configmap.update(data)
            pod = doc.get("spec", {}).get("template", {}).get("spec")
            if not pod:
                continue
            for container in pod["containers"]:
                env = {item["name"]: item.get("value") for item in container.get("env", [])}
                check_env(where, list(env), known)
                check_entry(where, container.get("command"))
                name = doc["metadata"]["name"]
                annotations = doc["spec"]["template"]["metadata"].get("annotations", {})
                ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
                expected_metrics = metrics.get("worker" if name.startswith("worker") else name)
                if doc["kind"] == "Deployment" and expected_metrics is not None:
                    if str(expected_metrics) != annotations.get("prometheus.io/port"):
                        problem(where, f"prometheus.io/port is not {expected_metrics}")
                    if ports.get("metrics") != expected_metrics:
                        problem(where, f"metrics containerPort is not {expected_metrics}")
                if name in SERVICES:
                    variable, _ = SERVICES[name]
                    port = port_of(known[variable])
                    if env.get(variable) != f"0.0.0.0:{port}":
                        problem(where, f"must listen with {variable}=0.0.0.0:{port}")
                    if ports.get("grpc") != port:
                        problem(where, f"grpc containerPort is not {port}")
                    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                        if container.get(probe, {}).get("grpc", {}).get("port") != port:
                            problem(where, f"{probe} is not a gRPC probe on {port}")
            for volume in pod.get("volumes", []):
                claim = volume.get("persistentVolumeClaim", {}).get("claimName")
                if claim and not any(
                    d["kind"] == "PersistentVolumeClaim" and d["metadata"]["name"] == claim for p in manifests for d in load_all(p)
                ):
                    problem(where, f"mounts claim {claim}, which no manifest defines")
    for name, (variable, _) in SERVICES.items():
        value = configmap.get(variable, "")
        if value != f"{name}:{port_of(known[variable])}":
            problem("infra/k8s/configmap.yaml", f"{variable} should be {name}:{port_of(known[variable])} (the Service), got {value!r}")


def check_collector() -> None:
    where = "infra/otel-collector.yaml"
    config = load_all(INFRA / "otel-collector.yaml")[0]
    for pipeline, spec in config["service"]["pipelines"].items():
        for section in ("receivers", "processors", "exporters"):
            for component in spec.get(section, []):
                if component not in (config.get(section) or {}):
                    problem(where, f"pipeline {pipeline} uses {section[:-1]} {component}, which is not defined")
    for extension in config["service"].get("extensions", []):
        if extension not in (config.get("extensions") or {}):
            problem(where, f"extension {extension} is enabled but not defined")
    endpoint = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    if port_of(endpoint) != 4318:
        problem(where, f"OTLP/HTTP receiver is on {endpoint}, the processes send to :4318")


def check_dockerfile(known: dict[str, str]) -> None:
    text = (INFRA / "Dockerfile").read_text()
    check_env("infra/Dockerfile", re.findall(r"\b(UNIFORMITY_[A-Z0-9_]+)=", text), known)
    for line in text.splitlines():
        if line.startswith(("CMD", "ENTRYPOINT")):
            check_entry("infra/Dockerfile", re.findall(r'"([^"]+)"', line))
    for path in ("workers/core/requirements.txt", "workers/core/pyproject.toml", "proto"):
        if path not in text:
            problem("infra/Dockerfile", f"never copies {path}")


def main() -> int:
    known = config_variables()
    metrics = {name: default_metrics_port(app) for name, (_, app) in SERVICES.items()}
    metrics["worker"] = default_metrics_port(WORKER_MAIN)
    check_compose(known, metrics)
    check_k8s(known, metrics)
    check_collector()
    check_dockerfile(known)
    for line in problems:
        print(line)
    print(f"check_infra: {len(problems)} problem(s)" if problems else "check_infra: infra/ matches the code")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
