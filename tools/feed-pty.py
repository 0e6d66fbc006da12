#!/usr/bin/env python3
"""Runs a command in a pseudo-terminal the size of this one and types scripted lines into it.

Used by tools/screenshots.sh inside real terminals (kitty, Konsole, xterm): everything the command
writes goes to this terminal unchanged, so the terminal draws the app's pictures itself, and no
keystrokes have to be sent through X. Each line is typed once the app has shown its prompt and
then `--pause` seconds have passed (the model draws a grid in well under that).

    feed-pty.py [--pause S] [--hold S] --line 3 --line 7 -- node dist/cli.js --seed 1
"""
import argparse
import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time

parser = argparse.ArgumentParser()
parser.add_argument('--line', action='append', default=[])
parser.add_argument('--pause', type=float, default=6.0)
parser.add_argument('--hold', type=float, default=600.0, help='seconds to keep the window open after the app exits')
parser.add_argument('command', nargs=argparse.REMAINDER)
args = parser.parse_args()
command = args.command[1:] if args.command[:1] == ['--'] else args.command

size = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b'\0' * 8)
pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)
fcntl.ioctl(fd, termios.TIOCSWINSZ, size)

seen = b''
lines = list(args.line)
next_at = None
while True:
    timeout = None if next_at is None else max(0.0, next_at - time.time())
    ready, _, _ = select.select([fd], [], [], timeout)
    if ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        os.write(sys.stdout.fileno(), data)
        seen = (seen + data)[-4096:]
        if next_at is None and lines and b'input digit to generate:' in seen:
            next_at = time.time() + args.pause
    elif next_at is not None and lines:
        os.write(fd, (lines.pop(0) + '\r').encode())
        seen = b''
        next_at = None
os.waitpid(pid, 0)
time.sleep(args.hold)
