#!/usr/bin/env python3
"""Starts a command and reports, in milliseconds since the fork, when each probe first succeeded.

Usage: startup_probe.py [--health PORT] [--nbd PORT] [--nbd-unix PATH] [--stdout-line] -- COMMAND...
  --health PORT     GET http://127.0.0.1:PORT/health answers 200 (503 means still starting)
  --nbd PORT        a TCP connection to PORT gets the NBD greeting ("NBDMAGIC")
  --nbd-unix PATH   the same on a Unix socket
  --stdout-line     the command printed its first line on stdout (fleeced serve prints its URI)
Prints one line "name=ms ... cpu=ms" once every probe succeeded (cpu: the process's user+system
CPU time by then, a figure less disturbed by other load on a shared machine than wall time),
then SIGTERMs the command and waits.
Probes poll every 2 ms in this one process, so a probe costs no process start.
"""
import os, signal, socket, subprocess, sys, time, select

def greeting(family, address):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(address)
        return s.recv(8) == b"NBDMAGIC"
    except OSError:
        return False
    finally:
        s.close()

def health(port):
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return s.recv(12) == b"HTTP/1.1 200"
    except OSError:
        return False
    finally:
        s.close()

def cpu_ms(pid):
    """utime + stime of the process (the launcher execs java, so this is the JVM)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 // os.sysconf("SC_CLK_TCK")

def main(argv):
    probes, i = {}, 0
    while argv[i] != "--":
        opt = argv[i]
        if opt == "--health":
            port = int(argv[i + 1]); probes["health"] = lambda p=port: health(p); i += 2
        elif opt == "--nbd":
            port = int(argv[i + 1]); probes["nbd"] = lambda p=port: greeting(socket.AF_INET, ("127.0.0.1", p)); i += 2
        elif opt == "--nbd-unix":
            path = argv[i + 1]; probes["nbd_unix"] = lambda p=path: greeting(socket.AF_UNIX, p); i += 2
        elif opt == "--stdout-line":
            probes["stdout"] = None; i += 1
        else:
            sys.exit("unknown option " + opt)
    command = argv[i + 1:]
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    done = {}
    try:
        while len(done) < len(probes):
            if proc.poll() is not None:
                sys.exit("command exited with %d before ready" % proc.returncode)
            if time.monotonic() - start > 60:
                sys.exit("not ready in 60 s")
            for name, probe in probes.items():
                if name in done:
                    continue
                if name == "stdout":
                    if select.select([proc.stdout], [], [], 0)[0] and proc.stdout.readline():
                        done[name] = time.monotonic()
                elif probe():
                    done[name] = time.monotonic()
            time.sleep(0.002)
        print(" ".join("%s=%.0f" % (n, (done[n] - start) * 1000) for n in probes) + " cpu=%d" % cpu_ms(proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()

main(sys.argv[1:])
