"""Local services standing in for GCP (GCS emulator, embedded PostgreSQL, ...): start, stop, reuse."""
