"""atheris wrapper for ``fuzz.targets.potr_receive``; its docstring states the invariant.

Run: ``python fuzz/fuzz_potr_receive.py [libFuzzer flags] [corpus dirs]`` (or ``otrcheck fuzz run``).
"""

import sys

from fuzz._atheris import main

if __name__ == "__main__":
    main("potr_receive", sys.argv)
