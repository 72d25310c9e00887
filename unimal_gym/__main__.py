"""``python -m unimal_gym`` runs the ``unimal-gym`` command."""

import sys

from .cli import main

sys.exit(main())
