"""`strongroom policy ...`: write, read, list, delete ACL policies, and `fmt` to tidy a policy file."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from strongroom.cli.answer_fields import response_data
from strongroom.cli.client import ApiError
from strongroom.cli.errors import request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.logical_api import logical_read
from strongroom.cli.options import VaultGroup
from strongroom.cli.output import EXIT_LOCAL, EXIT_REMOTE, fail, print_error, print_json, print_line
from strongroom.cli.secret_output import list_keys

ACL_PATH = "sys/policies/acl"

# What Vault/OpenBao accept in a policy (vault/policy.go).
TOP_LEVEL_KEYS = ("name", "path")
PATH_KEYS = (
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "pagination_limit",
    "expiration",
    "list_scan_response_keys_filter_path",
    "control_group",
)
CAPABILITIES = (
    "deny",
    "create",
    "read",
    "update",
    "delete",
    "list",
    "sudo",
    "root",
    "patch",
    "scan",
    "subscribe",
    "recover",
)
LEGACY_POLICIES = ("deny", "read", "write", "sudo")


@click.group("policy", cls=VaultGroup)
def policy_group() -> None:
    """ACL policies: write, read, list, delete, fmt."""


@policy_group.command("write")
@global_flags
@click.argument("name")
@click.argument("source", metavar="FILE|-")
def write_command(flags: GlobalFlags, name: str, source: str) -> None:
    """Upload the policy in FILE (`-`: standard input) under NAME."""
    formatted = name.strip().lower()
    source = source.strip()
    if source == "-":
        rules = sys.stdin.read()
    else:
        rules = _read_policy_file(Path(source).expanduser(), f"Error opening policy file: {source}")
    with flags.client() as client, request_errors("uploading policy"):
        client.put(f"{ACL_PATH}/{formatted}", json={"policy": rules})
    if formatted != name:
        print_error(f'Policy name was converted from "{name}" to "{formatted}"')
    print_line(f"Success! Uploaded policy: {formatted}")


def _read_policy_file(path: Path, error: str) -> str:
    """The UTF-8 text of a policy file; a file that cannot be read ends the command with `<error>: <why>`."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"{error}: {exc.strerror or exc}", EXIT_LOCAL) from None
    except UnicodeDecodeError:
        raise fail(f"{error}: not UTF-8 text", EXIT_LOCAL) from None


@policy_group.command("read")
@global_flags
@click.argument("name")
def read_command(flags: GlobalFlags, name: str) -> None:
    """Print the rules of policy NAME."""
    name = name.strip().lower()
    with flags.client() as client, request_errors(f"reading policy named {name}"):
        secret = logical_read(client, f"{ACL_PATH}/{name}")
    rules = response_data(secret).get("policy") if secret else None
    if not rules:
        raise fail(f"No policy named: {name}", EXIT_REMOTE)
    if flags.json:
        print_json({"policy": rules})
    else:
        print_line(str(rules).strip())


@policy_group.command("list")
@global_flags
def list_command(flags: GlobalFlags) -> None:
    """List the names of the ACL policies."""
    with flags.client() as client, request_errors("listing policies"):
        try:
            secret = client.list(ACL_PATH)
        except ApiError as exc:
            if exc.status != 404:
                raise
            secret = None
    names = [str(name) for name in (list_keys(secret if isinstance(secret, dict) else None) or [])]
    if flags.json:
        print_json(names)
        return
    for name in names:
        print_line(name)


@policy_group.command("delete")
@global_flags
@click.argument("name")
def delete_command(flags: GlobalFlags, name: str) -> None:
    """Delete policy NAME; tokens that carry it lose its rules at once."""
    name = name.strip().lower()
    with flags.client() as client, request_errors(f"deleting {name}"):
        client.delete(f"{ACL_PATH}/{name}")
    print_line(f"Success! Deleted policy: {name}")


@policy_group.command("fmt")
@click.argument("source", metavar="FILE")
def fmt_command(source: str) -> None:
    """Check the policy in FILE and rewrite it in canonical HCL (comments are not kept)."""
    path = Path(source.strip()).expanduser()
    text = _read_policy_file(path, f"Error reading source file: {path}")
    try:
        formatted = format_policy(text)
    except PolicyFormatError as exc:
        raise fail(f"Error parsing policy {path}: {exc}", EXIT_LOCAL) from None
    if formatted != text:
        _replace(path, formatted)
    print_line(f"Success! Formatted policy: {path}")


# --- formatting ---------------------------------------------------------------------------------------


class PolicyFormatError(ValueError):
    """The policy text is not valid HCL or not a valid policy; the message names the line when it can."""


_PYHCL_POSITION = re.compile(r"^Line (\d+), column (\d+)(, index \d+)?: (.*)$", re.S)


def _syntax_error(text: str, exc: Exception) -> PolicyFormatError:
    """pyhcl's message, with a real column: its parser reports the byte offset in the column's place."""
    message = " ".join(str(exc).split())
    match = _PYHCL_POSITION.match(message)
    if match:
        line, number, from_lexer, detail = int(match.group(1)), int(match.group(2)), match.group(3), match.group(4)
        if from_lexer:  # the lexer counts columns from 0
            return PolicyFormatError(f"line {line}, column {number + 1}: {detail}")
        lines = text.split("\n")
        start = sum(len(item) + 1 for item in lines[: line - 1])
        if line <= len(lines) and start <= number <= start + len(lines[line - 1]):
            return PolicyFormatError(f"line {line}, column {number - start + 1}: {detail}")
        return PolicyFormatError(f"line {line}: {detail}")
    if message.startswith("Unexpected end of file"):
        last = len(text.rstrip("\n").split("\n"))
        return PolicyFormatError(f"line {last}: unexpected end of file{message[len('Unexpected end of file') :]}")
    return PolicyFormatError(message)


def _line_of(text: str, pattern: str) -> str:
    """`line N: ` for the first line matching `pattern`, to point at a semantic error ("" if none does)."""
    for number, line in enumerate(text.split("\n"), start=1):
        if re.search(pattern, line):
            return f"line {number}: "
    return ""


def _key_line(text: str, key: str) -> str:
    return _line_of(text, r'^\s*"?' + re.escape(key) + r'"?\s*[={"]')


def parse_policy_text(text: str) -> dict[str, Any]:
    """Parse with pyhcl and check the keys and capabilities the way Vault's ParseACLPolicy does."""
    import hcl  # pyhcl builds its parser tables on import: only `policy fmt` pays for it

    if not text.strip():
        raise PolicyFormatError("the policy is empty")
    try:
        tree = hcl.loads(text)
    except (ValueError, TypeError) as exc:
        raise _syntax_error(text, exc) from None
    if not isinstance(tree, dict):
        raise PolicyFormatError("the policy must be an object")
    for key in tree:
        if key not in TOP_LEVEL_KEYS:
            raise PolicyFormatError(f"{_key_line(text, key)}invalid key {key!r}")
    paths = tree.get("path", {})
    if not isinstance(paths, dict):
        raise PolicyFormatError('"path" must be a block: path "secret/*" { ... }')
    _check_duplicate_paths(text, paths)
    for name, rules in paths.items():
        where = _line_of(text, r'^\s*"?path"?\s*"' + re.escape(name) + '"')
        if not isinstance(rules, dict):
            raise PolicyFormatError(f'{where}path "{name}": expected a block')
        for key in rules:
            if key not in PATH_KEYS:
                raise PolicyFormatError(f'{_key_line(text, key) or where}path "{name}": invalid key {key!r}')
        capabilities = rules.get("capabilities", [])
        if not isinstance(capabilities, list) or not all(isinstance(item, str) for item in capabilities):
            raise PolicyFormatError(f'{where}path "{name}": capabilities must be a list of strings')
        for capability in capabilities:
            if capability not in CAPABILITIES:
                raise PolicyFormatError(f'{where}path "{name}": invalid capability {capability!r}')
        legacy = rules.get("policy")
        if legacy is not None and legacy not in LEGACY_POLICIES:
            raise PolicyFormatError(f'{where}path "{name}": invalid policy {legacy!r}')
    return tree


_PATH_LABEL = re.compile(r'^\s*"?path"?\s+"((?:[^"\\]|\\.)*)"\s*\{?', re.M)


def _check_duplicate_paths(text: str, paths: dict[str, Any]) -> None:
    """pyhcl silently merges repeated `path "x"` blocks; refuse rather than rewrite them into one."""
    seen: dict[str, int] = {}
    for match in _PATH_LABEL.finditer(text):
        label = match.group(1)
        line = text.count("\n", 0, match.start()) + 1
        if label in seen and label in paths:
            raise PolicyFormatError(
                f'line {line}: path "{label}" is already defined on line {seen[label]}; merge the two blocks'
            )
        seen.setdefault(label, line)


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-.]*$")


def _hcl_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _hcl_value(value: Any, indent: int) -> str:
    pad = "  " * indent
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _hcl_string(value)
    if value is None:
        return '""'
    if isinstance(value, list):
        if all(not isinstance(item, (dict, list)) for item in value):
            return "[" + ", ".join(_hcl_value(item, indent) for item in value) + "]"
        inner = ",\n".join(f"{pad}  {_hcl_value(item, indent + 1)}" for item in value)
        return f"[\n{inner},\n{pad}]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = [f"{pad}  {_hcl_key(key)} = {_hcl_value(item, indent + 1)}" for key, item in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{pad}}}"
    raise PolicyFormatError(f"cannot format a {type(value).__name__}")


def _hcl_key(key: str) -> str:
    return _hcl_string(key)


def format_policy(text: str) -> str:
    """Canonical HCL: `name` first, then one `path "x" { ... }` block per path, two-space indents."""
    tree = parse_policy_text(text)
    parts = []
    if "name" in tree:
        parts.append(f"name = {_hcl_value(tree['name'], 0)}")
    for name, rules in (tree.get("path") or {}).items():
        body = "\n".join(
            f"  {key if _IDENTIFIER.match(key) else _hcl_string(key)} = {_hcl_value(value, 1)}"
            for key, value in rules.items()
        )
        parts.append(f"path {_hcl_string(name)} {{\n{body}\n}}" if body else f"path {_hcl_string(name)} {{\n}}")
    formatted = "\n\n".join(parts) + "\n"
    import hcl

    try:
        reparsed = hcl.loads(formatted)
    except (ValueError, TypeError) as exc:  # pragma: no cover - the printer's own mistake
        raise PolicyFormatError(f"the formatted policy does not parse: {exc}") from None
    if reparsed != tree:  # pragma: no cover - the printer's own mistake
        raise PolicyFormatError("the formatted policy would not mean the same; the file was left alone")
    return formatted


def _replace(path: Path, text: str) -> None:
    """Write the new text next to the file and rename it over, keeping the file's permissions."""
    try:
        mode = path.stat().st_mode & 0o7777
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(temporary, mode)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise fail(f"Error writing result: {path}: {exc.strerror or exc}", EXIT_LOCAL) from None
