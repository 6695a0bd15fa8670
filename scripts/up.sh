#!/usr/bin/env bash
# `make up`: deploy the stack with the Pulumi CLI, or explain what is missing and render offline.
set -euo pipefail
cd "$(dirname "$0")/.."
STACK=${STACK:-dev}
RENDER_DIR=${RENDER_DIR:-rendered}
PY=${PY:-.venv/bin/python}

if ! command -v pulumi >/dev/null 2>&1; then
  cat >&2 <<MSG
The Pulumi CLI is not installed, so nothing was deployed.
Install it (https://www.pulumi.com/docs/iac/download-install/), for example:
  curl -fsSL https://get.pulumi.com | sh        # or: brew install pulumi/tap/pulumi
then run 'make up' again. Meanwhile, this is what 'pulumi up' would create ('make render'):
MSG
  exec "$PY" -m components render --stack "$STACK"
fi

# A state backend: the one you are logged in to, else a file backend inside this checkout.
if [ -z "${PULUMI_BACKEND_URL:-}" ] && ! pulumi whoami >/dev/null 2>&1; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
  echo "Using the local state backend $PULUMI_BACKEND_URL"
fi
# File backends encrypt secrets with a passphrase; an empty one unless you set yours.
if [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE=""
fi

has_cluster() {
  [ -n "$(pulumi config get kubernetes:kubeconfig --stack "$STACK" 2>/dev/null)" ] && return 0
  local kubeconfig=${KUBECONFIG:-$HOME/.kube/config}
  [ -s "${kubeconfig%%:*}" ]
}

pulumi stack select --create "$STACK" >/dev/null
if has_cluster; then
  exec pulumi up --stack "$STACK"
fi

# No cluster: let the Kubernetes provider write the manifests instead of applying them. This
# uses its own stack: a stack whose provider rendered cannot later apply to a cluster, because
# switching renderYamlToDirectory replaces every resource and protect forbids replacing Multus.
RENDER_STACK="$STACK-render"
echo "No kubeconfig found: rendering stack '$STACK' to ./$RENDER_DIR through stack '$RENDER_STACK'."
pulumi stack select "$RENDER_STACK" >/dev/null 2>&1 || pulumi stack init "$RENDER_STACK" >/dev/null
pulumi config cp --stack "$STACK" --dest "$RENDER_STACK"
pulumi config set kubernetes:renderYamlToDirectory "$RENDER_DIR" --stack "$RENDER_STACK"
exec pulumi up --stack "$RENDER_STACK"
