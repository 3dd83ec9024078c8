# Sourced by test.sh: Debian packages the tests use for real (`prometheus` and promtool, PostgreSQL, and `chromium`
# for the console's browser tests: Playwright drives it by path, no browser is downloaded).
set -euo pipefail
_need_packages=()
command -v promtool >/dev/null 2>&1 || _need_packages+=(prometheus)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || _need_packages+=(postgresql)
command -v runuser >/dev/null 2>&1 || _need_packages+=(util-linux)
command -v chromium >/dev/null 2>&1 || _need_packages+=(chromium)
if [ "${#_need_packages[@]}" -gt 0 ]; then
    _sudo=""
    if [ "$(id -u)" -ne 0 ]; then _sudo="sudo"; fi
    echo "installing Debian packages: ${_need_packages[*]}" >&2
    $_sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -qq --no-install-recommends "${_need_packages[@]}" >/dev/null
fi
