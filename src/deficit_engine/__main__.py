"""``python -m deficit_engine`` is the ``deficit-engine`` command."""

import sys

from .cli import main

sys.exit(main())
