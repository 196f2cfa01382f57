#!/usr/bin/env python3
"""Thin entry point: ``python build.py COMMAND``. All logic lives in the alureg package."""

import sys

from alureg.cli import main

if __name__ == "__main__":
    sys.exit(main())
