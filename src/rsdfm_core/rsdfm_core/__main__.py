"""`python -m rsdfm_core` is the `rsdfm` command."""
import sys

from rsdfm_core.cli import main

sys.exit(main())
