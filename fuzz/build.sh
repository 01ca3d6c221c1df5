#!/usr/bin/env bash
# Builds the libFuzzer targets the way OSS-Fuzz / ClusterFuzzLite expect: each fuzzer,
# its dictionary as <fuzzer>.dict, its seed corpus as <fuzzer>_seed_corpus.zip and its
# libFuzzer options (fuzz/<fuzzer>.options, where it has some) as <fuzzer>.options, in $OUT.
#
#   fuzz/build.sh       locally: clang preset `fuzz` (build/fuzz), output in build/fuzz/out
#                       (or $OUT); JOBS=N for the build (default 2)
#   OSS-Fuzz / CFLite:  $CXX, $CXXFLAGS, $LIB_FUZZING_ENGINE and $OUT are set; the libraries
#                       and targets are compiled directly with them (the image needs
#                       libexpected-dev, nlohmann-json3-dev, libyaml-cpp-dev, libpcap-dev).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The same list as CMakeLists.txt "Fuzz targets".
targets=(fuzz_packet fuzz_describe fuzz_netascii fuzz_options fuzz_server_core fuzz_client_transfer fuzz_rules
         fuzz_scenario_loader fuzz_capture)

if [[ -n "${LIB_FUZZING_ENGINE:-}" ]]; then
  : "${OUT:?OUT must be set}"
  out="$OUT"
  work="$(mktemp -d "${WORK:-/tmp}/tftpspec-fuzz.XXXXXX")"
  # Every library area but the CLI, in one archive: each target links what it uses of it.
  objects=()
  for src in "$root"/harness/{common,proto,engine,net,server,client,check,pcap,report,scenario}/*.cc; do
    [[ "$src" == *_test.cc ]] && continue
    obj="$work/$(basename "$(dirname "$src")")_$(basename "${src%.cc}").o"
    # shellcheck disable=SC2086  # CXXFLAGS is a list of flags
    $CXX $CXXFLAGS -std=c++20 -I"$root/harness" -DTFTPSPEC_INSTALLED_SCENARIOS='"../share/tftpspec/scenarios"' \
      -c "$src" -o "$obj"
    objects+=("$obj")
  done
  ar rcs "$work/libtftpspec.a" "${objects[@]}"
  for t in "${targets[@]}"; do
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS -std=c++20 -I"$root/harness" "$root/fuzz/$t.cc" "$work/libtftpspec.a" $LIB_FUZZING_ENGINE \
      -lyaml-cpp -lpcap -pthread -o "$out/$t"
  done
else
  out="${OUT:-$root/build/fuzz/out}"
  (cd "$root" && cmake --preset fuzz >/dev/null && cmake --build --preset fuzz -j "${JOBS:-2}" --target "${targets[@]}")
  mkdir -p "$out"
  for t in "${targets[@]}"; do cp "$root/build/fuzz/$t" "$out/"; done
fi

for t in "${targets[@]}"; do
  cp "$root/fuzz/tftp.dict" "$out/$t.dict"
  # Per-target libFuzzer options (max_len, each with its reason), where a target has them.
  rm -f "$out/$t.options"
  if [[ -f "$root/fuzz/$t.options" ]]; then cp "$root/fuzz/$t.options" "$out/$t.options"; fi
  rm -f "$out/${t}_seed_corpus.zip"
  if command -v zip >/dev/null; then
    zip -q -j "$out/${t}_seed_corpus.zip" "$root/fuzz/corpus/$t"/*
  else
    python3 -m zipfile -c "$out/${t}_seed_corpus.zip" "$root/fuzz/corpus/$t"/*
  fi
done
echo "fuzzers, dictionaries and seed corpora in $out:"
ls -l "$out"
