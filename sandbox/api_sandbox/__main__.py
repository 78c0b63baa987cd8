"""``python -m api_sandbox``."""

import sys

from api_sandbox.cli import main

sys.exit(main())
