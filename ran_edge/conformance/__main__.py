"""``python -m ran_edge.conformance``: see :mod:`ran_edge.conformance.cli`."""

from ran_edge.conformance.cli import main

raise SystemExit(main())
