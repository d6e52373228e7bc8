#!/usr/bin/env python3
"""Run a command on a pseudo-terminal and answer its prompts as a person would:
each line of standard input is typed only after the program has printed a
prompt (text ending in ': '). Prints everything the terminal showed and exits
with the command's status."""
import os
import pty
import select
import sys
import time


def read_some(fd, timeout):
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return b""
    try:
        return os.read(fd, 4096)
    except OSError:  # the child closed the terminal
        return None


def main():
    answers = sys.stdin.read().splitlines()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(sys.argv[1], sys.argv[1:])
    shown = b""
    deadline = time.time() + 30
    for answer in answers:
        while not shown.rstrip(b" ").endswith(b":") and time.time() < deadline:
            chunk = read_some(fd, 0.2)
            if chunk is None:
                break
            shown += chunk
        os.write(fd, answer.encode() + b"\n")
        shown += b"\n"  # so the next prompt is looked for after this one
    # Until the child closes the terminal (reading then fails with EIO).
    while time.time() < deadline:
        chunk = read_some(fd, 0.2)
        if chunk is None:
            break
        shown += chunk
    sys.stdout.write(shown.decode(errors="replace").replace("\r", ""))
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
