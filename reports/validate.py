#!/usr/bin/python3
"""Validates tftpspec JSON files against the schema their `$schema` names: run reports
(tftpspec-report.schema.json), matrices from `report merge` (tftpspec-matrix.schema.json)
expectations files (tftpspec-expectations.schema.json), capture analyses from `analyze`
(tftpspec-analysis.schema.json) and boot storms from `load` (tftpspec-load.schema.json).

Usage: reports/validate.py FILE.json [...]   (exit 0: all valid; 1: a file is invalid)
"""
import json
import pathlib
import sys

import jsonschema

here = pathlib.Path(__file__).parent
validators = {}
for path in sorted(here.glob("tftpspec-*.schema.json")):
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validators[schema["$id"]] = jsonschema.Draft202012Validator(schema)

status = 0
for path in sys.argv[1:]:
    document = json.loads(pathlib.Path(path).read_text())
    validator = validators.get(document.get("$schema"))
    if validator is None:
        print(f"{path}: $schema {document.get('$schema')!r} is none of {sorted(validators)}", file=sys.stderr)
        status = 1
        continue
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    for e in errors[:20]:
        print(f"{path}: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}", file=sys.stderr)
    if errors:
        status = 1
    else:
        print(f"{path}: valid ({document['$schema'].rsplit('/', 1)[-1]})")
sys.exit(status)
