#!/bin/sh
# Usage: scripts/pinned_venv.sh VENV REQUIREMENTS
#
# A virtual environment holding exactly REQUIREMENTS, a fully pinned list (every package, with its
# version): installed without resolving anything (--no-deps), from wheels only, then checked with
# `pip check`, which fails on a dependency the list forgot.
#
# uv (UV_PIN, pinned, itself installed by this machine's pip) does the install in a few seconds;
# where uv cannot be had or fails, pip does the same install, slower. INSTALLER=pip skips uv.
#   PYTHON  the interpreter to build on (default python3)
#   UV_PIN  uv's requirement, e.g. uv==0.13.8 (the Makefile sets it)
set -eu

venv=$1
requirements=$2
python=${PYTHON:-python3}

with_uv() {
    "$python" -m venv --without-pip "$venv" &&
        "$python" -m pip --python "$venv/bin/python" install -qq --disable-pip-version-check \
            --root-user-action=ignore --no-deps --only-binary=:all: "${UV_PIN:?UV_PIN is not set}" &&
        "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" \
            --no-deps --only-binary :all: -r "$requirements"
}

with_pip() {
    "$python" -m venv "$venv" &&
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --no-deps --only-binary=:all: --no-compile -r "$requirements"
}

rm -rf "$venv"
if [ "${INSTALLER:-uv}" != uv ] || ! with_uv; then
    [ "${INSTALLER:-uv}" != uv ] || echo "$0: uv could not install $requirements; pip installs it (slower)" >&2
    rm -rf "$venv"
    with_pip
fi
# REQUIREMENTS lists pip too: the local Lambda build (make lambda-build) installs with it.
"$venv/bin/python" -m pip check --disable-pip-version-check
