"""`python -m sievekit` runs the command-line interface."""

from sievekit.cli.main import main

main()
