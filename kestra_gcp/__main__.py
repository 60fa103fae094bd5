"""`python -m kestra_gcp` is the same as the `kestra-gcp` command."""

from kestra_gcp.cli import main

main()
