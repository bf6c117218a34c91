"""Where things are in the YAML file: 1-based lines of nodes along a field path, field paths as text
(``accounts[0].guardrails.max_bid``), and the collected issues, sorted by line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bidder.errors import ConfigIssue


class Issues:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []
        self.cols: dict[ConfigIssue, int] = {}

    def _make(self, line: int | None, path: str, message: str) -> ConfigIssue:
        issue = ConfigIssue(self.file, None if line is None else int(line), path, message)
        self.cols.setdefault(issue, getattr(line, "col", 0))
        return issue

    def error(self, line: int | None, path: str, message: str) -> None:
        issue = self._make(line, path, message)
        if issue not in self.errors:
            self.errors.append(issue)

    def warning(self, line: int | None, path: str, message: str) -> None:
        self.warnings.append(self._make(line, path, f"warning: {message}"))

    def sorted(self, issues: list[ConfigIssue]) -> list[ConfigIssue]:
        """By line, then column, then the order found."""
        order = {issue: n for n, issue in enumerate(issues)}
        return sorted(issues, key=lambda i: (i.line or 0, self.cols.get(i, 0), order[i]))


def plain(node: Any) -> Any:
    """ruamel's round-trip containers and scalars -> plain dict / list / str / int / float / bool."""
    if isinstance(node, Mapping):
        return {_key(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


class _Line(int):
    """A 1-based line number that also carries the column (used only to order issues on one line)."""

    col: int = 0


def _at(line: int, col: int) -> _Line:
    out = _Line(line)
    out.col = col
    return out


def _key(key: Any) -> str:
    """A mapping key as text: YAML allows 1, null or true as keys; the config's keys are all names."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _find_key(node: CommentedMap, part: Any) -> Any:
    if part in node:
        return part
    for key in node:
        if _key(key) == part:
            return key
    return _MISSING


_MISSING = object()


def line_of(tree: Any, loc: tuple) -> _Line | None:
    """1-based line of the deepest existing node along ``loc`` (the key's line for mapping keys)."""
    node = tree
    line = (
        _at(tree.lc.line + 1, tree.lc.col or 0) if hasattr(tree, "lc") and tree.lc.line is not None else None
    )
    for part in loc:
        key = _find_key(node, part) if isinstance(node, CommentedMap) else _MISSING
        if key is not _MISSING:
            try:
                line = _at(node.lc.key(key)[0] + 1, node.lc.key(key)[1])
            except (KeyError, TypeError, AttributeError):
                pass  # a merged (<<) key has no position of its own
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            try:
                line = _at(node.lc.item(part)[0] + 1, node.lc.item(part)[1])
            except (KeyError, TypeError, AttributeError):
                pass
            node = node[part]
        else:
            break
    return line


def path_text(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out

