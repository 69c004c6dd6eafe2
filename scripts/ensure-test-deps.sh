#!/usr/bin/env bash
# Makes sure the real components the tests use are on this machine: Debian's ZooKeeper server
# (tests start it themselves on a free loopback port), Java to run it, python3 (loopback black
# hole helper) and haproxy (the benchmark's smoke test compares against it). Installs with apt when running as root; otherwise says exactly what to run.
set -euo pipefail

missing=()
[[ -f /usr/share/java/zookeeper.jar ]] || missing+=(zookeeper)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
[[ -x /usr/sbin/haproxy || -x /usr/bin/haproxy ]] || missing+=(haproxy)
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing test dependencies: ${missing[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  exit 0
fi
echo "missing test dependencies: ${missing[*]}" >&2
echo "install them with: sudo apt-get install -y ${missing[*]}   (Debian/Ubuntu)" >&2
exit 1
