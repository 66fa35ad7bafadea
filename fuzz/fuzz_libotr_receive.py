"""atheris wrapper for ``fuzz.targets.libotr_receive``; its docstring states the invariant.

Run: ``python fuzz/fuzz_libotr_receive.py [libFuzzer flags] [corpus dirs]`` (or ``otrcheck fuzz run``).
"""

import sys

from fuzz._atheris import main

if __name__ == "__main__":
    main("libotr_receive", sys.argv)
