#!/usr/bin/env bash
# The README's test command, `pip install tox && tox`, with arguments passed
# to tox: `ci/test.sh` runs the default envs (py, lint, type), `ci/test.sh -e
# matrix` the main job.  .ci/run and the GitHub workflow both call this.
#
# "No tests collected" fails the run: pytest exits 5, and tox fails an env
# whose command exits non-zero.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Fall back to the modules where pip or a freshly installed tox is not on PATH.
if command -v pip >/dev/null 2>&1; then pip install tox; else python3 -m pip install tox; fi
if command -v tox >/dev/null 2>&1; then tox "$@"; else python3 -m tox "$@"; fi
