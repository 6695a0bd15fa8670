#!/usr/bin/env bash
# `make -s toolchain-env`: the export lines that make the built toolchain usable from any shell:
#   eval "$(make -s toolchain-env)" && pulumi version
set -euo pipefail
# shellcheck source=toolchain/lib.sh
. "$(dirname "$0")/lib.sh"
q() { printf '%q' "$1"; }
echo "export PATH=$(q "$TC/bin"):\"\$PATH\""
# The provider is installed as a plugin under this PULUMI_HOME; nothing is ever downloaded.
echo "export PULUMI_HOME=$(q "$TC/pulumi-home")"
echo "export PULUMI_SKIP_UPDATE_CHECK=1"
echo "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=1"
echo "export KWOK_KUBE_VERSION=$(q "$KUBE_VERSION")"
# npm (the Node.js language host's installs) keeps its cache in the toolchain's and reuses what it holds.
echo "export npm_config_cache=$(q "$TC/npm-cache")"
echo "export npm_config_prefer_offline=true"
