#!/usr/bin/python3
"""Validates tftpspec JSON reports against reports/tftpspec-report.schema.json.

Usage: reports/validate.py REPORT.json [...]   (exit 0: all valid; 1: a report is invalid)
"""
import json
import pathlib
import sys

import jsonschema

schema = json.loads((pathlib.Path(__file__).parent / "tftpspec-report.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
status = 0
for path in sys.argv[1:]:
    report = json.loads(pathlib.Path(path).read_text())
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.path))
    for e in errors[:20]:
        print(f"{path}: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}", file=sys.stderr)
    if errors:
        status = 1
    else:
        print(f"{path}: valid ({len(report['results'])} results, {len(report['findings'])} findings)")
sys.exit(status)
