#!/usr/bin/env python3
"""
top_pty.py - run `importq top` live on a pseudo-terminal, as a person
would: wait for its first frame, then quit it with KEY ("q", or "ctrl-c"
for the terminal's interrupt character), and check that it exited 0 and
gave the terminal back (the alternate screen left, the cursor shown, the
line discipline's canonical mode and echo restored).

Usage: top_pty.py KEY BINARY ARGS...   (exit 0 when all holds; else the reason)
Waits are bounds on a hang (20 s), not speed checks. The same holds for
any live view (`importq jobs --watch`): PTY_EXPECT (comma-separated,
default "health: ,JOB") names what its first frame must show.
"""
import os
import pty
import select
import sys
import termios
import time

BOUND_S = 20.0


def read_until(fd, needle, seen):
    end = time.time() + BOUND_S
    while needle not in seen:
        if time.time() > end:
            return seen, False
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return seen, needle in seen
            if not chunk:
                return seen, needle in seen
            seen += chunk
    return seen, True


def main():
    key, argv = sys.argv[1], sys.argv[2:]
    # The child waits for a byte on this pipe before it execs, so that the
    # terminal's modes are read here before the live view can change them
    # (on a loaded machine the child was first, and "before" was raw mode).
    go_r, go_w = os.pipe()
    pid, fd = pty.fork()
    if pid == 0:
        os.close(go_w)
        os.read(go_r, 1)
        os.execv(argv[0], argv)
    os.close(go_r)
    before = termios.tcgetattr(fd)
    os.write(go_w, b"x")
    os.close(go_w)
    seen, ok = read_until(fd, b"press q to quit", b"")
    if not ok:
        print("no frame within %.0f s: %r" % (BOUND_S, seen[-500:]))
        os.kill(pid, 9)
        return 1
    expect = os.environ.get("PTY_EXPECT", "health: ,JOB").split(",")
    seen, ok = read_until(fd, expect[-1].encode(), seen)
    missing = [e for e in expect if e.encode() not in seen]
    if missing:
        print("the frame lacks %r: %r" % (missing, seen[-800:]))
        os.kill(pid, 9)
        return 1
    raw = termios.tcgetattr(fd)
    if raw[3] & (termios.ICANON | termios.ECHO):
        print("the live view left canonical mode or echo on")
        return 1
    os.write(fd, b"\x03" if key == "ctrl-c" else b"q")
    end = time.time() + BOUND_S
    status = None
    while time.time() < end:
        seen, _ = read_until(fd, b"\033[?1049l", seen)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        print("still running %.0f s after %s" % (BOUND_S, key))
        return 1
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    except OSError:
        pass
    after = termios.tcgetattr(fd)
    problems = []
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        problems.append("exit status %r" % status)
    if not seen.startswith(b"\033[?1049h"):
        problems.append("did not open the alternate screen first")
    tail = seen[seen.rfind(b"press q to quit"):]
    if b"\033[?25h" not in tail or b"\033[?1049l" not in tail:
        problems.append("did not show the cursor and leave the alternate screen: %r" % tail[-80:])
    if after[3] != before[3]:
        problems.append("terminal modes not restored (lflag %#x, was %#x)" % (after[3], before[3]))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
