#!/usr/bin/env python3
"""Minimal QMP client (standard library only).

usage: qmp.py SOCKET CMD [CMD ...]
  CMD is a JSON object {"execute": ..., "arguments": {...}} or the short form
  'name {json-args}' / 'name'; the pseudo command 'wait-event {"event": NAME}'
  waits for a QMP event. All commands run in order on one connection;
  each result is printed as one JSON line. Exit 1 at the first error (the
  QMP error is printed on stderr).
"""
import json
import socket
import sys


class Qmp:
    def __init__(self, path, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        self._recv()  # greeting
        self.cmd("qmp_capabilities")

    def _recv(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._recv()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise RuntimeError("%s: %s" % (name, r["error"].get("desc", r["error"])))
            return r.get("return")


    def wait_event(self, name, timeout=30):
        """Wait for event NAME (also one that arrived during an earlier command)."""
        self.sock.settimeout(timeout)
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    del self.events[i]
                    return e
            r = self._recv()
            if "event" in r:
                self.events.append(r)


def parse(arg):
    arg = arg.strip()
    if arg.startswith("{"):
        o = json.loads(arg)
        return o["execute"], o.get("arguments")
    name, _, rest = arg.partition(" ")
    return name, (json.loads(rest) if rest.strip() else None)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    q = Qmp(sys.argv[1])
    for a in sys.argv[2:]:
        name, args = parse(a)
        if name == "wait-event":  # pseudo command: wait-event {"event": NAME}
            print(json.dumps(q.wait_event(args["event"])))
            continue
        try:
            print(json.dumps(q.cmd(name, args)))
        except RuntimeError as e:
            print("qmp.py: %s" % e, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
