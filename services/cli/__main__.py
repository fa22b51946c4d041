"""``python -m services.cli``: the same as the ``agentloom`` command."""

import sys

from services.cli.main import main

sys.exit(main())
