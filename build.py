#!/usr/bin/env python3
"""Thin entry point: ``python build.py COMMAND``. All logic lives in the alureg package."""

from alureg.cli import run

if __name__ == "__main__":
    run()
