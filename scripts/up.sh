#!/usr/bin/env bash
# `make up`: the real `pulumi up` of a stack. With a kubeconfig (KUBECONFIG, ~/.kube/config or the
# stack's kubernetes:kubeconfig) it deploys there; without one it starts the local kwok control
# plane (`make cluster`) and deploys to it. Interactive unless YES=1.
# `make render-dir` (RENDER_DIR set): the provider writes the manifests to a folder instead.
set -euo pipefail
cd "$(dirname "$0")/.."
STACK=${STACK:-dev}
PY=${PY:-.venv/bin/python}

# shellcheck source=toolchain/lib.sh
. toolchain/lib.sh
# The built toolchain (make toolchain) when it is there, else a Pulumi CLI the user installed.
toolchain_hint=""
setup=()  # what this script set up, printed before recovery commands (a user's shell lacks it)
if usable pulumi && present python_host && present provider; then
  eval "$(bash toolchain/env.sh)"
  setup+=('eval "$(make -s toolchain-env)"')
  toolchain_hint='  eval "$(make -s toolchain-env)"   # the built kubectl and pulumi on your PATH'$'\n'
elif ! command -v pulumi >/dev/null 2>&1; then
  if command -v go >/dev/null 2>&1; then
    echo "No Pulumi CLI: building the live toolchain first ('make toolchain', about 25 minutes cold on 2 cores, 18 GB of cache)." >&2
    bash toolchain/build.sh
    eval "$(bash toolchain/env.sh)"
    setup+=('eval "$(make -s toolchain-env)"')
    toolchain_hint='  eval "$(make -s toolchain-env)"   # the built kubectl and pulumi on your PATH'$'\n'
  else
    cat >&2 <<MSG
Neither a Pulumi CLI nor Go is installed, so nothing was deployed and no local cluster can be built.
Install Go (>= 1.26, then 'make up' builds everything) or the Pulumi CLI
(https://www.pulumi.com/docs/iac/download-install/). Meanwhile, this is what 'pulumi up' would
create, rendered offline under Pulumi's mocks ('make render'):
MSG
    exec "$PY" -m multus_cni_cli render --stack "$STACK"
  fi
fi

# A state backend: the one you are logged in to, else a file backend inside this checkout.
if [ -z "${PULUMI_BACKEND_URL:-}" ] && ! pulumi whoami >/dev/null 2>&1; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
  setup+=("export PULUMI_BACKEND_URL=$(printf %q "$PULUMI_BACKEND_URL")")
  echo "State backend: $PULUMI_BACKEND_URL"
fi
# File backends encrypt secrets with a passphrase; an empty one unless you set yours.
if [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE=""
  setup+=("export PULUMI_CONFIG_PASSPHRASE=''")
fi
yes=(); [ "${YES:-0}" = 1 ] && yes=(--yes)
# Before the stack is selected (a cut-off checkpoint fails that already): what a killed run left (a
# stale lock, pending operations, a cut-off checkpoint) is printed with the commands that clear it,
# and nothing runs (docs/operations.md, "When a run was killed"); a run still going is named in one
# line. Exit 1 either way. The refresh reaches the cluster: the local one when `make up` would use it.
recover_first() {
  local args=() line
  for line in "${setup[@]}" "${@:3}"; do args+=(--setup "$line"); done
  "$PY" -m multus_cni_cli.recovery --stack "$1" "${args[@]}" --then "$2" || exit 1
}

if [ -n "${RENDER_DIR:-}" ]; then
  # A companion stack: one whose provider rendered can never apply to a cluster later, because
  # switching renderYamlToDirectory replaces every object and protect forbids replacing Multus.
  render_stack="$STACK-render"
  recover_first "$render_stack" "make render-dir"
  pulumi stack select --create "$STACK" >/dev/null   # `config cp` reads from a stack that exists
  pulumi stack select --create "$render_stack" >/dev/null
  pulumi config cp --stack "$STACK" --dest "$render_stack"
  pulumi config set kubernetes:renderYamlToDirectory "$RENDER_DIR" --stack "$render_stack"
  pulumi up --stack "$render_stack" "${yes[@]}"
  echo "Manifests of stack '$STACK' written to ./$RENDER_DIR by the Kubernetes provider."
  exit
fi

default_kubeconfig=${KUBECONFIG:-$HOME/.kube/config}
again="make up"; [ "$STACK" = dev ] || again="make up STACK=$STACK"
if [ ! -s "${default_kubeconfig%%:*}" ] && ! grep -qs '^ *kubernetes:kubeconfig:' "Pulumi.$STACK.yaml"; then
  # shellcheck disable=SC2016  # printed for the user's shell, not expanded here
  recover_first "$STACK" "$again" 'export KUBECONFIG="$(bash cluster/kwok.sh up | tail -n 1)"'
else
  recover_first "$STACK" "$again"
fi
pulumi stack select --create "$STACK" >/dev/null
kubeconfig_of_stack=$(pulumi config get kubernetes:kubeconfig --stack "$STACK" 2>/dev/null || true)
local_cluster=0
if [ -z "$kubeconfig_of_stack" ] && [ ! -s "${default_kubeconfig%%:*}" ]; then
  echo "No kubeconfig: starting the local kwok control plane ('make cluster')."
  KUBECONFIG=$(bash cluster/kwok.sh up | tail -n 1)
  export KUBECONFIG
  local_cluster=1
  echo "Cluster: KUBECONFIG=$KUBECONFIG (2 simulated nodes: no kubelet, no container runtime)."
fi

if ! pulumi up --stack "$STACK" "${yes[@]}"; then
  # The local cluster outlives the state (.pulumi-state deleted, another checkout): its objects are
  # then refused as someone else's (docs/operations.md "One cluster, one owner").
  [ "$local_cluster" = 1 ] && echo "If an object 'already exists': the local cluster holds what another stack or an earlier state deployed there; 'make cluster-down', then '$again', starts it empty." >&2
  exit 1
fi
out() { pulumi stack output "$1" --stack "$STACK" 2>/dev/null; }
cluster_hint=""  # later pulumi and kubectl commands must reach the same cluster
[ -n "${KUBECONFIG:-}" ] && cluster_hint="  export KUBECONFIG=$KUBECONFIG"$'\n'
cat <<MSG

Look at what was deployed:
$toolchain_hint$cluster_hint  kubectl get net-attach-def,pods -A
  kubectl -n $(out multusNamespace) get daemonset $(out multusDaemonSet)
MSG
