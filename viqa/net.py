"""Loopback, Host and proxy checks shared by the server (who may write, which names it serves, whom it trusts to
name the client) and the load-test client (where it may send)."""

from __future__ import annotations

import ipaddress
import re

from viqa.errors import InputError


def is_loopback(host: str | None) -> bool:
    """True for ``localhost``, 127.0.0.0/8, ``::1`` and IPv4-mapped loopback; False for anything else."""
    if not host:
        return False
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(entries: list[str], setting: str) -> tuple[Network, ...]:
    """``entries`` (addresses or CIDR networks, e.g. ``10.0.0.0/8``) parsed; InputError naming ``setting`` if not."""
    parsed = []
    for entry in entries:
        try:
            parsed.append(ipaddress.ip_network(entry.strip().strip("[]"), strict=False))
        except ValueError:
            raise InputError(f"bad setting {setting}: {entry!r} is not an IP address or network") from None
    return tuple(parsed)


def in_networks(host: str | None, nets: tuple[Network, ...]) -> bool:
    """True if ``host`` is an IP address inside one of ``nets`` (IPv4-mapped IPv6 counts as its IPv4)."""
    if not host or not nets:
        return False
    try:
        address = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return any(address in net or (mapped is not None and mapped in net) for net in nets)


def split_host(value: str) -> tuple[str, int | None] | None:
    """A Host header (``name``, ``name:port``, ``[v6]:port``) as (lower-case name, port); None if malformed."""
    value = value.strip()
    if value.startswith("["):
        name, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        port = rest[1:] if rest else None
    else:
        name, sep, port = value.partition(":")
        port = port if sep else None
    if port is not None and not (port.isascii() and port.isdigit() and 0 < len(port) <= 5):
        return None
    name = name.lower().rstrip(".")
    if not name or not _HOST_NAME.match(name):
        return None
    return name, None if port is None else int(port)


def host_allowed(value: str | None, allowed: list[str]) -> bool:
    """True if the Host header ``value`` names a loopback host (any port) or an entry of ``allowed``.

    An entry is a name (any port), ``name:port`` (that port only), or ``*`` (any host at all).
    """
    if "*" in allowed:
        return True
    parsed = split_host(value or "")
    if parsed is None:
        return False
    name, port = parsed
    if is_loopback(name):
        return True
    for entry in allowed:
        wanted = split_host(entry)
        if wanted is not None and wanted[0] == name and wanted[1] in (None, port):
            return True
    return False


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts, current, quoted, escaped = [], [], False, False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def forwarded_elements(values: list[str]) -> list[dict[str, str]]:
    """RFC 7239 ``Forwarded`` header values as their elements, first hop first: ``[{"for": ..., "proto": ...}]``."""
    elements = []
    for value in values:
        for element in _split_outside_quotes(value, ","):
            pairs = {}
            for pair in _split_outside_quotes(element, ";"):
                key, sep, raw = pair.partition("=")
                if sep and key.strip():
                    pairs[key.strip().lower()] = _unquote(raw)
            if pairs:
                elements.append(pairs)
    return elements


def node_address(node: str) -> str:
    """The address of a forwarded node (``192.0.2.1:80``, ``[2001:db8::1]:4711``, ``unknown``), port dropped."""
    node = node.strip()
    if node.startswith("["):
        return node[1:].partition("]")[0]
    if node.count(":") == 1:
        return node.partition(":")[0]
    return node


_HOST_NAME = re.compile(r"^[a-z0-9_.:-]+$")
