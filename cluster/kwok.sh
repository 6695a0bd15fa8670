#!/usr/bin/env bash
# A local Kubernetes control plane for `make up` and the live suite, started by kwokctl from the
# toolchain's own binaries: etcd, kube-apiserver (RBAC on), kube-controller-manager, kube-scheduler
# and kwok's controller, with 2 simulated nodes (no kubelet, no container runtime, no images) and,
# where the machine allows it, one real node (cluster/node.sh: a kubelet and containerd).
#   cluster/kwok.sh up [NAME]     start it (no-op when it already answers); last line: the kubeconfig
#   cluster/kwok.sh down [NAME]   stop it and delete its files
# CLUSTER_WORKDIR (default: ~/.cache/multus-cni/kwok) holds each cluster's files; NAME: multus-cni.
# REAL_NODE: auto (default: a real node when the machine can run one, else one line why not), 1 (it
# must), 0 (simulated nodes only).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=toolchain/lib.sh
. "$here/../toolchain/lib.sh"

cmd=${1:-up} name=${2:-multus-cni} SAY_PREFIX=cluster
export KWOK_WORKDIR=${CLUSTER_WORKDIR:-${XDG_CACHE_HOME:-$HOME/.cache}/multus-cni/kwok}
export KWOK_KUBE_VERSION=$KUBE_VERSION
export PATH="$TC/bin:$PATH"   # kwokctl runs `kubectl` from PATH, else downloads one (unreachable here)
kubeconfig="$KWOK_WORKDIR/clusters/$name/kubeconfig.yaml"
kwokctl() { command kwokctl --name "$name" --v=WARN "$@"; }
answers() { [ -s "$kubeconfig" ] && kubectl --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1; }
# kwokctl picks each component's port when it writes the cluster's config, without holding it: a
# cluster started at the same moment can take one first, and that component exits while the API
# server answers (then no DaemonSet pod is ever made). Both controllers hold a lease once they run.
controllers_run() {
  local i
  for i in $(seq 30); do
    [ "$(kubectl --kubeconfig "$kubeconfig" get lease -n kube-system kube-controller-manager kube-scheduler \
          -o name 2>/dev/null | wc -l)" = 2 ] && return 0
    sleep 2
  done
  return 1
}

# The kwok controller makes the simulated nodes Ready; when it lost its port to a cluster started at the
# same moment (above), the nodes never are: that cluster is started again like one without controllers.
nodes_ready() {
  answers || return 1
  if [ "$(kubectl --kubeconfig "$kubeconfig" get nodes -o name 2>/dev/null | wc -l)" -lt 2 ]; then
    say "cluster '$name': 2 simulated nodes"
    kwokctl scale node --replicas 2 >&2 || return 1
  fi
  kubectl --kubeconfig "$kubeconfig" wait --for=condition=Ready node -l type=kwok --timeout=60s >&2
}

# Which cluster's objects the API server serves: the first to answer marks kube-public with its name.
# Another name there means this API server reached another cluster's etcd (below: one port given
# to two clusters), and this cluster is started again.
own_objects() {
  local who
  who=$(kubectl --kubeconfig "$kubeconfig" get namespace kube-public -o jsonpath='{.metadata.annotations.multus-cni/kwok-cluster}' 2>/dev/null) || return 1
  if [ -z "$who" ]; then
    kubectl --kubeconfig "$kubeconfig" annotate namespace kube-public "multus-cni/kwok-cluster=$name" >/dev/null 2>&1 || return 1
    who=$name
  fi
  [ "$who" = "$name" ] && return 0
  say "cluster '$name' answers with cluster '$who''s objects (its etcd port was given to both)"
  return 1
}

# The real node, Ready; then only what tolerates it lands on the simulated nodes (DaemonSets such as
# Multus' do), so the stack's pods run for real.
real_node() {
  local why
  case ${REAL_NODE:-auto} in
    0) return 0 ;;
    auto) if ! why=$(bash "$here/node.sh" why-not); then say "cluster '$name': no real node, simulated nodes only: $why"; return 0; fi ;;
  esac
  bash "$here/node.sh" up "$name"
  local i
  for i in $(seq 60); do kubectl --kubeconfig "$kubeconfig" get node real-node >/dev/null 2>&1 && break; sleep 1; done
  kubectl --kubeconfig "$kubeconfig" wait --for=condition=Ready node/real-node --timeout=90s >&2 \
    || fail "the real node did not become Ready: see $KWOK_WORKDIR/nodes/$name/logs/kubelet.log"
  kubectl --kubeconfig "$kubeconfig" taint node -l type=kwok kwok.x-k8s.io/node=fake:NoSchedule --overwrite >/dev/null
}

up() {
  for part in kube etcd kwok; do
    usable "$part" || fail "the toolchain has no $part yet: run 'make toolchain' first"
  done
  if answers; then real_node; echo "$kubeconfig"; return; fi
  if [ -d "$KWOK_WORKDIR/clusters/$name" ]; then  # left over (stopped, or the machine restarted)
    kwokctl start cluster --wait 2m >&2 || kwokctl delete cluster >&2 || true
  fi
  local attempt
  for attempt in 1 2 3; do
    answers && own_objects && controllers_run && nodes_ready && break
    [ "$attempt" = 1 ] || { say "cluster '$name' did not come up whole: deleting it and starting it again"; kwokctl delete cluster >&2 || true; }
    say "starting cluster '$name' (kwokctl --runtime binary, Kubernetes $KUBE_VERSION) in $KWOK_WORKDIR"
    # --kubeconfig: kwokctl would otherwise merge the cluster into ~/.kube/config and switch its context.
    # One creation at a time on this machine, until its components hold their ports: two clusters
    # created at once could be given the same free port, and when that was etcd's, the second API
    # server used the first cluster's etcd (each saw the other's objects). `flock` is util-linux's;
    # kwokctl gets no copy of the lock's descriptor, or the components it leaves running would hold it.
    (
      flock 9
      kwokctl create cluster --runtime binary --wait 90s --config "$here/kwokctl.yaml" \
        --kubeconfig "$KWOK_WORKDIR/clusters/.merged-kubeconfig-$name" \
        --etcd-binary "$(binary etcd)" --kube-apiserver-binary "$(binary kube-apiserver)" \
        --kube-controller-manager-binary "$(binary kube-controller-manager)" \
        --kube-scheduler-binary "$(binary kube-scheduler)" --kwok-controller-binary "$(binary kwok)" >&2 9>&-
    ) 9>"${TMPDIR:-/tmp}/multus-cni-kwok-ports.lock" || true
  done
  answers && own_objects && controllers_run && nodes_ready || fail "cluster '$name' did not come up in 3 attempts: see $KWOK_WORKDIR/clusters/$name/logs"
  real_node
  echo "$kubeconfig"
}

down() {
  bash "$here/node.sh" down "$name"
  if [ -d "$KWOK_WORKDIR/clusters/$name" ]; then say "deleting cluster '$name'"; kwokctl delete cluster >&2; fi
  rm -f "$KWOK_WORKDIR/clusters/.merged-kubeconfig-$name"
}

case $cmd in
  up) up ;;
  down) down ;;
  *) fail "usage: cluster/kwok.sh up|down [NAME]" ;;
esac
