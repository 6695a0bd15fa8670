#!/usr/bin/env bash
# A local Kubernetes control plane for `make up` and the live suite, started by kwokctl from the
# toolchain's own binaries: etcd, kube-apiserver (RBAC on), kube-controller-manager, kube-scheduler
# and kwok's controller, with 2 simulated nodes (no kubelet, no container runtime, no images).
#   cluster/kwok.sh up [NAME]     start it (no-op when it already answers); last line: the kubeconfig
#   cluster/kwok.sh down [NAME]   stop it and delete its files
# CLUSTER_WORKDIR (default: ~/.cache/multus-cni/kwok) holds each cluster's files; NAME: multus-cni.
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

up() {
  for part in kube etcd kwok; do
    usable "$part" || fail "the toolchain has no $part yet: run 'make toolchain' first"
  done
  if answers; then echo "$kubeconfig"; return; fi
  if [ -d "$KWOK_WORKDIR/clusters/$name" ]; then  # left over (stopped, or the machine restarted)
    kwokctl start cluster --wait 2m >&2 || kwokctl delete cluster >&2 || true
  fi
  if ! answers; then
    say "starting cluster '$name' (kwokctl --runtime binary, Kubernetes $KUBE_VERSION) in $KWOK_WORKDIR"
    # --kubeconfig: kwokctl would otherwise merge the cluster into ~/.kube/config and switch its context.
    kwokctl create cluster --runtime binary --wait 3m \
      --kubeconfig "$KWOK_WORKDIR/clusters/.merged-kubeconfig-$name" \
      --etcd-binary "$(binary etcd)" --kube-apiserver-binary "$(binary kube-apiserver)" \
      --kube-controller-manager-binary "$(binary kube-controller-manager)" \
      --kube-scheduler-binary "$(binary kube-scheduler)" --kwok-controller-binary "$(binary kwok)" >&2
  fi
  say "cluster '$name': 2 simulated nodes"
  kwokctl scale node --replicas 2 >&2
  kubectl --kubeconfig "$kubeconfig" wait --for=condition=Ready node --all --timeout=120s >&2
  echo "$kubeconfig"
}

down() {
  if [ -d "$KWOK_WORKDIR/clusters/$name" ]; then say "deleting cluster '$name'"; kwokctl delete cluster >&2; fi
  rm -f "$KWOK_WORKDIR/clusters/.merged-kubeconfig-$name"
}

case $cmd in
  up) up ;;
  down) down ;;
  *) fail "usage: cluster/kwok.sh up|down [NAME]" ;;
esac
