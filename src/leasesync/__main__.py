"""``python -m leasesync``: the same as the ``leasesync`` command."""

from leasesync.cli.main import main

main()
