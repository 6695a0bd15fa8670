#!/usr/bin/env bash
# The local cluster's real node: a kubelet (the toolchain's, from the Kubernetes pin) and Debian's
# containerd + runc, in a network namespace and a mount namespace of their own, so that the Multus
# DaemonSet's pod and the sample pods run for real: the kubelet's CNI call goes through the real
# Multus to the real plugins. Started by cluster/kwok.sh next to kwok's simulated nodes.
#   cluster/node.sh up NAME       start the node of cluster NAME (cleans what a dead one left first)
#   cluster/node.sh down NAME     stop it: every process, mount, cgroup, link and namespace it made
#   cluster/node.sh why-not       exit 1 with one line when this machine cannot run a node
#   cluster/node.sh exec NAME CMD run CMD inside the node's namespaces (what the node sees)
# The node's only link is a veth pair: its end is `eth0` inside (so the guide's `master: eth0`
# works as written), the host's end `mcn<hash>`, on a private /30 of 10.250.0.0/16. Inside, the
# primary network is a bridge with host-local on 10.244.0.0/24, no masquerade and no default route:
# nothing leaves the namespaces the node made. The `kubernetes` Service address is sent to the API
# server on the host's end of the veth (one DNAT rule in the node's namespace: no kube-proxy runs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=toolchain/lib.sh
. "$here/../toolchain/lib.sh"
SAY_PREFIX=node
export KWOK_WORKDIR=${CLUSTER_WORKDIR:-${XDG_CACHE_HOME:-$HOME/.cache}/multus-cni/kwok}
NODE_NAME=real-node
# cluster/kwokctl.yaml gives the API server this Service range and the certificate name for it.
SERVICE_IP=10.96.0.1
# The directories the node has of its own (bind-mounted over the machine's in its mount namespace):
# what the Multus DaemonSet's hostPath volumes and the kubelet, containerd and the CNI plugins use.
NODE_DIRS="etc/cni/net.d opt/cni/bin var/lib/kubelet var/lib/cni var/log/pods var/log/containers run/multus run/netns run/containerd"
# The reference plugins the node's image has (as TKG node images ship them): Debian's package.
CNI_PLUGINS_DIR=/usr/lib/cni

dir_of() { echo "$KWOK_WORKDIR/nodes/$1"; }
hash_of() { printf %s "$1" | sha256sum | cut -c1-8; }
# containerd's socket, in the node's own /run/containerd: a unix socket path has at most 107 bytes,
# which a node directory under a test's temporary directory exceeds; the hash names this node's shims.
socket_of() { echo "/run/containerd/node-$(hash_of "$1").sock"; }

why_not() {  # one line: what this machine lacks for a real node
  [ "$(id -u)" = 0 ] || { echo "not root (a node needs network and mount namespaces)"; return; }
  local tool
  for tool in containerd containerd-shim-runc-v2 runc ctr iptables ip unshare nsenter gcc busybox; do
    command -v "$tool" >/dev/null || { echo "no $tool (apt-get install containerd runc iptables iproute2 util-linux gcc libc6-dev busybox-static)"; return; }
  done
  [ -x "$TC/bin/kubelet" ] || { echo "the toolchain has no kubelet (make toolchain)"; return; }
  [ -x "$CNI_PLUGINS_DIR/macvlan" ] || { echo "no CNI plugins in $CNI_PLUGINS_DIR (apt-get install containernetworking-plugins)"; return; }
  [ -d /sys/fs/cgroup/cpu ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || { echo "no cgroup filesystem mounted"; return; }
  ip netns add "mcn-probe-$$" 2>/dev/null && ip netns del "mcn-probe-$$" || { echo "cannot create network namespaces"; return; }
}

# cgroup v1 mounts one hierarchy per controller (cgroup v2: one); the node's cgroups live under
# <each>/<cgroup root>, so that stopping it can find and kill every process it started.
cgroup_hierarchies() {
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo /sys/fs/cgroup; else find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d; fi
}

# The mount points nodes had to create on the machine's file system (the last node down removes them).
MADE_DIRS=/run/lock/multus-cni-node-dirs
# One node starts or stops at a time on this machine: they share the subnets, and the mount points a
# node makes on the machine's own file system stay while any other node has its mounts on them.
lock() { [ -n "${NODE_LOCKED:-}" ] && return; mkdir -p /run/lock; exec 9>/run/lock/multus-cni-nodes.lock; flock 9; NODE_LOCKED=1; }
unlock() { [ -z "${NODE_LOCKED:-}" ] || flock -u 9; NODE_LOCKED=""; }

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {  # stop_pid PIDFILE: TERM, then KILL after 10 s
  local pid i
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

down() {  # every step tolerates what is already gone: a dead node is cleaned the same way
  local dir=$1 hash root pids cg d
  [ -d "$dir" ] || return 0
  lock
  hash=$(hash_of "$dir") root="multus-cni-$hash"
  stop_pid "$dir/pids/kubelet"
  # The containers (each shim's children, then the shim), then containerd: the pods' processes all
  # sit in the node's cgroups, so whatever is left there is killed too.
  for pids in $(pgrep -f "containerd-shim.*-address $(socket_of "$dir")" || true); do
    pkill -9 -P "$pids" 2>/dev/null || true; kill -9 "$pids" 2>/dev/null || true
  done
  stop_pid "$dir/pids/containerd"
  for cg in $(cgroup_hierarchies); do
    [ -d "$cg/$root" ] || continue
    find "$cg/$root" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  done
  sleep 0.2
  for cg in $(cgroup_hierarchies); do
    [ -d "$cg/$root" ] && find "$cg/$root" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  ip netns del "$root" 2>/dev/null || true
  ip link del "mcn$hash" 2>/dev/null || true
  # The mount points it had to create on this machine, when still empty (its mounts died with it) and
  # no other node runs: another node's mounts sit on the same directories.
  if [ -f "$MADE_DIRS" ] && ! ip netns list | grep -q '^multus-cni-'; then
    while read -r d; do [ ! -d "$d" ] || find "$d" -depth -type d -empty -delete 2>/dev/null || true; done <"$MADE_DIRS"
    rm -f "$MADE_DIRS"
  fi
  rm -rf "$dir"
  unlock
}

free_subnet() {  # the first 10.250.N.0/30 no interface or route of this machine uses
  local n
  for n in $(seq 1 254); do
    ip -4 route show | grep -q "^10\.250\.$n\." && continue
    ip -4 -o addr show | grep -q " 10\.250\.$n\." && continue
    echo "$n"; return
  done
  return 1
}

node_network() {  # node_network DIR PORT: the namespace, the veth pair, the Service DNAT
  local dir=$1 port=$2 hash ns n
  hash=$(hash_of "$dir") ns="multus-cni-$(hash_of "$dir")"
  n=$(free_subnet) || fail "no free /30 in 10.250.0.0/16 for the node's link"
  ip netns add "$ns"
  ip link add "mcn$hash" type veth peer name eth0 netns "$ns"
  ip addr add "10.250.$n.1/30" dev "mcn$hash"
  ip link set "mcn$hash" up
  ip -n "$ns" addr add "10.250.$n.2/30" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  # No default route: only the link's /30 and the Service address (turned into the API server's).
  ip -n "$ns" route add "$SERVICE_IP/32" dev eth0
  nsenter --net="/run/netns/$ns" iptables -t nat -A OUTPUT -d "$SERVICE_IP/32" -p tcp --dport 443 \
    -j DNAT --to-destination "10.250.$n.1:$port"
  echo "$n" >"$dir/subnet"
}

write_configs() {  # write_configs DIR CLUSTER_DIR SERVER: containerd, the kubelet, its credentials, the primary CNI
  local dir=$1 cluster=$2 server=$3 n hash
  n=$(cat "$dir/subnet") hash=$(hash_of "$dir")
  mkdir -p "$dir/fs/etc/cni/net.d" "$dir/fs/opt/cni/bin"
  cp "$CNI_PLUGINS_DIR"/* "$dir/fs/opt/cni/bin/"
  # The node's primary network: the bridge plugin, addresses from host-local, no gateway, no masquerade.
  cat >"$dir/fs/etc/cni/net.d/10-bridge.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "node-bridge", "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": false,
 "ipMasq": false, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]]}}]}
JSON
  # containerd 1.6 (version 2 schema), everything private to this node: root, state, sockets.
  cat >"$dir/containerd.toml" <<TOML
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$(socket_of "$dir")"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(python3 "$here/images.py" names pause)"
  stream_server_address = "127.0.0.1"
  # runc may not lower oom_score_adj on these machines ("failed to update /proc/self/oom_score_adj").
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
TOML
  # The kubelet's own client certificate (group system:nodes: the Node authorizer kwokctl enables).
  openssl req -new -newkey rsa:2048 -nodes -subj "/O=system:nodes/CN=system:node:$NODE_NAME" \
    -keyout "$dir/kubelet.key" -out "$dir/kubelet.csr" 2>/dev/null
  openssl x509 -req -in "$dir/kubelet.csr" -CA "$cluster/pki/ca.crt" -CAkey "$cluster/pki/ca.key" \
    -CAcreateserial -days 365 -out "$dir/kubelet.crt" 2>/dev/null
  # The API server through the host's end of the link; its certificate names localhost, not that address.
  cat >"$dir/kubelet.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://10.250.$n.1:${server##*:}", certificate-authority: "$cluster/pki/ca.crt", tls-server-name: localhost}
users:
- name: kubelet
  user: {client-certificate: "$dir/kubelet.crt", client-key: "$dir/kubelet.key"}
contexts:
- name: local
  context: {cluster: local, user: kubelet}
current-context: local
YAML
  cat >"$dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: /multus-cni-$hash
failCgroupV1: false          # 1.35+ refuses cgroup v1 by default; these machines mount v1
containerRuntimeEndpoint: unix://$(socket_of "$dir")
authentication: {anonymous: {enabled: false}, webhook: {enabled: false}, x509: {clientCAFile: "$cluster/pki/ca.crt"}}
authorization: {mode: AlwaysAllow}   # reachable only from this machine, through the node's link
address: 10.250.$n.2
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
failSwapOn: false
enforceNodeAllocatable: []
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 100
YAML
}

inside() {  # runs in the node's namespaces: its directories, then containerd, the images, the kubelet
  local dir=$1 d image top parent
  for d in $NODE_DIRS; do
    mkdir -p "$dir/fs/$d"
    top="" parent="/$d"
    while [ ! -d "$parent" ]; do top=$parent parent=$(dirname "$parent"); done
    [ -z "$top" ] || { mkdir -p "/$d"; echo "$top" >>"$MADE_DIRS"; }
    mount --bind "$dir/fs/$d" "/$d"
  done
  # Shared within the node's namespace only (its mounts were made private first): the kubelet's and
  # the Multus init container's Bidirectional mounts need it, as on a systemd host.
  mount --make-rshared /
  mkdir -p "$dir/pids" "$dir/logs"
  setsid containerd --config "$dir/containerd.toml" >"$dir/logs/containerd.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/containerd"
  local socket; socket=$(socket_of "$dir")
  for _ in $(seq 100); do ctr --address "$socket" version >/dev/null 2>&1 && break; sleep 0.2; done
  for image in "$dir"/images/*.tar; do
    ctr --address "$socket" -n k8s.io images import "$image" >/dev/null
  done
  setsid "$TC/bin/kubelet" --config "$dir/kubelet.yaml" --kubeconfig "$dir/kubelet.kubeconfig" \
    --hostname-override "$NODE_NAME" --node-ip "10.250.$(cat "$dir/subnet").2" --v=1 \
    >"$dir/logs/kubelet.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/kubelet"
}

up() {  # up NAME: a fresh node for cluster NAME (whatever an earlier one left is removed first)
  local name=$1 dir cluster server hash cg reason
  reason=$(why_not) && [ -n "$reason" ] && fail "no real node: $reason"
  dir=$(dir_of "$name") cluster="$KWOK_WORKDIR/clusters/$name"
  [ -s "$cluster/kubeconfig.yaml" ] || fail "cluster '$name' is not running"
  lock
  if [ -d "$dir" ]; then
    if alive "$dir/pids/kubelet" && alive "$dir/pids/containerd"; then unlock; return 0; fi
    say "cleaning what a stopped node of '$name' left"; down "$dir"; lock
  fi
  mkdir -p "$dir/pids" "$dir/logs" "$dir/images"
  hash=$(hash_of "$dir")
  server=$(sed -n 's/^ *server: *//p' "$cluster/kubeconfig.yaml" | head -n 1)
  say "node '$NODE_NAME' of cluster '$name': images, link, containerd, kubelet (logs: $dir/logs)"
  python3 "$here/images.py" build --available --out "$dir/images" >"$dir/logs/images.log" 2>&1 \
    || { cat "$dir/logs/images.log" >&2; fail "could not build the node's images"; }
  # An add-on's image whose toolchain part is not built: its DaemonSet's pod on this node would not start.
  sed -n 's/^images: \(.*\): not built (\(.*\))$/[node] no \1 image on this node: \2/p' "$dir/logs/images.log" >&2
  node_network "$dir" "${server##*:}"
  write_configs "$dir" "$cluster" "$server"
  for cg in $(cgroup_hierarchies); do mkdir -p "$cg/multus-cni-$hash"; done
  unshare --mount --propagation private nsenter --net="/run/netns/multus-cni-$hash" \
    bash "$here/node.sh" inside "$dir" 9>&-
  unlock
}

case ${1:-} in
  up) up "${2:-multus-cni}" ;;
  down) down "$(dir_of "${2:-multus-cni}")" ;;
  inside) inside "$2" ;;
  why-not) reason=$(why_not); [ -z "$reason" ] || { echo "$reason"; exit 1; } ;;
  exec) d=$(dir_of "$2"); shift 2; exec nsenter --target "$(cat "$d/pids/kubelet")" --mount --net "$@" ;;
  *) fail "usage: cluster/node.sh up|down|why-not|exec [NAME]" ;;
esac
