"""`python -m alloca_bench` is the `alloca-bench` command."""
import sys

from alloca_bench.cli import main

sys.exit(main())
