#!/bin/sh
# Provisions WebGPU on a Debian machine without a GPU: Mesa's CPU Vulkan driver (lavapipe)
# for Node (Dawn), and with --chromium Debian's Chromium for the browser tests.
# Debian 12's own Mesa (22.3) is refused by Dawn, so on bookworm the driver comes from
# bookworm-backports (Mesa 25), whose entry reuses the machine's own Debian mirror.
# Idempotent; needs root (or sudo). Usage: sh scripts/setup-webgpu.sh [--chromium]
set -eu

want_chromium=0
for arg in "$@"; do
  case "$arg" in
    --chromium) want_chromium=1 ;;
    *) echo "usage: $0 [--chromium]" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo sh "$0" "$@"; fi
  echo "setup-webgpu: run as root: sudo sh $0 $*" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-webgpu: no apt-get: install your system's Vulkan loader and Mesa Vulkan drivers (Mesa >= 24) by hand" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive   # no prompts (CI has no standard input)

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
mesa_major() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed 's/^[0-9]*://; s/\..*//'; }
updated=0
apt_update() { [ "$updated" = 1 ] || { apt-get update -q; updated=1; }; }

have=$(mesa_major || true)
if [ -z "$have" ] || [ "$have" -lt 24 ] || ! dpkg-query -W libvulkan1 >/dev/null 2>&1; then
  if [ "$codename" = "bookworm" ]; then
    list=/etc/apt/sources.list.d/bookworm-backports.sources
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        # First stanza of the machine's own sources, with the suite changed.
        awk 'BEGIN{RS="";ORS="\n\n"} NR==1{sub(/Suites:[^\n]*/,"Suites: bookworm-backports"); print}' \
          /etc/apt/sources.list.d/debian.sources > "$list"
      else
        mirror=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)
        echo "deb ${mirror} bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
      fi
    fi
    apt_update
    apt-get install -y -q libvulkan1
    apt-get install -y -q -t bookworm-backports mesa-vulkan-drivers
  else
    apt_update
    apt-get install -y -q libvulkan1 mesa-vulkan-drivers
  fi
fi
echo "setup-webgpu: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"

if [ "$want_chromium" = 1 ] && ! [ -x /usr/bin/chromium ]; then
  apt_update
  apt-get install -y -q chromium
fi
[ "$want_chromium" = 1 ] && echo "setup-webgpu: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium missing')"
exit 0
