"""atheris wrapper for ``fuzz.targets.engine_tlv``; its docstring states the invariant.

Run: ``python fuzz/fuzz_engine_tlv.py [libFuzzer flags] [corpus dirs]`` (or ``otrcheck fuzz run``).
"""

import sys

from fuzz._atheris import main

if __name__ == "__main__":
    main("engine_tlv", sys.argv)
