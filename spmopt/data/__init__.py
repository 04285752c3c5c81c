"""Data layer: readers, validation with precise errors, generators and shipped datasets."""

from spmopt.data.io import read_table, write_csv_atomic, write_json_atomic
from spmopt.data.validate import (
    Table,
    validate_adjacency,
    validate_distances,
    validate_territories,
    validate_units,
)

__all__ = [
    "Table",
    "read_table",
    "validate_adjacency",
    "validate_distances",
    "validate_territories",
    "validate_units",
    "write_csv_atomic",
    "write_json_atomic",
]
