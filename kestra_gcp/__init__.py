"""kestra-gcp: the CLI and the local engine that runs compiled flows on this machine."""

__version__ = "0.1.0"
