# python3 tools/sgd_sim [options]: the simulated heater's command line (cli.py).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/

from sgd_sim.cli import main  # noqa: E402

sys.exit(main())
