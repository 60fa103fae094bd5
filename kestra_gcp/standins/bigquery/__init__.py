"""BigQuery stand-in: the subset of the BigQuery v2 REST API that google-cloud-bigquery uses, served from DuckDB
with GoogleSQL transpiled by sqlglot; external tables and load jobs read `gs://` objects from the GCS emulator."""

from .server import BigQueryStandin, serve

__all__ = ["BigQueryStandin", "serve"]
