#!/usr/bin/env bash
# Installs everything punktfunk needs to build, run and test on Debian 12.
# Cheap when nothing is missing; safe to run every time (CI does).
set -euo pipefail

APT_PACKAGES=(
  # toolchain helpers for -sys crates
  build-essential pkg-config clang llvm libclang-dev cmake m4 make
  # eBPF programs (clang -target bpf) and libxdp/libbpf (xsk-rs builds them)
  libelf-dev zlib1g-dev linux-libc-dev libbpf-dev
  # network namespaces and veth pairs for the datapath tests
  iproute2 ethtool
  # media: FFmpeg 5.1 development files, ffmpeg/ffprobe for checking streams, Opus
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libavfilter-dev libavdevice-dev ffmpeg libopus-dev
  # capture/input test targets: Xvfb + XTest, PulseAudio null sink
  xvfb x11-utils x11-xserver-utils xdotool libx11-dev libxext-dev libxtst-dev libxrandr-dev
  pulseaudio pulseaudio-utils libpulse-dev sox
  # GameStream nvhttp interop test: an OpenSSL-made client certificate, curl as HTTPS client
  openssl curl
)

need_sudo() { if [ "$(id -u)" -ne 0 ]; then echo sudo; fi; }
SUDO=$(need_sudo)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust: a rustup toolchain of at least the workspace's rust-version.
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: no Rust toolchain found; installing rustup (needs access to the Rust toolchain server)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
need=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' "$(dirname "$0")/../Cargo.toml")
have=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
  echo "setup: rustc $have is older than the required $need" >&2
  exit 1
fi
for comp in rustfmt clippy; do
  if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$comp" || { echo "setup: cannot add $comp" >&2; exit 1; }
  fi
done

# AF_XDP, glommio and io_uring need locked memory.
ulimit -l unlimited 2>/dev/null || ulimit -l 65536 2>/dev/null || true
echo "setup: ok (rustc $have)"
