#!/bin/sh
# Install coracle and its systemd generators (Quadlet unit files:
# .container, .volume, .image, .build).
#
#   sudo contrib/install.sh [path/to/coracle]    (default: target/release/coracle)
#   env: PREFIX (default /usr/local): the binary goes to $PREFIX/bin, the
#        generator links to $PREFIX/lib/systemd/{system,user}-generators
#        (systemd reads both /usr/local/lib and /usr/lib; PREFIX=/usr for a
#        distribution's layout). DESTDIR for staging.
set -eu
BIN=${1:-target/release/coracle}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
[ -x "$BIN" ] || { echo "contrib/install.sh: no coracle binary at $BIN (cargo build --release)" >&2; exit 1; }
install -d -m 0755 "$DESTDIR$PREFIX/bin" \
    "$DESTDIR$PREFIX/lib/systemd/system-generators" \
    "$DESTDIR$PREFIX/lib/systemd/user-generators"
install -m 0755 "$BIN" "$DESTDIR$PREFIX/bin/coracle"
# systemd runs generators by name: the binary acts as one when called so
ln -sf "$PREFIX/bin/coracle" "$DESTDIR$PREFIX/lib/systemd/system-generators/coracle-system-generator"
ln -sf "$PREFIX/bin/coracle" "$DESTDIR$PREFIX/lib/systemd/user-generators/coracle-user-generator"
# the unit that brings back containers with a restart policy after a reboot
# (not enabled: `systemctl [--user] enable coracle-restart.service`)
HERE=$(cd "$(dirname "$0")" && pwd)
for d in system user; do
    install -d -m 0755 "$DESTDIR$PREFIX/lib/systemd/$d"
    sed "s|/usr/local/bin/coracle|$PREFIX/bin/coracle|" "$HERE/systemd/coracle-restart.service" \
        > "$DESTDIR$PREFIX/lib/systemd/$d/coracle-restart.service"
done
echo "installed $PREFIX/bin/coracle, its generators and coracle-restart.service; run: systemctl daemon-reload"
