"""``python -m tfau``: the same command line as the ``tfau`` script."""

from tfau.cli.main import main

raise SystemExit(main())
