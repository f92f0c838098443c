from infomin_cli.results.table import COLUMNS, append_row, read_results

__all__ = ["COLUMNS", "append_row", "read_results"]
