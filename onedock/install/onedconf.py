"""Editing oned.conf and monitord.conf: a managed block, and `onedock` in MAD argument lists.

OpenNebula's config syntax is `NAME = [ KEY = "value", ... ]` blocks between comments, with
free formatting, so edits are surgical: the block is appended between BEGIN/END markers, and
`,onedock` is added to the `-d` list inside the ARGUMENTS string, touching no other byte.
"""

from __future__ import annotations

import re

from onedock.errors import OneDockError

BEGIN = "# onedock: BEGIN managed block"
END = "# onedock: END managed block"
_BLOCK = re.compile(r"^[ \t]*([A-Za-z_]+)[ \t]*=[ \t]*\[", re.M)
_ATTR = re.compile(r'(\w+)\s*=\s*"([^"]*)"', re.S)


def blocks(text: str) -> list[tuple[str, int, int, dict[str, str]]]:
    """(name, start, end, attributes) of every `NAME = [ ... ]` block, outside comments."""
    found = []
    for match in _BLOCK.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if text[line_start:match.start()].lstrip().startswith("#"):
            continue
        depth, pos, quoted = 0, match.end() - 1, False
        while pos < len(text):
            char = text[pos]
            if char == '"':
                quoted = not quoted
            elif char == "#" and not quoted:
                pos = text.find("\n", pos)
                if pos < 0:
                    break
                continue
            elif not quoted and char == "[":
                depth += 1
            elif not quoted and char == "]":
                depth -= 1
                if depth == 0:
                    break
            pos += 1
        if depth != 0:
            line = text.count("\n", 0, match.start()) + 1
            raise OneDockError(f"unbalanced brackets in the {match.group(1)} block at line {line}")
        body = text[match.end():pos]
        attrs = {k.upper(): v for k, v in _ATTR.findall(body)}
        found.append((match.group(1).upper(), match.start(), pos + 1, attrs))
    return found


def value(text: str, key: str) -> str:
    """A top-level `KEY = "value"` of oned.conf (the last one wins, as in oned), or ""."""
    found = ""
    for match in re.finditer(rf'^[ \t]*{re.escape(key)}[ \t]*=[ \t]*"?([^"\n#]*)"?[ \t]*$',
                             text, re.MULTILINE):
        found = match.group(1).strip()
    return found


def managed_span(text: str) -> tuple[int, int] | None:
    start = text.find(BEGIN)
    if start < 0:
        return None
    end = text.find(END, start)
    if end < 0:
        raise OneDockError("found the onedock BEGIN marker but no END marker",
                           hint="restore the block or remove the BEGIN line by hand")
    end = text.find("\n", end)
    return start, (len(text) if end < 0 else end + 1)


def foreign_onedock(text: str) -> list[str]:
    """onedock sections written by someone else (e.g. ONEDock's bash drivers)."""
    span = managed_span(text)
    out = []
    for name, start, _, attrs in blocks(text):
        if span and span[0] <= start < span[1]:
            continue
        if attrs.get("NAME", "").lower() == "onedock":
            out.append(f"{name} at line {text.count(chr(10), 0, start) + 1}")
    return out


def _args_span(text: str, mad: str) -> tuple[int, int, str]:
    for name, start, end, attrs in blocks(text):
        if name == mad and "ARGUMENTS" in attrs:
            body = text[start:end]
            match = re.search(r'ARGUMENTS\s*=\s*"([^"]*)"', body, re.I)
            if match:
                return start + match.start(1), start + match.end(1), match.group(1)
    raise OneDockError(f"oned.conf has no {mad} block with ARGUMENTS",
                       hint="is this OpenNebula's oned.conf?")


def _d_list(args: str) -> re.Match | None:
    return re.search(r"(?:^|\s)-d\s+(\S+)", args)


def add_driver(text: str, mad: str, driver: str = "onedock") -> tuple[str, bool]:
    """Add driver to the -d list of MAD's ARGUMENTS; (text, whether it changed)."""
    start, end, args = _args_span(text, mad)
    match = _d_list(args)
    if match is None:
        return text, False  # no -d list: every driver directory is enabled already
    items = match.group(1).split(",")
    if driver in items:
        return text, False
    new_args = args[: match.end(1)] + f",{driver}" + args[match.end(1):]
    return text[:start] + new_args + text[end:], True


def remove_driver(text: str, mad: str, driver: str = "onedock") -> str:
    start, end, args = _args_span(text, mad)
    match = _d_list(args)
    if match is None:
        return text
    items = match.group(1).split(",")
    if driver not in items:
        return text
    kept = ",".join(i for i in items if i != driver)
    new_args = args[: match.start(1)] + kept + args[match.end(1):]
    return text[:start] + new_args + text[end:]


def add_block(text: str, block: str) -> str:
    span = managed_span(text)
    if span:
        return text[: span[0]] + block + text[span[1]:]
    sep = "" if text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    return text + sep + block


def remove_block(text: str) -> str:
    span = managed_span(text)
    if not span:
        return text
    head = text[: span[0]]
    tail = text[span[1]:]
    if head.endswith("\n\n") and not tail:
        head = head[:-1]
    return head + tail
