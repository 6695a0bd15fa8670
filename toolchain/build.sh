#!/usr/bin/env bash
# `make toolchain`: build the live toolchain (Pulumi CLI, Kubernetes provider, control plane, kwok,
# Multus) from the Go module proxy into a cache outside the checkout, and reuse what is there.
#   toolchain/build.sh [NAME...]    NAME is one of: pulumi python_host provider kube etcd kwok multus
#                                   multus_old whereabouts cni_plugins yaml_host node nodejs_host (default: all)
# A binary is rebuilt only when its pinned version (toolchain/versions.env) or its recipe changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=toolchain/lib.sh
. "$here/lib.sh"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw GOPATH="$TC/go" GOCACHE="$TC/go/cache"
mkdir -p "$TC/bin" "$TC/src" "$TC/stamps" "$TC/logs"
command -v go >/dev/null || fail "Go is not installed: the toolchain is built with 'go build' (Go >= 1.26)."

# One wrapper module per product, so that minimal version selection never mixes their pins.
wrapper() {  # wrapper NAME -> cd into a fresh module directory
  rm -rf "$TC/src/$1" && mkdir -p "$TC/src/$1" && cd "$TC/src/$1" && go mod init "local/$1" >/dev/null 2>&1
}
moddir() { go list -m -f '{{.Dir}}' "$1"; }

build_pulumi() {  # the CLI; pkg/go.mod replaces clipboard with a fork: a wrapper must copy that replace
  wrapper pulumi
  go mod edit -replace=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
  go get "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$PULUMI_VERSION"
  # goreleaser (pulumi/.goreleaser.yml): ldflags -X ...version.Version=v{{version}}, tags osusergo,grpcnotrace
  go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$TC/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  # Shipped beside the CLI (scripts/prep-for-goreleaser.sh): the dynamic-provider launcher.
  install -m755 "$(moddir github.com/pulumi/pulumi/sdk/v3)/python/dist/pulumi-resource-pulumi-python" "$TC/bin/"
}

build_python_host() {  # no Go module serves the Python language host: see toolchain/hosts/language_host.py
  local venv="$TC/python-host" sdk
  if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('pulumi') != '$PULUMI_VERSION')"; then
    rm -rf "$venv" && python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "pulumi==$PULUMI_VERSION"
  fi
  mkdir -p "$TC/lib"
  wrapper python-host
  go mod download "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  sdk=$(moddir "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION")
  # The exec script the Go host runs programs with, from the SDK at the same version.
  install -m644 "$sdk/python/cmd/pulumi-language-python-exec" "$here/hosts/language_host.py" "$here/hosts/langhost.py" \
    "$here/hosts/sdk_stubs.py" "$TC/lib/"
  printf '#!/bin/sh\nPULUMI_LANGUAGE_HOST_VERSION=%s exec "%s" -u "%s" "$@"\n' \
    "$PULUMI_VERSION" "$venv/bin/python" "$TC/lib/language_host.py" >"$TC/bin/pulumi-language-python"
  chmod 755 "$TC/bin/pulumi-language-python"
}

build_provider() {  # schema-embed.json is generated (gitignored upstream), so the cmd is built from a copy
  wrapper provider
  local mod=github.com/pulumi/pulumi-kubernetes
  # Upstream replaces sdk/v4 with ../sdk; its release tag sdk/v4.X (sdk/go of the same release) stands in.
  go mod edit -replace="$mod/sdk/v4=$mod/sdk/v4@v$KUBERNETES_PROVIDER_VERSION"
  go get "$mod/provider/v4@$KUBERNETES_PROVIDER_MODULE_VERSION"
  cp -r "$(moddir "$mod/provider/v4")/cmd" . && chmod -R u+w cmd
  go mod tidy -e >/dev/null 2>&1 || true   # generate.go is `//go:build ignore`: tidy first fills go.sum
  (cd cmd/pulumi-resource-kubernetes && VERSION="$KUBERNETES_PROVIDER_VERSION" go run ./generate.go)
  go mod tidy
  # Where the engine looks for plugins: $PULUMI_HOME/plugins/<kind>-<name>-v<version>/ (no .partial).
  local bin="$TC/pulumi-home/plugins/resource-kubernetes-v$KUBERNETES_PROVIDER_VERSION"
  mkdir -p "$bin"
  go build -trimpath \
    -ldflags "-s -w -X $mod/provider/v4/pkg/version.Version=v$KUBERNETES_PROVIDER_VERSION" \
    -o "$bin/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
  rm -f "$bin.partial" "$bin.lock"
}

build_kube() {  # k8s.io/kubernetes requires its staging modules at v0.0.0 with local replaces
  wrapper kube
  local kv=$KUBE_VERSION sv=v0${KUBE_VERSION#v1} gomod minor
  gomod=$(go mod download -json "k8s.io/kubernetes@$kv" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
  python3 "$here/kube_replaces.py" "$gomod" "$sv" | xargs go mod edit
  # The kubelet runs the local cluster's real node (cluster/node.sh).
  local cmds="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet"
  # shellcheck disable=SC2086 # always pin: a bare `go get pkg` means @upgrade
  go get $(printf '%s@'"$kv"' ' $cmds)
  minor=${kv#v1.}; minor=${minor%%.*}
  # hack/lib/version.sh: without these /version reports v0.0.0 and kwokctl picks the wrong flags.
  local ld="-s -w" pkg date; date=$(date -u +%FT%TZ)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$kv -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  # shellcheck disable=SC2086
  go build -trimpath -ldflags "$ld" -o "$TC/bin/" $cmds
}

build_etcd() {  # server/go.mod only replaces its sibling modules, which are required at the same tag
  wrapper etcd
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$TC/bin/etcd" go.etcd.io/etcd/server/v3
}

build_kwok() {  # no replaces upstream: go install works as it is
  GOBIN="$TC/bin" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
}

build_multus() {  # the thin plugin (cmd/multus), its DaemonSet's cmd/thin_entrypoint and cmd/install_multus (the
  # init container; all three go into the real node's image), the thick flavor's cmd/multus-daemon + cmd/multus-shim;
  # version vars as upstream's hack/build-go.sh sets them.
  # `go install mod@v` asks the proxy for the module's version list, which it refuses: use a wrapper.
  local m=gopkg.in/k8snetworkplumbingwg/multus-cni.v4
  wrapper multus
  go get "$m/cmd/multus@$MULTUS_VERSION" "$m/cmd/thin_entrypoint@$MULTUS_VERSION" "$m/cmd/install_multus@$MULTUS_VERSION" "$m/cmd/passthru-cni@$MULTUS_VERSION" \
    "$m/cmd/multus-daemon@$MULTUS_VERSION" "$m/cmd/multus-shim@$MULTUS_VERSION"
  go build -trimpath \
    -ldflags "-s -w -X $m/pkg/multus.version=$MULTUS_VERSION -X $m/pkg/multus.releaseStatus=released" \
    -o "$TC/bin/" "$m/cmd/multus" "$m/cmd/thin_entrypoint" "$m/cmd/install_multus" "$m/cmd/multus-daemon" "$m/cmd/multus-shim"
  # install_multus also copies the passthru plugin (cmd/install_multus/main.go), named as hack/build-go.sh names it.
  go build -trimpath -ldflags "-s -w" -o "$TC/bin/passthru" "$m/cmd/passthru-cni"
}

build_multus_old() {  # the thin plugin (only) of the releases users upgrade from, as multus-<version>, each
  # from its own module version in a wrapper of its own (its go.mod's pins, never MULTUS_VERSION's), with
  # the version vars its hack/build-go.sh sets (the commit: the tag's, as the proxy reports it).
  local v3=gopkg.in/k8snetworkplumbingwg/multus-cni.v3 v4=gopkg.in/k8snetworkplumbingwg/multus-cni.v4 out info
  origin() {  # origin MOD@VER -> "<its go.mod file> <its commit>"
    go mod download -json "$1" | python3 -c 'import json,sys;d=json.load(sys.stdin);print(d["GoMod"],d["Origin"]["Hash"])'
  }
  # v3.9.3: package main is cmd/; its go.mod replaces every k8s.io/* module with v0.20.10 (and requires
  # k8s.io/kubelet at v0.0.0): replaces apply in the main module only, so the wrapper copies them.
  wrapper "multus-$MULTUS_V3_VERSION"
  out=$(origin "$v3@$MULTUS_V3_VERSION"); read -r -a info <<<"$out"
  python3 "$here/kube_replaces.py" "${info[0]}" unused | xargs go mod edit
  go get "$v3/cmd@$MULTUS_V3_VERSION"
  go build -trimpath -tags no_openssl \
    -ldflags "-s -w -X $v3/pkg/multus.version=$MULTUS_V3_VERSION -X $v3/pkg/multus.commit=${info[1]}" \
    -o "$TC/bin/multus-$MULTUS_V3_VERSION" "$v3/cmd"
  # v4.x: cmd/multus; no replaces upstream. RELEASE_STATUS is ",released" for a tagged build.
  wrapper "multus-$MULTUS_PREVIOUS_VERSION"
  out=$(origin "$v4@$MULTUS_PREVIOUS_VERSION"); read -r -a info <<<"$out"
  go get "$v4/cmd/multus@$MULTUS_PREVIOUS_VERSION"
  go build -trimpath -ldflags "-s -w -X $v4/pkg/multus.version=$MULTUS_PREVIOUS_VERSION -X $v4/pkg/multus.commit=${info[1]} \
    -X $v4/pkg/multus.gitTreeState=clean -X $v4/pkg/multus.releaseStatus=,released" \
    -o "$TC/bin/multus-$MULTUS_PREVIOUS_VERSION" "$v4/cmd/multus"
}

build_whereabouts() {  # the IPAM plugin (package main in cmd/) and the DaemonSet's ip-control-loop
  # (cmd/controlloop), with the version vars upstream's hack/build-go.sh sets; its go.mod has no
  # replaces. A wrapper, as for multus. The real node's whereabouts image holds both (cluster/images.py).
  local m=github.com/k8snetworkplumbingwg/whereabouts
  wrapper whereabouts
  go get "$m/cmd@$WHEREABOUTS_VERSION" "$m/cmd/controlloop@$WHEREABOUTS_VERSION"
  local flags="-s -w -X $m/pkg/version.Version=$WHEREABOUTS_VERSION -X $m/pkg/version.ReleaseStatus=released"
  go build -trimpath -ldflags "$flags" -o "$TC/bin/whereabouts" "$m/cmd"
  go build -trimpath -ldflags "$flags" -o "$TC/bin/ip-control-loop" "$m/cmd/controlloop"
}

build_cni_plugins() {  # the reference plugins, for the real node's cni-plugins image: what upstream's
  # build_linux.sh builds (every directory of plugins/{meta,main,ipam} but windows) with the version
  # its release.sh stamps (pkg/utils/buildversion); its go.mod has no replaces.
  local m=github.com/containernetworking/plugins d
  wrapper cni-plugins
  go get "$m/plugins/meta/...@$CNI_PLUGINS_VERSION" "$m/plugins/main/...@$CNI_PLUGINS_VERSION" \
    "$m/plugins/ipam/...@$CNI_PLUGINS_VERSION"
  mkdir -p "$TC/bin/cni"
  # plugins/<kind>/<name> only: their subpackages (host-local's backend, ...) are libraries.
  for d in $(go list "$m/plugins/meta/..." "$m/plugins/main/..." "$m/plugins/ipam/..." | sed "s|^$m/||" \
             | awk -F/ 'NF == 3 && $3 != "windows"'); do
    go build -trimpath -ldflags "-s -w -X $m/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
      -o "$TC/bin/cni/${d##*/}" "$m/$d"
  done
}

build_yaml_host() {  # the Pulumi YAML language host, with the module's own go.mod pins (no replaces upstream)
  local m=github.com/pulumi/pulumi-yaml
  wrapper yaml-host
  go get "$m/cmd/pulumi-language-yaml@$YAML_HOST_VERSION"
  # upstream's Makefile: -X .../pkg/version.Version
  go build -trimpath -ldflags "-s -w -X $m/pkg/version.Version=$YAML_HOST_VERSION" \
    -o "$TC/bin/pulumi-language-yaml" "$m/cmd/pulumi-language-yaml"
}

node_arch() {  # the npm registry's name for this machine's Node.js build
  case $(uname -m) in x86_64) echo x64 ;; aarch64 | arm64) echo arm64 ;; *) return 1 ;; esac
}

build_node() {  # Node.js and npm from their npm packages (bin/node as the official release ships it);
  # any npm fetches them once (apt's npm on Debian 12), then this one serves the TypeScript programs.
  local arch dir="$TC/node" tmp npm tool
  arch=$(node_arch) || { echo "no node-linux package for $(uname -m)"; return 1; }
  npm=$(PATH=${PATH//"$TC/bin:"/} command -v npm) || { echo "npm is needed once to fetch Node.js: apt-get install npm"; return 1; }
  tmp=$(mktemp -d)
  (cd "$tmp" && "$npm" pack --silent --cache "$TC/npm-cache" "node-linux-$arch@$NODE_VERSION" "npm@$NPM_VERSION")
  rm -rf "$dir" && mkdir -p "$dir/lib/node_modules/npm"
  tar -xzf "$tmp/node-linux-$arch-$NODE_VERSION.tgz" -C "$dir" --strip-components=1 package/bin package/LICENSE
  tar -xzf "$tmp/npm-$NPM_VERSION.tgz" -C "$dir/lib/node_modules/npm" --strip-components=1
  rm -rf "$tmp"
  ln -sfn ../node/bin/node "$TC/bin/node"
  for tool in npm npx; do  # npm's own launchers, bound to this node whatever node PATH finds first
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$dir/bin/node" "$dir/lib/node_modules/npm/bin/$tool-cli.js" >"$TC/bin/$tool"
    chmod 755 "$TC/bin/$tool"
  done
}

build_nodejs_host() {  # no Go module serves the Node.js language host: see toolchain/hosts/nodejs_host.py. Its
  # code generation is Pulumi's own (pkg/v3/codegen/nodejs at the CLI's version), in toolchain/hosts/nodejs_codegen.
  [ -x "$TC/python-host/bin/python" ] || { echo "the host runs in the python_host part's virtualenv: build python_host first"; return 1; }
  wrapper nodejs-codegen
  go mod edit -replace=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
  cp "$here/hosts/nodejs_codegen/main.go" .
  go get "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION"
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$TC/bin/pulumi-nodejs-codegen" .
  mkdir -p "$TC/lib"
  install -m644 "$here/hosts/nodejs_host.py" "$here/hosts/langhost.py" "$TC/lib/"
  # The CLI finds a language host as pulumi-language-NAME on PATH; this one runs in the Python host's venv.
  printf '#!/bin/sh\nPULUMI_LANGUAGE_HOST_VERSION=%s PULUMI_NODEJS_CODEGEN="%s" exec "%s" -u "%s" "$@"\n' \
    "$PULUMI_VERSION" "$TC/bin/pulumi-nodejs-codegen" "$TC/python-host/bin/python" "$TC/lib/nodejs_host.py" \
    >"$TC/bin/pulumi-language-nodejs"
  chmod 755 "$TC/bin/pulumi-language-nodejs"
}

# What each step builds, for the progress line and for "already on PATH at the pinned version".
declare -A RECIPE=(
  [pulumi]="github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION"
  [python_host]="pulumi==$PULUMI_VERSION (Python language host, toolchain/hosts/language_host.py)"
  [provider]="github.com/pulumi/pulumi-kubernetes/provider/v4@$KUBERNETES_PROVIDER_MODULE_VERSION (v$KUBERNETES_PROVIDER_VERSION)"
  [kube]="k8s.io/kubernetes@$KUBE_VERSION"
  [etcd]="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  [kwok]="sigs.k8s.io/kwok@$KWOK_VERSION"
  [multus]="gopkg.in/k8snetworkplumbingwg/multus-cni.v4@$MULTUS_VERSION"
  [multus_old]="gopkg.in/k8snetworkplumbingwg/multus-cni.v3@$MULTUS_V3_VERSION gopkg.in/k8snetworkplumbingwg/multus-cni.v4@$MULTUS_PREVIOUS_VERSION (thin plugin only)"
  [whereabouts]="github.com/k8snetworkplumbingwg/whereabouts@$WHEREABOUTS_VERSION"
  [cni_plugins]="github.com/containernetworking/plugins@$CNI_PLUGINS_VERSION (the real node's reference plugins image)"
  [yaml_host]="github.com/pulumi/pulumi-yaml@$YAML_HOST_VERSION (Pulumi YAML language host)"
  [nodejs_host]="github.com/pulumi/pulumi/pkg/v3/codegen/nodejs@v$PULUMI_VERSION (Node.js language host, toolchain/hosts/nodejs_host.py)"
  [node]="node-linux-$(node_arch || uname -m)@$NODE_VERSION npm@$NPM_VERSION (Node.js for TypeScript programs)"
)

step() {  # step NAME: build unless the stamp says this exact recipe is built, or PATH has it
  local name=$1 stamp="$TC/stamps/$1" want start log
  want="${RECIPE[$name]} $(recipe_hash "$name")"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && present "$name"; then
    say "$name: cached (${RECIPE[$name]})"; return 0
  fi
  if on_path_at_pin "$name"; then say "$name: using $(command -v "$name") (${RECIPE[$name]})"; return 0; fi
  say "$name: building ${RECIPE[$name]} ..."
  start=$(date +%s) log="$TC/logs/$name.log"
  # errexit is off inside an `if` condition, subshells included: run the recipe outside one.
  set +e; (set -euo pipefail; "build_$name") >"$log" 2>&1; local rc=$?; set -e
  if [ $rc -ne 0 ] || ! present "$name"; then
    say "$name: FAILED after $(( $(date +%s) - start ))s building ${RECIPE[$name]}; last lines of $log:"
    tail -n 25 "$log" >&2
    exit 1
  fi
  echo "$want" >"$stamp"
  echo "$name" >>"$TC/logs/built-now"
  say "$name: built in $(( $(date +%s) - start ))s"
}

recipe_hash() {  # the recipe's body (and the host's source): editing one rebuilds that part only
  { declare -f "build_$1"; [ "$1" != python_host ] || cat "$here/hosts/language_host.py"
    [ "$1" != nodejs_host ] || cat "$here/hosts/nodejs_host.py" "$here/hosts/nodejs_codegen/main.go"
    case $1 in python_host | nodejs_host) cat "$here/hosts/langhost.py" ;; esac
    [ "$1" != python_host ] || cat "$here/hosts/sdk_stubs.py"; } | sha256sum | cut -c1-12
}

main() {
  names=("$@"); [ ${#names[@]} -gt 0 ] || names=(etcd kwok kube multus multus_old pulumi python_host provider whereabouts cni_plugins yaml_host node nodejs_host)
  total=$(date +%s)
  rm -f "$TC/logs/built-now"
  for n in "${names[@]}"; do
    [ -n "${RECIPE[$n]+x}" ] || fail "unknown toolchain part '$n' (one of: ${!RECIPE[*]})"
    (step "$n") || exit 1
  done
  # Go's build cache is most of the cache (13 of 20 GB after a full build) and serves only rebuilds:
  # dropped once something was built (docs/toolchain.md "Cost": what a rebuild then takes).
  # KEEP_GO_CACHE=1 keeps it, for work on the recipes.
  if [ -s "$TC/logs/built-now" ] && [ "${KEEP_GO_CACHE:-0}" != 1 ]; then
    say "dropping Go's build cache ($(du -sh "$GOCACHE" 2>/dev/null | cut -f1); KEEP_GO_CACHE=1 keeps it)"
    go clean -cache
  fi
  say "toolchain ready in $(( $(date +%s) - total ))s: $TC ($(du -sh "$TC/bin" "$TC/pulumi-home/plugins" 2>/dev/null | awk '{print $1}' | paste -sd+ -) binaries)"
}

# One line, so that bash has read the whole file before it builds anything.
main "$@"; exit
