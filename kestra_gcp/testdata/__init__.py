"""Synthetic NYC taxi trip files for tests and benchmarks.

`generate(spec, path)` writes a gzipped CSV with the column set of the course's release files
(DataTalksClub/nyc-tlc-data, 2019-2021) and `TaxiDataServer` serves such files under the release URL paths
`/<taxi>/<taxi>_tripdata_<yyyy>-<MM>.csv.gz`, generating and caching them on demand.
"""

from kestra_gcp.testdata.generator import COLUMNS, MonthSpec, generate, row_count_for
from kestra_gcp.testdata.server import TaxiDataServer

__all__ = ["COLUMNS", "MonthSpec", "TaxiDataServer", "generate", "row_count_for"]
