#!/bin/sh
# An aarch64 Python 3.11 with edgeward's runtime dependencies, run under user-mode QEMU on an x86_64 Debian host:
# no binfmt registration, no chroot, nothing installed on the host. `make arm64-check` builds it in ROOT (once).
#   ROOT          where it goes (default .arm64)
#   QEMU_FLAVOR   backports: qemu 10.0 from bookworm-backports (default); bookworm: Debian 12's qemu 7.2, which
#                 passes the host's x86 /proc/cpuinfo through (onnxruntime >= 1.28 then crashes on import: its
#                 cpuinfo library finds no ARM cores and writes through a null pointer), so a fake ARM
#                 /proc/cpuinfo is put in the sysroot for it (with -L, the guest opens that one)
# The launcher ROOT/bin/python3 sets QEMU_CPU=neoverse-n1: qemu 7.2's default `max` CPU gives LiteRT int8 wrong
# answers (its SME emulation), a Cortex-A76-class CPU (a Raspberry Pi 5's) does not.
set -eu
ROOT=$(mkdir -p "${ROOT:-.arm64}" && cd "${ROOT:-.arm64}" && pwd)
QEMU_FLAVOR=${QEMU_FLAVOR:-backports}
HOST_PY=${HOST_PY:-python3}
case "$HOST_PY" in */*) HOST_PY=$(cd "$(dirname "$HOST_PY")" && pwd)/$(basename "$HOST_PY") ;; esac
PY_PKGS=${PY_PKGS:-"numpy onnxruntime opencv-python-headless ai-edge-litert sounddevice tqdm pytest pycocotools"}
mkdir -p "$ROOT/apt/lists/partial" "$ROOT/apt/cache" "$ROOT/debs/arm64" "$ROOT/sysroot" "$ROOT/bin" "$ROOT/wheels"

# 1. a private apt configuration (bookworm, its updates, security and backports; amd64 and arm64): apt downloads
#    and verifies the packages without touching the host's dpkg architectures
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$ROOT/apt/sources.list" <<SOURCES
deb [signed-by=$KEYRING] http://deb.debian.org/debian bookworm main
deb [signed-by=$KEYRING] http://deb.debian.org/debian bookworm-updates main
deb [signed-by=$KEYRING] http://deb.debian.org/debian-security bookworm-security main
deb [signed-by=$KEYRING] http://deb.debian.org/debian bookworm-backports main
SOURCES
APT="-q -o Dir::Etc::sourcelist=$ROOT/apt/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$ROOT/apt/lists
 -o Dir::Cache=$ROOT/apt/cache -o APT::Architectures=amd64,arm64 -o APT::Sandbox::User=root"
apt-get $APT update >/dev/null

# 2. the aarch64 emulator, taken out of the .deb (installing qemu-user-static registers binfmt on most hosts)
cd "$ROOT/debs"
rm -f qemu-user*.deb
if [ "$QEMU_FLAVOR" = bookworm ]; then
  apt-get $APT download qemu-user-static:amd64/bookworm >/dev/null
  dpkg-deb --fsys-tarfile qemu-user-static_*_amd64.deb | tar -x -O ./usr/bin/qemu-aarch64-static > "$ROOT/bin/qemu-aarch64"
else
  apt-get $APT download qemu-user:amd64/bookworm-backports >/dev/null
  dpkg-deb --fsys-tarfile qemu-user_*_amd64.deb | tar -x -O ./usr/bin/qemu-aarch64 > "$ROOT/bin/qemu-aarch64"
fi
chmod +x "$ROOT/bin/qemu-aarch64"
rm -f qemu-user*.deb

# 3. the sysroot: Debian 12's arm64 Python 3.11 and the libraries the wheels need (PortAudio for sounddevice)
PKGS="python3.11 python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 gcc-12-base libgcc-s1 libstdc++6
 libgomp1 libexpat1 zlib1g libffi8 libssl3 libbz2-1.0 liblzma5 libsqlite3-0 libncursesw6 libtinfo6 libreadline8 libuuid1
 libcrypt1 libdb5.3 libnsl2 libtirpc3 libgssapi-krb5-2 libkrb5-3 libkrb5support0 libk5crypto3 libcom-err2 libkeyutils1
 libportaudio2 libasound2 libjack-jackd2-0 libopus0 libsamplerate0"
cd "$ROOT/debs/arm64"
apt-get $APT download $(for p in $PKGS; do printf '%s:arm64 ' "$p"; done) media-types >/dev/null
for deb in *.deb; do dpkg-deb -x "$deb" "$ROOT/sysroot"; done
ln -sf python3.11 "$ROOT/sysroot/usr/bin/python3"
if [ "$QEMU_FLAVOR" = bookworm ]; then  # one Neoverse-N1 core, as the kernel of an arm64 board would list it
  mkdir -p "$ROOT/sysroot/proc"
  printf 'processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n' \
    > "$ROOT/sysroot/proc/cpuinfo"
fi

# 4. the launcher: sys.executable points back at it, so subprocesses of the emulated Python are emulated too
cat > "$ROOT/bin/python3" <<LAUNCHER
#!/bin/sh
: "\${QEMU_CPU:=neoverse-n1}"; export QEMU_CPU
exec "$ROOT/bin/qemu-aarch64" -L "$ROOT/sysroot" -0 "$ROOT/bin/python3" "$ROOT/sysroot/usr/bin/python3.11" "\$@"
LAUNCHER
chmod +x "$ROOT/bin/python3"

# 5. aarch64 cp311 wheels, installed by the host's pip into ROOT/site (there is no pip inside)
PLATFORMS="--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none
 --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 --platform manylinux_2_27_aarch64
 --platform manylinux_2_28_aarch64"
"$HOST_PY" -m pip download -q --no-cache-dir $PLATFORMS -d "$ROOT/wheels" $PY_PKGS
rm -rf "$ROOT/site"
"$HOST_PY" -m pip install -q --no-index --find-links "$ROOT/wheels" $PLATFORMS --target "$ROOT/site" $PY_PKGS
echo "aarch64 Python: PYTHONPATH=$ROOT/site $ROOT/bin/python3"
