#!/bin/sh
# Usage: scripts/pinned_venv.sh VENV REQUIREMENTS
#
# A virtual environment holding REQUIREMENTS, then checked with `pip check`, which fails on a
# dependency the list forgot or a conflict.
#
# By default REQUIREMENTS is a fully pinned list (every package, with its version), installed
# without resolving anything (--no-deps), from wheels only. RESOLVE=1 is for a list that pins what
# it names and leaves their dependencies to the resolver (the test and tool venvs): uv and pip
# resolve them to the same versions (checked when this was written: `uv pip freeze` against
# `pip freeze` of requirements-dev.txt, identical but for pip and uv themselves).
#
# uv (UV_PIN, pinned, itself installed by this machine's pip) does the install in a few seconds;
# where uv cannot be had or fails, pip does the same install, slower. INSTALLER=pip skips uv.
#   PYTHON   the interpreter to build on (default python3)
#   UV_PIN   uv's requirement, e.g. uv==0.13.8 (deploy.mk sets it)
#   RESOLVE  1: resolve the dependencies of what the list names
set -eu

venv=$1
requirements=$2
python=${PYTHON:-python3}
if [ "${RESOLVE:-0}" = 1 ]; then
    uv_mode="" pip_mode=""
else
    uv_mode="--no-deps --only-binary :all:" pip_mode="--no-deps --only-binary=:all:"
fi

with_uv() {
    "$python" -m venv --without-pip "$venv" &&
        "$python" -m pip --python "$venv/bin/python" install -qq --disable-pip-version-check \
            --root-user-action=ignore --no-deps --only-binary=:all: "${UV_PIN:?UV_PIN is not set}" &&
        # shellcheck disable=SC2086 # the mode is several options
        "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" $uv_mode -r "$requirements" &&
        # pip for `pip check` and for the tools that run `python -m pip` (make lambda-build)
        "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" pip
}

with_pip() {
    "$python" -m venv "$venv" &&
        # shellcheck disable=SC2086
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            $pip_mode --no-compile -r "$requirements"
}

rm -rf "$venv"
if [ "${INSTALLER:-uv}" != uv ] || ! with_uv; then
    [ "${INSTALLER:-uv}" != uv ] || echo "$0: uv could not install $requirements; pip installs it (slower)" >&2
    rm -rf "$venv"
    with_pip
fi
"$venv/bin/python" -m pip check --disable-pip-version-check
