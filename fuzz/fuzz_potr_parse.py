"""atheris wrapper for ``fuzz.targets.potr_parse``; its docstring states the invariant.

Run: ``python fuzz/fuzz_potr_parse.py [libFuzzer flags] [corpus dirs]`` (or ``otrcheck fuzz run``).
"""

import sys

from fuzz._atheris import main

if __name__ == "__main__":
    main("potr_parse", sys.argv)
