#!/usr/bin/env python3
"""Writes the generated seed corpora of the fuzz targets from the catalogue and the captures.

    fuzz/make_seeds.py            rewrites fuzz/corpus/<target>/gen-* (deterministic)

Sources: the requests, ACKs, DATA, ERRORs and raw datagrams the catalogue's scenarios send
(scenarios/**/*.yaml), the datagrams of the captures in pcaps/, the scenario files
themselves and the captures themselves. Each target's script layout is described at the top
of its fuzz/<target>.cc (fuzz/fuzz_support.h for the datagram operand). Seeds found by a
campaign (found-*) and written by hand are kept; only gen-* files are replaced.
Needs python3-yaml (PyYAML).
"""
import hashlib
import pathlib
import struct
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
OPCODES = {"RRQ": 1, "WRQ": 2, "DATA": 3, "ACK": 4, "ERROR": 5, "OACK": 6}
MAX_SEED = 4096  # libFuzzer's default -max_len for inputs it makes up


# ---- TFTP datagrams ------------------------------------------------------------------------

def request(op, filename, mode="octet", options=None):
    out = struct.pack(">H", OPCODES[op]) + filename.encode() + b"\0" + mode.encode() + b"\0"
    # A map, or a list of [name, value] pairs (repeats); "{A*600}" is the scenarios' padding.
    pairs = options.items() if isinstance(options, dict) else (options or [])
    for name, value in pairs:
        value = str(value)
        if value.startswith("{") and "*" in value:
            char, _, count = value.strip("{}").partition("*")
            value = char * int(count)
        out += str(name).encode() + b"\0" + str(value).encode() + b"\0"
    return out


def data(block, payload):
    return struct.pack(">HH", 3, block & 0xFFFF) + payload


def ack(block):
    return struct.pack(">HH", 4, block & 0xFFFF)


def error(code, message):
    return struct.pack(">HH", 5, code) + message.encode() + b"\0"


def operand(datagram):
    """A datagram operand (fuzz_support.h): one length byte, or 255 and a u16."""
    if len(datagram) < 255:
        return bytes([len(datagram)]) + datagram
    return b"\xff" + struct.pack(">H", len(datagram)) + datagram


# ---- captures ------------------------------------------------------------------------------

def udp_datagrams(path):
    """(src, sport, dst, dport, payload) of every UDP datagram in a pcap (Ethernet, BSD
    loopback, raw IP or Linux cooked), IPv4 or IPv6, unfragmented."""
    raw = path.read_bytes()
    magic = raw[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", raw[20:24])[0]
    at, out = 24, []
    while at + 16 <= len(raw):
        _, _, caplen, _ = struct.unpack(endian + "IIII", raw[at:at + 16])
        frame = raw[at + 16:at + 16 + caplen]
        at += 16 + caplen
        ip = {1: frame[14:], 0: frame[4:], 101: frame, 113: frame[16:]}.get(linktype)
        if linktype == 1 and frame[12:14] == b"\x81\x00":
            ip = frame[18:]
        if not ip:
            continue
        if ip[0] >> 4 == 4 and ip[9] == 17:
            ihl = (ip[0] & 15) * 4
            src, dst, udp = ip[12:16], ip[16:20], ip[ihl:]
        elif ip[0] >> 4 == 6 and ip[6] == 17:
            src, dst, udp = ip[8:24], ip[24:40], ip[40:]
        else:
            continue
        sport, dport, length = struct.unpack(">HHH", udp[:6])
        out.append((src, sport, dst, dport, udp[8:length]))
    return out


def capture_conversation(path):
    """The datagrams of a capture, each marked 'c' (from the client, the side that sent
    the first request) or 's' (from the server)."""
    grams = udp_datagrams(path)
    if not grams:
        return []
    client = (grams[0][0], grams[0][1])
    return [("c" if (g[0], g[1]) == client else "s", g) for g in grams]


# ---- scenarios -----------------------------------------------------------------------------

def scenario_sends(scenario):
    """(to_listener, from_other, datagram) for each datagram a scenario sends, in order
    (steps nested under any:/downloads are not sends and are skipped)."""
    for step in scenario.get("steps") or []:
        if not isinstance(step, dict) or "send" not in step:
            continue
        kind = step["send"]
        to_listener = kind in ("RRQ", "WRQ") or step.get("to") == "listen"
        other = step.get("from") == "other"
        if kind in ("RRQ", "WRQ"):
            gram = request(kind, str(step.get("file", "f1.bin")), str(step.get("mode", "octet")),
                           step.get("options"))
        elif kind == "ACK":
            gram = ack(int(step.get("block", 0)))
        elif kind == "DATA":
            gram = data(int(step.get("block", 1)), b"d" * int(step.get("size", 0)))
        elif kind == "ERROR":
            gram = error(int(step.get("code", 0)), str(step.get("message", "")))
        elif kind == "RAW":
            gram = bytes.fromhex(str(step.get("hex", "")).replace(" ", ""))
        else:
            continue
        yield to_listener, other, gram


def catalogue():
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        if "expectations" in path.parts:
            continue
        doc = yaml.safe_load(path.read_text())
        for scenario in doc.get("scenarios", [doc]) if isinstance(doc, dict) else []:
            yield path, scenario


def scenario_texts():
    """Each scenario of the catalogue as a file of its own (the loader's seeds)."""
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        if "expectations" in path.parts:
            continue
        text = path.read_text()
        if "\nscenarios:" not in "\n" + text:
            yield path.stem, text
            continue
        head, _, body = text.partition("scenarios:\n")
        for i, chunk in enumerate(body.split("\n  - id:")):
            if i == 0:
                continue
            yield f"{path.stem}-{i}", "scenarios:\n  - id:" + chunk.rstrip() + "\n"


# ---- per target ----------------------------------------------------------------------------

def server_core_seeds():
    """fuzz_server_core: the catalogue's sends from client 0 (or 1 for `from: other`), then
    the synthesised ACK/DATA ops that walk a transfer to its end."""
    for path, s in catalogue():
        script = b""
        for to_listener, other, gram in scenario_sends(s):
            c = 1 if other else 0
            script += bytes([(2 if to_listener else 4) | c << 3]) + operand(gram)
        if script:
            yield s["id"], script
    for name, gram in [("rrq-f3000-acks", request("RRQ", "f3000.bin")),
                       ("rrq-blksize-window", request("RRQ", "f3000.bin", options={"blksize": 512 + 8, "windowsize": 4})),
                       ("rrq-netascii", request("RRQ", "netascii.txt", "netascii", {"tsize": 0}))]:
        yield name, bytes([2]) + operand(gram) + (bytes([6, 0]) * 10) + bytes([1, 1, 6, 1, 6, 0])
    yield "wrq-upload", (bytes([2]) + operand(request("WRQ", "up.bin", options={"blksize": 64})) +
                         bytes([7, 0, 255]) * 3 + bytes([7, 0, 10]) + bytes([1]))
    yield "two-clients", (bytes([2]) + operand(request("RRQ", "f1024.bin")) + bytes([2 | 1 << 3]) +
                          operand(request("RRQ", "sub/f511.bin")) + bytes([6, 0, 6 | 1 << 3, 0, 6, 0, 6, 0]))


def client_transfer_seeds():
    """fuzz_client_transfer: each capture's server datagrams from TID A, the header bytes
    taken from its request (RRQ/WRQ, mode, options)."""
    for path in sorted((ROOT / "pcaps").glob("*.pcap")):
        conv = capture_conversation(path)
        if not conv:
            continue
        first = conv[0][1][4]
        flags = 0 if first[:2] == b"\x00\x01" else 1
        if b"netascii" in first.lower():
            flags |= 2
        blksize = 0
        if b"blksize" in first:
            flags |= 4
            blksize = max(0, min(255, (int(first.split(b"blksize\0")[1].split(b"\0")[0]) - 8 + 36) // 37))
        if b"tsize" in first:
            flags |= 16
        script = bytes([flags, blksize, 0, 40])
        for side, g in conv[1:]:
            script += (bytes([2]) + operand(g[4])) if side == "s" else bytes([0, 0])
        yield path.stem, script[:MAX_SEED]
    yield "rrq-data-ops", bytes([0, 0, 0, 0]) + bytes([7, 0, 255]) * 4 + bytes([7, 0, 3])
    yield "wrq-ack-ops", bytes([1, 0, 0, 20]) + bytes([6, 0]) * 6 + bytes([1, 1])
    yield "wrq-window", bytes([1 | 4 | 8, 3, 3, 30]) + bytes([3]) + operand(
        b"\x00\x06blksize\x00119\x00windowsize\x004\x00") + bytes([6, 0]) * 8


def rules_seeds():
    """fuzz_rules: each capture's datagrams, client 0 and the server's listening port or
    TID A, with the times roughly kept (the op's top bits step 37 ms)."""
    for path in sorted((ROOT / "pcaps").glob("*.pcap")):
        conv = capture_conversation(path)
        script = b""
        for side, g in conv:
            endpoint = 0 if (g[3] if side == "c" else g[1]) == 69 else 1
            op = (0 if side == "c" else 1) | endpoint << 3
            script += bytes([op]) + operand(g[4])
        if script:
            yield path.stem, script[:MAX_SEED]
    # The catalogue's sends as the harness side, each answered by nothing.
    for path, s in catalogue():
        script = b""
        for to_listener, other, gram in scenario_sends(s):
            script += bytes([(0 if to_listener else 1 << 3) | (1 << 2 if other else 0)]) + operand(gram)
        if script and len(script) > 8:
            yield s["id"], script


def options_seeds():
    """fuzz_options: each catalogue request's options, and each capture's OACK."""
    limits = bytes([0xFF, 0xB8, 64, 22, 32, 1])  # max blksize 65464, window 64, 4 MiB, 4 GiB, on
    seen = set()
    for path, s in catalogue():
        for _, _, gram in scenario_sends(s):
            if gram[:2] not in (b"\x00\x01", b"\x00\x02"):
                continue
            parts = gram[2:].split(b"\0")
            options = b"\0".join(parts[2:])
            if not options or options in seen:
                continue
            seen.add(options)
            yield s["id"], bytes([gram[1] - 1 | 2]) + limits + options + b"\xff"
    for path in sorted((ROOT / "pcaps").glob("*.pcap")):
        grams = [g[4] for _, g in capture_conversation(path)]
        reqs = [g for g in grams if g[:2] in (b"\x00\x01", b"\x00\x02")]
        oacks = [g for g in grams if g[:2] == b"\x00\x06"]
        if reqs and oacks:
            options = b"\0".join(reqs[0][2:].split(b"\0")[2:])
            yield path.stem, bytes([reqs[0][1] - 1 | 2]) + limits + options + b"\xff" + oacks[0][2:]


def loader_seeds():
    total = 0
    for name, text in scenario_texts():
        blob = text.encode()
        if len(blob) > 3000 or total > 150_000:
            continue
        total += len(blob)
        yield name, blob


def capture_seeds():
    for path in sorted((ROOT / "pcaps").glob("*.pcap")):
        blob = path.read_bytes()
        # The big public captures, cut: a file ending inside a record is a case of its own.
        yield path.stem, blob[:6000]


TARGETS = {
    "fuzz_server_core": server_core_seeds,
    "fuzz_client_transfer": client_transfer_seeds,
    "fuzz_rules": rules_seeds,
    "fuzz_options": options_seeds,
    "fuzz_scenario_loader": loader_seeds,
    "fuzz_capture": capture_seeds,
}


def main():
    for target, seeds in TARGETS.items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("gen-*"):
            old.unlink()
        written = set()
        for name, blob in seeds():
            digest = hashlib.sha1(blob).hexdigest()
            if digest in written:
                continue
            written.add(digest)
            (folder / f"gen-{name}").write_bytes(blob)
        print(f"{target}: {len(written)} seeds, {sum(p.stat().st_size for p in folder.iterdir())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
