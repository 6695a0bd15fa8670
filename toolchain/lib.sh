# Shared by toolchain/build.sh, toolchain/env.sh and cluster/*.sh: where the toolchain lives and
# which binaries each part provides. Sourced, never run.
# shellcheck shell=bash
_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=toolchain/versions.env
. "$_lib_dir/versions.env"
TC=${MULTUS_TOOLCHAIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/multus-cni/toolchain}

say() { printf '[%s] %s\n' "${SAY_PREFIX:-toolchain}" "$*" >&2; }
fail() { say "$*"; exit 1; }

# The files each part puts in the cache, relative to $TC.
parts_of() {
  case $1 in
    pulumi) echo bin/pulumi bin/pulumi-resource-pulumi-python ;;
    python_host) echo bin/pulumi-language-python lib/language_host.py lib/langhost.py lib/sdk_stubs.py lib/pulumi-language-python-exec python-host/bin/python ;;
    provider) echo "pulumi-home/plugins/resource-kubernetes-v$KUBERNETES_PROVIDER_VERSION/pulumi-resource-kubernetes" ;;
    kube) echo bin/kube-apiserver bin/kube-controller-manager bin/kube-scheduler bin/kubectl bin/kubelet ;;
    etcd) echo bin/etcd ;;
    kwok) echo bin/kwok bin/kwokctl ;;
    multus) echo bin/multus bin/thin_entrypoint bin/install_multus bin/passthru bin/multus-daemon bin/multus-shim ;;
    multus_old) echo "bin/multus-$MULTUS_V3_VERSION" "bin/multus-$MULTUS_PREVIOUS_VERSION" ;;
    whereabouts) echo bin/whereabouts bin/ip-control-loop ;;
    cni_plugins) echo bin/cni/macvlan bin/cni/ipvlan bin/cni/host-local bin/cni/bridge bin/cni/static bin/cni/tuning ;;
    yaml_host) echo bin/pulumi-language-yaml ;;
    nodejs_host) echo bin/pulumi-language-nodejs bin/pulumi-nodejs-codegen lib/nodejs_host.py lib/langhost.py ;;
    node) echo bin/node bin/npm bin/npx node/bin/node node/lib/node_modules/npm/bin/npm-cli.js ;;
  esac
}
present() { local f; for f in $(parts_of "$1"); do [ -e "$TC/$f" ] || return 1; done; }

# A tool the user already has at the pinned version is used as it is (checked by its own --version).
on_path_at_pin() {
  local out
  case $1 in
    pulumi) out=$(pulumi version 2>/dev/null) && [ "$out" = "v$PULUMI_VERSION" ] ;;
    etcd) out=$(etcd --version 2>/dev/null) && grep -qx "etcd Version: ${ETCD_VERSION#v}" <<<"$out" ;;
    *) return 1 ;;
  esac
}
# A part is usable when the cache has it or the user's PATH has it at the pinned version.
usable() { present "$1" || on_path_at_pin "$1"; }
# The path of one binary: the cache's, else the one on PATH (a part used as the user has it).
binary() { if [ -x "$TC/bin/$1" ]; then echo "$TC/bin/$1"; else command -v "$1"; fi; }
