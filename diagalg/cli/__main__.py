"""``python -m diagalg.cli``: the same as the ``diagalg`` command."""

import sys

from . import main

sys.exit(main())
