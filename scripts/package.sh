#!/usr/bin/env bash
# Builds the Debian packages into target/debian/:
#   qcall_VERSION_ARCH.deb          the server, its unit (enabled, started) and example config
#   qcall-kiosk_VERSION_ARCH.deb    the kiosk appliance (under cage), voice clips, example config
#   qcall-display_VERSION_ARCH.deb  the hall TV appliance (under cage), voice clips, example config
#
#   scripts/package.sh         release build, then the packages
#   scripts/package.sh --dev   packages of the debug binaries already built (what the tests use)
#   scripts/package.sh --tool  only install cargo-deb when missing
#
# The example configs are the repository's (config/qcall.toml, config/kiosk-east.toml,
# config/display-east.toml) with the installed paths: the database in /var/lib/qcall, the
# voice clips in /usr/share/qcall-{kiosk,display}/voice. The package metadata is in each
# crate's Cargo.toml ([package.metadata.deb]); cargo-deb is installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
fast=""
case "${1:-}" in
  --dev) profile=dev; fast="--fast" ;;
  --tool) ;;
  "") ;;
  *) echo "usage: $0 [--dev|--tool]" >&2; exit 2 ;;
esac
if ! cargo deb --version >/dev/null 2>&1; then
  echo "installing cargo-deb"
  cargo install --locked --quiet cargo-deb --version 3.8.0
fi
[ "${1:-}" = --tool ] && exit 0

stage=target/package
rm -rf "$stage"
mkdir -p "$stage"
sed -e 's|^db = .*|db = "/var/lib/qcall/qcall.db"|' \
    -e 's|^# SQLite database; the directory is created if missing.|# SQLite database (the package keeps it in /var/lib/qcall, owned by the qcall user).|' \
    config/qcall.toml > "$stage/qcall.toml"
sed -e 's|"\.\./assets/voice"|"/usr/share/qcall-kiosk/voice"|' \
    -e 's|--logo assets/logo.png|--logo /usr/share/qcall-kiosk/logo.png|' \
    config/kiosk-east.toml > "$stage/kiosk.toml"
sed -e 's|"\.\./assets/voice"|"/usr/share/qcall-display/voice"|' config/display-east.toml > "$stage/display.toml"
for f in qcall kiosk display; do
  if grep -n '\.\./' "$stage/$f.toml"; then
    echo "$stage/$f.toml: a path relative to the repository is left (above)" >&2
    exit 1
  fi
done

if [ "$profile" = release ]; then
  cargo build --release --locked -p qcall-server -p qcall-kiosk -p qcall-display
fi
mkdir -p target/debian
for p in qcall-server qcall-kiosk qcall-display; do
  cargo deb --no-build --profile "$profile" -p "$p" -o target/debian/ --quiet $fast
done
ls -l target/debian/*.deb
