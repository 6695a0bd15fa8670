#!/usr/bin/env bash
# `make up`: the real `pulumi up` of a stack. With a kubeconfig (KUBECONFIG, ~/.kube/config or the
# stack's kubernetes:kubeconfig) it deploys there; without one it starts the local kwok control
# plane (`make cluster`) and deploys to it. Interactive unless YES=1.
# `make render-dir` (RENDER_DIR set): the provider writes the manifests to a folder instead.
# BULK=1: the state is backed up, then written only when the update ends (faster; see below).
set -euo pipefail
cd "$(dirname "$0")/.."
STACK=${STACK:-dev}
PY=${PY:-.venv/bin/python}

# shellcheck source=toolchain/lib.sh
. toolchain/lib.sh
# The built toolchain (make toolchain) when it is there, else a Pulumi CLI the user installed. `make up`
# needs only these parts of it (the test-only ones, `make toolchain` builds: YAML and Node.js hosts,
# Node.js, the old Multus releases); build.sh rebuilds a part only when its pin changed. whereabouts
# and cni_plugins are the real node's images of the add-ons, for a stack that enables them.
UP_PARTS=(etcd kwok kube multus pulumi python_host provider whereabouts cni_plugins)
toolchain_hint=""
setup=()  # what this script set up, printed before recovery commands (a user's shell lacks it)
use_toolchain() {
  if command -v go >/dev/null 2>&1; then bash toolchain/build.sh "${UP_PARTS[@]}"; fi
  eval "$(bash toolchain/env.sh)"
  setup+=('eval "$(make -s toolchain-env)"')
  toolchain_hint='  eval "$(make -s toolchain-env)"   # the built kubectl and pulumi on your PATH'$'\n'
}
if usable pulumi && present python_host && present provider; then
  use_toolchain
elif ! command -v pulumi >/dev/null 2>&1; then
  if command -v go >/dev/null 2>&1; then
    echo "No Pulumi CLI: building what 'make up' needs of the live toolchain first (about 24 minutes cold on 2 cores, once)." >&2
    use_toolchain
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
  if kubectl get node real-node >/dev/null 2>&1; then
    # Its real node reaches no registry: the sample pods run the image built for it (cluster/images.py).
    MULTUS_CNI_SAMPLE_IMAGE=$(python3 cluster/images.py names sample)
    export MULTUS_CNI_SAMPLE_IMAGE
    setup+=("export MULTUS_CNI_SAMPLE_IMAGE=$MULTUS_CNI_SAMPLE_IMAGE")
    echo "Cluster: KUBECONFIG=$KUBECONFIG (1 real node, 'real-node': a kubelet and containerd on this machine; 2 simulated kwok nodes for DaemonSets only)."
    echo "Sample pods run $MULTUS_CNI_SAMPLE_IMAGE, built here (the node reaches no registry)."
  else
    echo "Cluster: KUBECONFIG=$KUBECONFIG (2 simulated nodes: no kubelet, no container runtime, so no pod gets a network-status)."
  fi
fi

# BULK=1: the bulk path of a big stack's first rollout (multus_cni_cli/bulk.py): the state backed up
# first, then an update that writes the state once, at its end (docs/operations.md "The bulk path").
engine=(pulumi)
if [ "${BULK:-0}" = 1 ]; then
  "$PY" -m multus_cni_cli.bulk --stack "$STACK" || exit 1
  engine=(env PULUMI_SKIP_CHECKPOINTS=true pulumi)
fi
if ! "${engine[@]}" up --stack "$STACK" "${yes[@]}"; then
  # The local cluster outlives the state (.pulumi-state deleted, another checkout): its objects are
  # then refused as someone else's (docs/operations.md "One cluster, one owner").
  [ "$local_cluster" = 1 ] && echo "If an object 'already exists': the local cluster holds what another stack or an earlier state deployed there; 'make cluster-down', then '$again', starts it empty." >&2
  exit 1
fi
out() { pulumi stack output "$1" --stack "$STACK" 2>/dev/null; }
cluster_hint=""  # later pulumi and kubectl commands must reach the same cluster (and run the same images)
[ -n "${KUBECONFIG:-}" ] && cluster_hint="  export KUBECONFIG=$KUBECONFIG"$'\n'
[ -n "${MULTUS_CNI_SAMPLE_IMAGE:-}" ] && cluster_hint+="  export MULTUS_CNI_SAMPLE_IMAGE=$MULTUS_CNI_SAMPLE_IMAGE"$'\n'
# The workloads (`namespace/name`), from the stack's networkStatus output.
pods=$(pulumi stack output networkStatus --json --stack "$STACK" 2>/dev/null \
  | python3 -c 'import json, sys; print("\n".join(sorted(json.load(sys.stdin) or ())))' 2>/dev/null || true)
cat <<MSG

Look at what was deployed:
$toolchain_hint$cluster_hint  kubectl get net-attach-def,pods -A
  kubectl -n $(out multusNamespace) get daemonset $(out multusDaemonSet)
MSG
if [ -n "$pods" ]; then
  echo "Each workload's network-status (the guide's last step), then the check of every attachment:"
  while read -r pod; do echo "  kubectl describe pod -n ${pod%%/*} -l app.kubernetes.io/name=${pod#*/}"; done <<<"$pods"
  echo "  .venv/bin/multus-cni verify --stack $STACK"
fi
