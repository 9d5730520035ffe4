"""Rewrite grammar/diag.tables.json from grammar/diag.lark (`make parser-tables`).

Run after editing the grammar; tests/test_parser_tables.py fails until you do.
"""

from __future__ import annotations

from diagalg.parser import FRAGMENTS
from diagalg.parser_tables import write_tables

if __name__ == "__main__":
    print(f"wrote {write_tables(['start', *FRAGMENTS])}")
