"""``python -m gymnpt`` runs the command line."""

from gymnpt.cli.main import main

raise SystemExit(main())
