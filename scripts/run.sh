#!/usr/bin/env bash
# README command 1: install what is needed, build, and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
exec build/release/tftpspec run "$@"
