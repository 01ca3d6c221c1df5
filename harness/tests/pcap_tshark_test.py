#!/usr/bin/env python3
"""`tftpspec analyze` against `tshark --export-objects tftp` on every capture in pcaps/ (issue
10 item 6): the files each tool finds (name and size, as on the wire) must agree.

analyze's side: each transfer whose content is complete (request, file name, wire bytes;
netascii is not decoded, as tshark does not decode it). tshark's side: the files it exports,
with `-d udp.port==P,tftp` for every server port other than 69 that analyze found (tshark
follows TFTP only from port 69 unless told; analyze recognises requests on any port).
A capture's NAME.expect.json may state a known, explained difference as
  "tshark": {"exports": [["name", bytes], ...], "why": "..."}
and then tshark's exports must equal those instead.
Usage: pcap_tshark_test.py TFTPSPEC SOURCE_DIR   (exit 77, skipped, without tshark)
PCAP_TSHARK_NO_DECODE_AS=1 leaves the -d out: the recorded captures (ports 6970, 6971) then
disagree, which shows the comparison can fail.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    tftpspec, source = sys.argv[1], sys.argv[2]
    if shutil.which("tshark") is None:
        print("tshark not installed (scripts/setup.sh installs it)")
        return 77
    pcaps = os.path.join(source, "pcaps")
    captures = sorted(f for f in os.listdir(pcaps) if f.endswith((".pcap", ".pcapng")))
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for cap in captures:
            path = os.path.join(pcaps, cap)
            name = os.path.splitext(cap)[0]
            expect_path = os.path.join(pcaps, name + ".expect.json")
            expect = json.load(open(expect_path)) if os.path.exists(expect_path) else {}
            report = os.path.join(tmp, name + ".json")
            subprocess.run([tftpspec, "analyze", path, "--json", report], capture_output=True, timeout=120)
            analysis = json.load(open(report))
            ours, ports = [], set()
            for t in analysis["transfers"]:
                port = int(t["listen"].rsplit(":", 1)[1])
                if port != 69:
                    ports.add(port)
                if t["result"] == "complete" and t["content_complete"]:
                    ours.append([os.path.basename(t["filename"]), t["bytes"]])
            out = os.path.join(tmp, name + ".objects")
            os.mkdir(out)
            argv = ["tshark", "-r", path, "-q", "--export-objects", "tftp," + out]
            for p in sorted(ports) if not os.environ.get("PCAP_TSHARK_NO_DECODE_AS") else []:
                argv[3:3] = ["-d", "udp.port==%d,tftp" % p]
            subprocess.run(argv, capture_output=True, timeout=300)
            theirs = sorted([f, os.path.getsize(os.path.join(out, f))] for f in os.listdir(out))
            ours.sort()
            known = expect.get("tshark")
            if known is not None:
                wanted = sorted(known["exports"])
                ok = theirs == wanted
                note = " (known difference: %s)" % known["why"]
            else:
                wanted = ours
                ok = theirs == ours
                note = ""
            total = sum(b for _, b in theirs)
            print("%-28s %s analyze %s, tshark %s (%d bytes)%s" % (cap, "agree" if ok else "DIFFER", ours, theirs, total, note))
            if not ok:
                failures += 1
    print("%d captures, %d disagreements" % (len(captures), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
