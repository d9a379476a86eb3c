#!/usr/bin/env bash
# `make lint-infra`: validates infra/ offline with the pinned tools of
# infra/requirements-lint.txt (the make target installs them into .venv).
# Exits non-zero on the first tool that finds a problem.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${INFRA_LINT_BIN:-.venv/bin}"
# Kubernetes versions the manifests must be valid for (gRPC probes need 1.27+).
k8s_versions=(1.28.0 1.37.0)

step() { printf '\n== %s\n' "$*"; }

step "yamllint (infra/.yamllint.yaml)"
"$bin/yamllint" --strict -c infra/.yamllint.yaml infra
echo "ok"

step "compose-spec schema: infra/compose.yaml"
"$bin/check-jsonschema" --builtin-schema vendor.compose-spec infra/compose.yaml

manifests=()
for file in infra/k8s/*.yaml; do
  [[ "$(basename "$file")" == kustomization.yaml ]] || manifests+=("$file")
done
for version in "${k8s_versions[@]}"; do
  step "Kubernetes $version schemas, strict: ${#manifests[@]} manifests"
  "$bin/kubernetes-validate" --strict --quiet -k "$version" "${manifests[@]}"
  echo "ok"
done

step "hadolint (infra/.hadolint.yaml): infra/Dockerfile"
"$bin/hadolint" --no-color --config infra/.hadolint.yaml infra/Dockerfile
echo "ok"

step "cross-checks against the code (infra/check_infra.py)"
"$bin/python" infra/check_infra.py
