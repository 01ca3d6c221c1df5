#!/usr/bin/env bash
# Builds the libFuzzer targets the way OSS-Fuzz / ClusterFuzzLite expect: each fuzzer,
# its dictionary as <fuzzer>.dict and its seed corpus as <fuzzer>_seed_corpus.zip, in $OUT.
#
#   fuzz/build.sh       locally: clang preset `fuzz` (build/fuzz), output in build/fuzz/out
#                       (or $OUT); JOBS=N for the build (default 2)
#   OSS-Fuzz / CFLite:  $CXX, $CXXFLAGS, $LIB_FUZZING_ENGINE and $OUT are set; the targets are
#                       compiled directly with them (the image needs libexpected-dev).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
targets=(fuzz_packet fuzz_netascii)

if [[ -n "${LIB_FUZZING_ENGINE:-}" ]]; then
  : "${OUT:?OUT must be set}"
  out="$OUT"
  work="$(mktemp -d "${WORK:-/tmp}/tftpspec-fuzz.XXXXXX")"
  # The targets need only tftp_proto (wire format, no I/O).
  objects=()
  for src in "$root"/harness/proto/*.cc; do
    [[ "$src" == *_test.cc ]] && continue
    obj="$work/$(basename "${src%.cc}").o"
    # shellcheck disable=SC2086  # CXXFLAGS is a list of flags
    $CXX $CXXFLAGS -std=c++20 -I"$root/harness" -c "$src" -o "$obj"
    objects+=("$obj")
  done
  for t in "${targets[@]}"; do
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS -std=c++20 -I"$root/harness" "$root/fuzz/$t.cc" "${objects[@]}" $LIB_FUZZING_ENGINE -o "$out/$t"
  done
else
  out="${OUT:-$root/build/fuzz/out}"
  (cd "$root" && cmake --preset fuzz >/dev/null && cmake --build --preset fuzz -j "${JOBS:-2}" --target "${targets[@]}")
  mkdir -p "$out"
  for t in "${targets[@]}"; do cp "$root/build/fuzz/$t" "$out/"; done
fi

for t in "${targets[@]}"; do
  cp "$root/fuzz/tftp.dict" "$out/$t.dict"
  rm -f "$out/${t}_seed_corpus.zip"
  if command -v zip >/dev/null; then
    zip -q -j "$out/${t}_seed_corpus.zip" "$root/fuzz/corpus/$t"/*
  else
    python3 -m zipfile -c "$out/${t}_seed_corpus.zip" "$root/fuzz/corpus/$t"/*
  fi
done
echo "fuzzers, dictionaries and seed corpora in $out:"
ls -l "$out"
