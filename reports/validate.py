#!/usr/bin/python3
"""Validates tftpspec JSON reports against their schema in this directory, chosen by the
report's "$schema" (the schema's "$id"): tftpspec-report.schema.json for `run`,
tftpspec-analysis.schema.json for `analyze`.

Usage: reports/validate.py REPORT.json [...]   (exit 0: all valid; 1: a report is invalid)
"""
import json
import pathlib
import sys

import jsonschema

schemas = {}
for path in sorted(pathlib.Path(__file__).parent.glob("*.schema.json")):
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    schemas[schema["$id"]] = jsonschema.Draft202012Validator(schema)
status = 0
for path in sys.argv[1:]:
    report = json.loads(pathlib.Path(path).read_text())
    validator = schemas.get(report.get("$schema"))
    if validator is None:
        print(f"{path}: no schema with $id {report.get('$schema')!r} in {sorted(schemas)}", file=sys.stderr)
        status = 1
        continue
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.path))
    for e in errors[:20]:
        print(f"{path}: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}", file=sys.stderr)
    if errors:
        status = 1
    elif "results" in report:
        print(f"{path}: valid ({len(report['results'])} results, {len(report['findings'])} findings)")
    else:
        print(f"{path}: valid ({len(report['transfers'])} transfers)")
sys.exit(status)
