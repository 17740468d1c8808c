#!/usr/bin/env bash
# The main job, end to end on a fresh Debian machine: install what coracle
# needs, build it, make a busybox image from the host's busybox, serve it
# from a registry on loopback, then pull and run a real container, as root
# and as an unprivileged user (rootless). Run as root: sudo contrib/demo.sh
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (sudo contrib/demo.sh)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

for d in "${CARGO_HOME:-}/bin" "$HOME/.cargo/bin" /root/.cargo/bin; do
  if [ -x "$d/cargo" ]; then PATH="$d:$PATH"; break; fi
done
need=""
# libseccomp-dev and pkg-config: the build links libseccomp (seccomp profiles)
for p in uidmap busybox-static docker-registry skopeo curl libseccomp-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then apt-get update -q && apt-get install -y -q --no-install-recommends $need; fi

DEMO_USER=${DEMO_USER:-cotest}
id "$DEMO_USER" >/dev/null 2>&1 || useradd -m -s /bin/sh "$DEMO_USER"
grep -q "^$DEMO_USER:" /etc/subuid || echo "$DEMO_USER:200000:65536" >> /etc/subuid
grep -q "^$DEMO_USER:" /etc/subgid || echo "$DEMO_USER:200000:65536" >> /etc/subgid
DEMO_UID=$(id -u "$DEMO_USER")
install -d -m 0755 /run/user
install -d -m 0700 -o "$DEMO_USER" -g "$DEMO_USER" "/run/user/$DEMO_UID"

cargo build --release
work=$(mktemp -d /tmp/coracle-demo.XXXXXX)
chmod 755 "$work"
install -m 0755 target/release/coracle "$work/coracle"
trap 'kill $registry 2>/dev/null; rm -rf "$work"' EXIT

contrib/busybox-image.sh "$work/image"
port=$(shuf -i 30000-60000 -n 1)
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
image=127.0.0.1:$port/demo/busybox:latest
skopeo copy -q --dest-tls-verify=false "oci:$work/image:latest" "docker://$image"

echo "== as root"
"$work/coracle" --root "$work/root-store" --runroot "$work/root-run" run --rm "$image" \
  sh -c 'echo "hello from $(hostname), uid $(id -u), in $(cat /proc/1/comm)"'
echo "== rootless, as $DEMO_USER"
install -d -m 0700 -o "$DEMO_USER" "$work/home"
runuser -u "$DEMO_USER" -- env -i HOME="$work/home" USER="$DEMO_USER" PATH=/usr/bin:/bin \
  XDG_RUNTIME_DIR="/run/user/$DEMO_UID" "$work/coracle" run --rm "$image" \
  sh -c 'echo "hello from $(hostname), uid $(id -u) inside"; cat /proc/self/uid_map'
