"""Who holds a port: read from Linux's /proc (elsewhere a taken port is only said to be taken).

`hotline run` checks every port before it starts anything, so an earlier hotline still running
(or anything else) is named at once instead of a child failing with "Address already in use".
"""

from __future__ import annotations

import errno
import os
import re
import socket
from pathlib import Path


class PortTaken(RuntimeError):
    """A port a child needs is held by another process (named in the message)."""


_SECRET_ARG = re.compile(r"token|secret|password|key", re.IGNORECASE)


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # fields: sl, local address (hex ip:port), remote, state (0A = LISTEN), …, inode
            if (
                len(fields) > 9
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                inodes.add(fields[9])
    return inodes


def _command_line(pid: int) -> str:
    """The process's command line, with values after secret-looking options hidden."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return "?"
    shown: list[str] = []
    hide_next = False
    for arg in filter(None, args):
        if hide_next:
            shown.append("***")
            hide_next = False
            continue
        if arg.startswith("-") and _SECRET_ARG.search(arg):
            if "=" in arg:
                arg = arg.split("=", 1)[0] + "=***"
            else:
                hide_next = True
        shown.append(arg if len(arg) <= 80 else arg[:79] + "…")
    text = " ".join(shown).replace("\n", " ")
    return text if len(text) <= 400 else text[:399] + "…"


def port_owners(port: int) -> list[tuple[int, str]]:
    """Returns (pid, command line) of every process of this user listening on the port."""
    targets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not targets:
        return []
    owners: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:  # gone, or another user's process
            continue
        if links & targets:
            owners.append((int(entry.name), _command_line(int(entry.name))))
    return sorted(owners)


def check_port_free(name: str, host: str, port: int) -> None:
    """Raises PortTaken, naming the process that holds the port, if it cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the servers do: a port in TIME_WAIT is free, one with a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise PortTaken(f"{name} cannot listen on {host}:{port}: {exc.strerror}") from exc
    owners = port_owners(port)
    if owners:
        held_by = "; ".join(f"pid {pid}: {cmd}" for pid, cmd in owners[:3])
    else:
        held_by = f"a process this user cannot see (see `sudo ss -ltnp 'sport = :{port}'`)"
    raise PortTaken(
        f"{name} cannot start: port {port} ({host}) is already in use by {held_by}. "
        "Stop that process (an earlier hotline still running?) or choose another port."
    )
