"""``python -m bankscore_bench``: the same as the ``bankscore-bench`` command."""

from bankscore_bench.cli import main

main()
