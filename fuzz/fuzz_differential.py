"""atheris wrapper for ``fuzz.targets.differential``; its docstring states the invariant.

Run: ``python fuzz/fuzz_differential.py [libFuzzer flags] [corpus dirs]`` (or ``otrcheck fuzz run``).
"""

import sys

from fuzz._atheris import main

if __name__ == "__main__":
    main("differential", sys.argv)
