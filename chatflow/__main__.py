"""`python -m chatflow`: the same as the `chatflow` command."""

from chatflow.cli import main

main()
