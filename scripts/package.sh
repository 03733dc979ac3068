#!/usr/bin/env bash
# Builds Mailroom's installers for the machine it runs on and puts them in
# dist/:
#   Linux    mailroom_VERSION_amd64.deb, mailroom-VERSION-1.x86_64.rpm
#   Windows  Mailroom_VERSION_x64_en-US.msi (WiX), Mailroom_VERSION_x64-setup.exe (NSIS)
#   macOS    Mailroom_VERSION_universal.dmg, Mailroom_VERSION_universal.app.zip
#            (one app for Apple silicon and Intel)
# with the release profile and the Tauri CLI pinned in ui/package.json. No
# AppImage: Tauri's AppImage bundler downloads its tools while it builds.
# MAILROOM_PACKAGE_PROFILE=debug (Linux, for scripts/test.sh) bundles the
# debug build already made instead. Extra arguments go to `tauri build` (the release workflow passes a signing
# config with `--config FILE`). Signing secrets are read from the environment
# (APPLE_CERTIFICATE, APPLE_SIGNING_IDENTITY, APPLE_ID, ...); unset or empty
# means an unsigned build (on macOS, ad-hoc signed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=macos ;;
  MINGW* | MSYS* | CYGWIN*) os=windows ;;
  *) echo "package.sh: no installers for $(uname -s)" >&2; exit 1 ;;
esac
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ "$os" = linux ]; then
  ./scripts/setup.sh --package
elif [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  npm --prefix ui ci --no-audit --no-fund --loglevel=error
fi

# The Tauri CLI signs when these are set at all, and an empty secret in CI is
# still set: clear the empty ones so that a build without secrets is unsigned.
for name in APPLE_CERTIFICATE APPLE_CERTIFICATE_PASSWORD APPLE_SIGNING_IDENTITY APPLE_ID \
  APPLE_PASSWORD APPLE_TEAM_ID APPLE_API_ISSUER APPLE_API_KEY APPLE_API_KEY_PATH; do
  if [ -z "${!name:-}" ]; then unset "$name"; fi
done

target_args=()
if [ "$os" = macos ]; then
  rustup target add aarch64-apple-darwin x86_64-apple-darwin >/dev/null
  target_args=(--target universal-apple-darwin)
  # Without a certificate, an ad-hoc signature: Apple silicon runs no
  # unsigned code (Gatekeeper still asks, as for any unnotarised app).
  export APPLE_SIGNING_IDENTITY=${APPLE_SIGNING_IDENTITY:--}
fi

profile=${MAILROOM_PACKAGE_PROFILE:-release}
tauri=(node ../ui/node_modules/@tauri-apps/cli/tauri.js)
if [ "$profile" = debug ]; then
  # For scripts/test.sh: the debug binary it has just built and tested,
  # bundled as it is (`tauri bundle` compiles nothing), so that CI installs
  # and drives the app without a second, release build of every crate.
  [ "$os" = linux ] || { echo "package.sh: the debug profile is for Linux CI only" >&2; exit 1; }
  say "Bundling the debug build already in $CARGO_TARGET_DIR/debug (no compiling)"
  (cd src-tauri && "${tauri[@]}" bundle --debug --bundles deb,rpm "$@")
else
  say "Building the installers (release build; the UI is built first)"
  # From src-tauri/, so the CLI finds tauri.conf.json at once; the UI's build
  # command runs in ui/ (its cwd in tauri.conf.json is relative to this folder).
  (cd src-tauri && "${tauri[@]}" build "${target_args[@]}" "$@")
fi

target_dir=$CARGO_TARGET_DIR
if command -v cygpath >/dev/null; then target_dir=$(cygpath -u "$target_dir"); fi
bundle="$target_dir/$profile/bundle"
[ "$os" = macos ] && bundle="$target_dir/universal-apple-darwin/release/bundle"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)

rm -rf dist
mkdir -p dist
case "$os" in
  linux)
    # Debian's and RPM's own naming: the package name is lower case.
    cp "$bundle/deb/Mailroom_${version}_amd64.deb" "dist/mailroom_${version}_amd64.deb"
    cp "$bundle/rpm/Mailroom-${version}-1.x86_64.rpm" "dist/mailroom-${version}-1.x86_64.rpm"
    ;;
  windows)
    cp "$bundle"/msi/*.msi "$bundle"/nsis/*-setup.exe dist/
    ;;
  macos)
    cp "$bundle"/dmg/*.dmg dist/
    # An .app is a folder: zipped as Finder would, keeping its signature.
    ditto -c -k --keepParent "$bundle/macos/Mailroom.app" "dist/Mailroom_${version}_universal.app.zip"
    ;;
esac
say "Installers in dist/:"
ls -l dist
