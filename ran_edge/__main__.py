import sys

from ran_edge.cli.main import main

sys.exit(main())
