# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Helpers shared by scripts/test and scripts/run; source it, do not run it.
#
#   afterwork_install_packages   apt-get install whatever of AFTERWORK_APT_PACKAGES is missing
#   afterwork_build DIR TYPE SANITIZE [TARGET...]
#                                configure DIR (Ninja) if needed, then build TARGETs (or all)
#
# Both are idempotent: installed packages are left alone and an existing build is re-used.

# The repository root, from this file's own path, so the scripts work from any directory.
AFTERWORK_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"

# Debian 12 packages for every layer (later layers included, so adding one needs no change here).
AFTERWORK_APT_PACKAGES=(
    build-essential cmake ninja-build ccache pkg-config g++
    libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
    libsqlite3-dev libhiredis-dev libspdlog-dev libfmt-dev libcli11-dev
    libhowardhinnant-date-dev libgtest-dev libgmock-dev libbenchmark-dev
    redis-server tzdata curl python3-croniter
)

afterwork_log() {
    printf '==> %s\n' "$*"
}

afterwork_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Prints the packages of AFTERWORK_APT_PACKAGES that are not installed, one a line.
afterwork_missing_packages() {
    local package status
    for package in "${AFTERWORK_APT_PACKAGES[@]}"; do
        status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
        if [[ "$status" != "install ok installed" ]]; then
            printf '%s\n' "$package"
        fi
    done
}

afterwork_install_packages() {
    command -v dpkg-query >/dev/null 2>&1 ||
        afterwork_die "dpkg-query not found: these scripts expect Debian 12"
    local missing
    mapfile -t missing < <(afterwork_missing_packages)
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    afterwork_log "apt-get install ${missing[*]}"
    local -a apt=(apt-get -o DPkg::Lock::Timeout=600)
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 ||
            afterwork_die "not root and no sudo: install ${missing[*]} yourself"
        apt=(sudo env DEBIAN_FRONTEND=noninteractive "${apt[@]}")
    else
        apt=(env DEBIAN_FRONTEND=noninteractive "${apt[@]}")
    fi
    "${apt[@]}" update -qq
    "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"
}

# The value of KEY in DIR/CMakeCache.txt, empty when absent.
afterwork_cache_value() {
    local dir="$1" key="$2"
    [[ -f "$dir/CMakeCache.txt" ]] || return 0
    sed -n "s/^${key}:[A-Z]*=//p" "$dir/CMakeCache.txt" | head -n 1
}

# DIR as an absolute path: a relative DIR is taken from the repository root.
afterwork_dir() {
    if [[ "$1" == /* ]]; then
        printf '%s\n' "$1"
    else
        printf '%s\n' "$AFTERWORK_ROOT/$1"
    fi
}

# afterwork_build DIR TYPE SANITIZE [TARGET...]: DIR as for afterwork_dir.
# Configures only when DIR has no Ninja build yet or was configured with another build type
# or sanitizer; otherwise ninja re-runs CMake by itself when a CMakeLists.txt changed.
afterwork_build() {
    local dir type="$2" sanitize="$3"
    dir="$(afterwork_dir "$1")"
    shift 3
    if [[ -f "$dir/CMakeCache.txt" ]]; then
        local generator
        generator="$(afterwork_cache_value "$dir" CMAKE_GENERATOR)"
        [[ "$generator" == "Ninja" ]] ||
            afterwork_die "$dir was configured with '$generator', not Ninja: use another build dir"
    fi
    if [[ ! -f "$dir/build.ninja" ||
        "$(afterwork_cache_value "$dir" CMAKE_BUILD_TYPE)" != "$type" ||
        "$(afterwork_cache_value "$dir" AFTERWORK_SANITIZE)" != "$sanitize" ]]; then
        afterwork_log "configuring $dir ($type${sanitize:+, sanitize=$sanitize})"
        cmake -S "$AFTERWORK_ROOT" -B "$dir" -G Ninja --log-level=WARNING \
            -DCMAKE_BUILD_TYPE="$type" -DAFTERWORK_SANITIZE="$sanitize"
    fi
    # ccache caches the files that use a precompiled header (cmake/AfterworkPch.cmake) only
    # with this sloppiness; other settings stay as the user's ccache configuration has them.
    CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros}" ninja -C "$dir" "$@"
}
