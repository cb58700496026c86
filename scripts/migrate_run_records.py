"""Once, on 6 December 2026: add ``weights_sha256`` to every committed run record that has weights.

The run store (``qvit_lib.runs.store``) refuses weights that do not match the SHA-256 in their
record. Records written before it lack the field; this script adds it and changes nothing
else: each record must read back to exactly its old text under the store's JSON layout
(``json.dumps(record, indent=1)``) before the field is appended, so every result value stays
byte-identical (``tests/test_store.py`` checks that against the commit before the migration).

    python scripts/migrate_run_records.py            # rewrite the records in data/results
    python scripts/migrate_run_records.py --check    # say what would change, change nothing
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qvit_lib.core.config import DATA_DIR
from qvit_lib.runs.store import weights_digest


def migrate(results: Path, write: bool) -> list[Path]:
    """The records that gain the field (written if ``write``)."""
    changed = []
    for record_path in sorted(results.rglob("*.json")):
        weights = record_path.with_suffix(".pt")
        if not weights.is_file():
            continue  # device scans have no weights
        text = record_path.read_text()
        record = json.loads(text)
        if "weights_sha256" in record:
            continue
        if json.dumps(record, indent=1) + "\n" != text:
            raise SystemExit(f"{record_path}: does not round-trip through JSON unchanged; not touched")
        record["weights_sha256"] = weights_digest(weights)
        if write:
            record_path.write_text(json.dumps(record, indent=1) + "\n")
        changed.append(record_path)
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; list what would change")
    parser.add_argument("--results", type=Path, default=DATA_DIR / "results")
    args = parser.parse_args()
    changed = migrate(args.results, write=not args.check)
    print(f"{'would add' if args.check else 'added'} weights_sha256 to {len(changed)} records", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
