#!/usr/bin/env bash
# Prove the arm64 Lambda packages on an x86_64 machine: build them, then run their real handlers
# on one real job (provisioning/tests/provisioning_tests/package_smoke.py) in Debian's arm64
# CPython under qemu user-mode emulation.
#
# Debian has no CPython 3.12 for any architecture any more (see provisioning/README.md, "arm64"),
# so by default this proves the python3.13 arm64 build, a runtime the stack supports
# (`pythonVersion: "3.13"`); CI's arm64 job proves python3.12 natively.
#
# qemu-user-static and the arm64 interpreter (with the libraries it loads) come from the Debian
# archive this machine's apt uses, are unpacked with dpkg -x (nothing is installed) and kept in
# $ARM64_QEMU_CACHE (default ~/.cache/gen-ai-on-aws/arm64-qemu), so reruns only rebuild and run.
# Needs: uv; a host Python of the same version (bytecode; `uv python install 3.13`); apt lists
# for the host (run `apt-get update` once, as root, if `apt-get download` finds nothing).
#
# Usage: provisioning/scripts/arm64_qemu_check.sh    (env: PYTHON_VERSION, DEBIAN_SUITE,
#        DEBIAN_MIRROR, ARM64_QEMU_CACHE, ARM64_QEMU_BUILD)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.local/bin:$PATH"

PYTHON_VERSION="${PYTHON_VERSION:-3.13}"
DEBIAN_SUITE="${DEBIAN_SUITE:-trixie}" # the Debian release whose python3.X is wanted
CACHE="${ARM64_QEMU_CACHE:-$HOME/.cache/gen-ai-on-aws/arm64-qemu}"
SYSROOT="$CACHE/sysroot-python$PYTHON_VERSION"
BUILD="${ARM64_QEMU_BUILD:-$CACHE/build-python$PYTHON_VERSION}"
mkdir -p "$CACHE"

log() { printf '== %s\n' "$*" >&2; }

# The Debian archive apt already uses here (not its security suite).
debian_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' |
        awk '$2 !~ /-security$/ && $1 ~ /debian\/$/ { print $1; exit }'
}

find_qemu() {
    if command -v qemu-aarch64-static >/dev/null 2>&1; then
        command -v qemu-aarch64-static
        return
    fi
    local unpacked="$CACHE/qemu/usr/bin/qemu-aarch64-static"
    if [ ! -x "$unpacked" ]; then
        log "fetching qemu-user-static (Debian, host architecture)"
        local downloads="$CACHE/downloads"
        rm -rf "$downloads" && mkdir -p "$downloads"
        (cd "$downloads" && apt-get -q -o APT::Sandbox::User="$(id -un)" download \
            qemu-user-static >&2) || {
            echo "apt-get download qemu-user-static failed: run 'apt-get update' as root" >&2
            exit 1
        }
        rm -rf "$CACHE/qemu" && dpkg -x "$downloads"/qemu-user-static_*.deb "$CACHE/qemu"
        rm -rf "$downloads"
    fi
    echo "$unpacked"
}

# An apt of its own (lists, cache, empty dpkg status) that sees only $DEBIAN_SUITE for arm64,
# so the host's apt configuration is never changed.
make_sysroot() {
    local marker="$SYSROOT/.complete"
    [ -f "$marker" ] && return
    local mirror root conf
    mirror="$(debian_mirror)"
    [ -n "$mirror" ] || { echo "no Debian archive in apt's sources; set DEBIAN_MIRROR" >&2; exit 1; }
    log "fetching python$PYTHON_VERSION for arm64 from Debian $DEBIAN_SUITE"
    root="$CACHE/apt-$DEBIAN_SUITE-arm64"
    rm -rf "$root" "$SYSROOT"
    mkdir -p "$root/etc/apt/apt.conf.d" "$root/etc/apt/preferences.d" \
        "$root/etc/apt/sources.list.d" "$root/var/lib/apt/lists/partial" \
        "$root/var/cache/apt/archives/partial" "$root/var/lib/dpkg"
    touch "$root/var/lib/dpkg/status"
    echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $DEBIAN_SUITE main" \
        >"$root/etc/apt/sources.list"
    conf="$root/apt.conf"
    cat >"$conf" <<EOF
Dir "$root/";
Dir::State::status "$root/var/lib/dpkg/status";
APT::Architecture "arm64";
APT::Architectures "arm64";
APT::Sandbox::User "$(id -un)";
EOF
    APT_CONFIG="$conf" apt-get -q update >&2
    if ! APT_CONFIG="$conf" apt-cache show "python$PYTHON_VERSION" >/dev/null 2>&1; then
        echo "Debian $DEBIAN_SUITE has no python$PYTHON_VERSION for arm64" >&2
        exit 1
    fi
    APT_CONFIG="$conf" apt-get -q install -y --download-only --no-install-recommends \
        "python$PYTHON_VERSION" >&2
    mkdir -p "$SYSROOT"
    for deb in "$root"/var/cache/apt/archives/*.deb; do
        dpkg -x "$deb" "$SYSROOT"
    done
    # Debian's merged /usr: the loader is looked up as /lib/ld-linux-aarch64.so.1.
    ln -sfn usr/lib "$SYSROOT/lib"
    ls "$root"/var/cache/apt/archives/*.deb | xargs -n1 basename >"$marker"
    rm -rf "$root"
}

QEMU="$(find_qemu)"
make_sysroot
PYTHON="$SYSROOT/usr/bin/python$PYTHON_VERSION"
machine="$("$QEMU" -L "$SYSROOT" "$PYTHON" -I -c 'import platform; print(platform.machine(), platform.python_version())')"
log "emulated interpreter: $machine ($("$QEMU" --version | head -n1))"

log "building the arm64 packages for python$PYTHON_VERSION into $BUILD"
# --if-stale: a rerun reuses packages whose sources, lock and options are unchanged.
reuse=()
uv run build-lambdas --help | grep -q -- --if-stale && reuse=(--if-stale)
uv run build-lambdas --arch arm64 --python "$PYTHON_VERSION" --out "$BUILD" "${reuse[@]}"

log "running the handlers on one real job under qemu"
uv run python provisioning/tests/provisioning_tests/package_smoke.py \
    --arch arm64 --python "$PYTHON_VERSION" --build-dir "$BUILD" \
    --interpreter "$PYTHON" --launcher "$(printf '%q -L %q' "$QEMU" "$SYSROOT")" \
    --function-timeout 600
