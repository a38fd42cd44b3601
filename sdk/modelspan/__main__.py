import sys

from modelspan.cli import main

sys.exit(main())
