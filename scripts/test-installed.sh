#!/usr/bin/env bash
# Mailroom tested as installed, not as built (scripts/test.sh runs this last):
#   1. builds the installers with scripts/package.sh (the release build);
#   2. checks the .rpm's metadata (rpm -qip) and the .deb's: its name, version
#      and description, and that it declares every library its binary links
#      (dpkg-shlibdeps on the binary inside it);
#   3. installs the .deb with apt-get, checks "Open with" is registered for
#      each file type, and drives the installed app, started from its desktop
#      entry's Exec line under Xvfb with an empty data folder, over WebDriver
#      (tests/tests/window.rs, the_installed_app_started_from_its_desktop_entry);
#   4. uninstalls it and checks nothing of it is left in /usr.
# It also holds the sizes: installers <= 10 MB, installed <= 20 MB, for the
# release build. With MAILROOM_PACKAGE_PROFILE=debug (scripts/test.sh, so CI
# stays within its time) it bundles the debug build already made and tested
# instead, and prints the sizes without holding them: they are the release
# profile's.
# Installs into this machine (root, or sudo): CI's is thrown away after the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { echo "test-installed: $*" >&2; exit 1; }
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
work=$(mktemp -d)
installed=
cleanup() {
  if [ -n "$installed" ]; then "${sudo[@]}" apt-get purge -y -qq mailroom >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

profile=${MAILROOM_PACKAGE_PROFILE:-release}
step "Installers (scripts/package.sh: $profile build, .deb and .rpm)"
./scripts/package.sh
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
deb="dist/mailroom_${version}_amd64.deb"
rpm="dist/mailroom-${version}-1.x86_64.rpm"
ls -l "$deb" "$rpm"

step "The .rpm's metadata (rpm -qip)"
rpm -qip "$rpm" | tee "$work/rpm-info"
for field in "Name        : mailroom" "Version     : $version" "License     : MIT OR Apache-2.0" \
  "Summary     : Bulk mail with nothing lost"; do
  grep -qF "$field" "$work/rpm-info" || fail "the .rpm's metadata lacks \"$field\""
done
grep -q '^URL *: https://' "$work/rpm-info" || fail "the .rpm names no homepage"
rpm -qlp "$rpm" > "$work/rpm-files"
for file in /usr/bin/mailroom-app /usr/share/applications/Mailroom.desktop \
  /usr/share/icons/hicolor/256x256/apps/mailroom-app.png; do
  grep -qx "$file" "$work/rpm-files" || fail "the .rpm does not install $file"
done
# Every library the binary links, required by soname as RPM systems name them.
rpm -qp --requires "$rpm" > "$work/rpm-requires"
mkdir -p "$work/rpm"
# rpm2cpio (4.18) exits 1 on the .rpm Tauri writes though it writes the whole
# payload (rpm -K finds its digests right): the extraction is what is checked.
rpm2cpio "$rpm" > "$work/rpm.cpio" || true
(cd "$work/rpm" && cpio -idm --quiet ./usr/bin/mailroom-app < "$work/rpm.cpio")
[ -x "$work/rpm/usr/bin/mailroom-app" ] || fail "the .rpm holds no /usr/bin/mailroom-app"
for soname in $(objdump -p "$work/rpm/usr/bin/mailroom-app" | awk '$1 == "NEEDED" {print $2}'); do
  grep -qxF "$soname()(64bit)" "$work/rpm-requires" || fail "the .rpm does not require $soname, which its binary links"
done

step "The .deb's metadata, and every library its binary links declared"
dpkg-deb --info "$deb" | tee "$work/deb-info"
[ "$(dpkg-deb --field "$deb" Package)" = mailroom ] || fail "the .deb's package is not named mailroom"
[ "$(dpkg-deb --field "$deb" Version)" = "$version" ] || fail "the .deb's version is not the workspace's ($version)"
dpkg-deb --extract "$deb" "$work/deb"
# dpkg-shlibdeps reads the libraries the binary links and maps them to the
# packages (and least versions) that provide them; it wants a debian/ folder.
mkdir -p "$work/shlibs/debian"
printf 'Source: mailroom\n\nPackage: mailroom\nArchitecture: any\n' > "$work/shlibs/debian/control"
needed=$(cd "$work/shlibs" && dpkg-shlibdeps -O "$work/deb/usr/bin/mailroom-app" 2>/dev/null | sed 's/^shlibs:Depends=//')
declared=$(dpkg-deb --field "$deb" Depends)
echo "the binary needs: $needed"
IFS=',' read -ra needs <<< "$needed"
for need in "${needs[@]}"; do
  name=$(echo "$need" | awk '{print $1}')
  least=$(echo "$need" | sed -n 's/.*(>= \(.*\)).*/\1/p')
  # The .deb's strongest claim on that package, if any.
  claims=$(echo "$declared" | tr ',' '\n' | awk -v n="$name" '$1 == n')
  [ -n "$claims" ] || fail "the .deb does not depend on $name, which its binary links"
  if [ -n "$least" ]; then
    ok=
    while read -r claim; do
      have=$(echo "$claim" | sed -n 's/.*(>= \(.*\)).*/\1/p')
      if [ -n "$have" ] && dpkg --compare-versions "$have" ge "$least"; then ok=1; fi
    done <<< "$claims"
    [ -n "$ok" ] || fail "the .deb asks for $claims but its binary needs $name (>= $least)"
  fi
done
desktop="$work/deb/usr/share/applications/Mailroom.desktop"
desktop-file-validate "$desktop" || fail "the desktop entry is not valid"
grep -q '^Exec=mailroom-app %F$' "$desktop" || fail "the desktop entry does not pass files to the app"
# Every file name the .deb installs, to look for after it is removed.
dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's#^\./#/#' | grep -v '/$' > "$work/deb-files"

step "Installing the .deb with apt-get"
installed=1
install() { DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "./$deb" >/dev/null; }
# A dependency not yet on the machine comes from the archive: with stale
# package lists, refresh them once and try again.
install || { "${sudo[@]}" apt-get update -qq && install; }
dpkg-query -W -f='${Status} ${Version}\n' mailroom
# Sizes (docs/BENCHMARKS.md): each installer within the 10 MB target; the
# installed files within 20 MB, which holds today's 19.5 MB (with the
# bounce scanner's IMAP client, the typed outcomes, Results, the
# suppression list, provider rules, schedules, the tray and several
# accounts per campaign) from growing unseen
# (the target, 15 MB, is not met: docs/BENCHMARKS.md says what is left).
installed_bytes=$(dpkg -L mailroom | while read -r f; do if [ -f "$f" ]; then stat -c %s "$f"; fi; done | awk '{s += $1} END {print s}')
echo "installed: $installed_bytes bytes; .deb $(stat -c %s "$deb") bytes, .rpm $(stat -c %s "$rpm") bytes"
if [ "$profile" = release ]; then
  [ "$installed_bytes" -le 20000000 ] || fail "installed, Mailroom takes $installed_bytes bytes, over 20 MB"
  for installer in "$deb" "$rpm"; do
    [ "$(stat -c %s "$installer")" -le 10000000 ] || fail "$installer is over 10 MB"
  done
else
  echo "(a $profile build: the size limits hold for the release build only)"
fi
# "Open with Mailroom": the desktop database lists it for each file type.
for mime in text/csv text/tab-separated-values text/plain application/vnd.ms-excel \
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet application/vnd.oasis.opendocument.spreadsheet; do
  grep -q "^$mime=.*Mailroom.desktop" /usr/share/applications/mimeinfo.cache || fail "Mailroom is not offered to open $mime files"
done

step "The installed app, started from its desktop entry (Xvfb, tauri-driver, WebKitWebDriver)"
MAILROOM_DESKTOP_ENTRY=/usr/share/applications/Mailroom.desktop \
  xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo test --workspace --features mailroom-e2e/window --test window -- --ignored --exact \
  the_installed_app_started_from_its_desktop_entry

step "Uninstalling: nothing of Mailroom is left in /usr"
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get purge -y -qq mailroom >/dev/null
installed=
if dpkg-query -W -f='${Status}' mailroom 2>/dev/null | grep -q installed; then fail "mailroom is still installed"; fi
while read -r file; do
  if [ -e "$file" ]; then fail "$file is left after uninstalling"; fi
done < "$work/deb-files"
left=$(find /usr -iname '*mailroom*' 2>/dev/null)
[ -z "$left" ] || fail "left in /usr after uninstalling: $left"
if grep -q 'Mailroom.desktop' /usr/share/applications/mimeinfo.cache 2>/dev/null; then
  fail "the desktop database still offers Mailroom"
fi
echo "nothing left"
