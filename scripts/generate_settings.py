"""Write the target's setting lists from its own `--about`: the config schema is their one source.

    python scripts/generate_settings.py          # rewrite the three files below
    python scripts/generate_settings.py --check  # exit 1 when any of them is out of date

Generated:
  * meltano.yml: the loader's `settings:` list, between the BEGIN/END marker comments (the rest
    of the file is kept byte for byte);
  * plugin/target-linkedin-capi.yml (Hub-style definition): the same list,
    between the same markers;
  * docs/settings.md: one section per setting.

Run it with the project's virtualenv (`.venv/bin/python scripts/generate_settings.py`): it calls
the `target-linkedin-capi` installed next to that Python.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TARGET = "target-linkedin-capi"
MELTANO_YML = ROOT / "meltano.yml"
HUB_YML = ROOT / "plugin" / "target-linkedin-capi.yml"
SETTINGS_MD = ROOT / "docs" / "settings.md"
BEGIN = "# BEGIN generated settings (python scripts/generate_settings.py; do not edit by hand)"
END = "# END generated settings"
# The target's own annotation for allowed values it checks itself, in any case
# (target_linkedin_capi/config/settings.py ALLOWED_VALUES); `enum` is the SDK's, case-sensitive.
ALLOWED_VALUES = "x-allowed-values"
KINDS = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


def about() -> dict[str, Any]:
    """`target-linkedin-capi --about --format json`, from the virtualenv of this Python."""
    exe = Path(sys.executable).parent / TARGET
    command = str(exe) if exe.exists() else shutil.which(TARGET)
    if command is None:
        sys.exit(f"{TARGET} is not installed; run this script with the project's .venv/bin/python")
    proc = subprocess.run(
        [command, "--about", "--format", "json"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(proc.stdout)


def _types(prop: dict[str, Any]) -> list[str]:
    types = prop.get("type", "string")
    types = [types] if isinstance(types, str) else list(types)
    return [kind for kind in types if kind != "null"] or ["string"]


def kind_of(prop: dict[str, Any]) -> str:
    """Meltano `kind`. Never `options`: Meltano 4 refuses a value outside them (and any other
    case) with a long traceback and no list, before the target can say what is valid."""
    types = _types(prop)
    if "string" in types:  # ids are "string or integer": Meltano passes them as text
        return "string"
    return KINDS.get(types[0], "string")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def allowed_values(prop: dict[str, Any]) -> tuple[list[Any], bool]:
    """The allowed values and whether any case is accepted."""
    if ALLOWED_VALUES in prop:
        return list(prop[ALLOWED_VALUES]), any(isinstance(v, str) for v in prop[ALLOWED_VALUES])
    return list(prop.get("enum") or []), False


def description_of(name: str, prop: dict[str, Any]) -> str:
    text = (prop.get("description") or prop.get("title") or name).strip()
    if not text.endswith("."):
        text += "."
    allowed, any_case = allowed_values(prop)
    if allowed:
        case = " (any case)" if any_case else ""
        text += f" Allowed values{case}: {', '.join(_shown(v) for v in allowed)}."
    if prop.get("default") is not None:
        text += f" Default: {_shown(prop['default'])}."
    return text


def label_of(name: str, prop: dict[str, Any]) -> str:
    return prop.get("title") or name.replace("_", " ").capitalize()


def meltano_settings(properties: dict[str, Any]) -> list[dict[str, Any]]:
    settings = []
    for name, prop in properties.items():
        # Meltano's own key order: `meltano config set` rewrites meltano.yml in it.
        setting: dict[str, Any] = {
            "name": name,
            "kind": kind_of(prop),
            "label": label_of(name, prop),
            "description": description_of(name, prop),
        }
        if prop.get("secret") or prop.get("writeOnly"):
            setting["sensitive"] = True
        # No `value`: Meltano would pass it as if the user had set it; defaults are the target's.
        settings.append(setting)
    return settings


class _Description(str):
    """Emitted folded (`>-`), as the hand-written lists were: long text stays readable."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Description,
    lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style=">"),
)


def settings_block(settings: list[dict[str, Any]], indent: str) -> str:
    folded = [
        {**s, "description": _Description(s["description"])} if len(s["description"]) > 60 else s
        for s in settings
    ]
    body = yaml.dump(
        folded,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=96 - len(indent),
    )
    # The `settings:` key is inside the markers: Meltano drops a comment line that directly
    # follows it when `meltano config set` rewrites meltano.yml.
    lines = [
        indent + BEGIN,
        indent + "settings:",
        *(indent + line for line in body.splitlines()),
        indent + END,
    ]
    return "\n".join(lines) + "\n"


def _settings_key(lines: list[str], path: Path) -> tuple[int, str]:
    """Index and indent of the `settings:` key of the target's plugin definition."""
    if path != MELTANO_YML:
        found = [(i, "") for i, line in enumerate(lines) if line.rstrip("\n") == "settings:"]
    else:
        # The plugin definition, not an environment's `- name:` entry (those have no settings).
        plugin = re.compile(rf"^(\s*)- name: {re.escape(TARGET)}\s*$")
        found = []
        for start, line in enumerate(lines):
            match = plugin.match(line)
            if not match:
                continue
            indent = " " * (len(match.group(1)) + 2)
            for i in range(start + 1, len(lines)):
                if lines[i].rstrip("\n") == f"{indent}settings:":
                    found.append((i, indent))
                if lines[i].strip() and not lines[i].startswith(indent):
                    break
    if len(found) != 1:
        sys.exit(f"{path}: expected one `settings:` list for {TARGET}, found {len(found)}")
    return found[0]


def splice(text: str, block: Callable[[str], str], path: Path) -> str:
    """`text` with the target's `settings:` list (and its marker comments) replaced.

    Found by structure, not only by the markers: `meltano config set` rewrites meltano.yml
    and drops the BEGIN comment. Everything else is kept byte for byte.
    """
    lines = text.splitlines(keepends=True)
    key, indent = _settings_key(lines, path)
    first = key - 1 if key and lines[key - 1].strip() == BEGIN else key
    end = key + 1
    while end < len(lines) and (
        not lines[end].strip()
        or lines[end].startswith(f"{indent}- ")
        or lines[end].startswith(indent + "  ")
    ):
        end += 1
    if end < len(lines) and lines[end].strip() == END:
        end += 1
    return "".join(lines[:first]) + block(indent) + "".join(lines[end:])


def markdown(info: dict[str, Any]) -> str:
    properties = info["settings"]["properties"]
    out = [
        f"# `{info['name']}` settings",
        "",
        "<!-- Generated by `python scripts/generate_settings.py` from "
        f"`{TARGET} --about --format json`; do not edit by hand. -->",
        "",
        "In Meltano, set them with `meltano config set target-linkedin-capi NAME VALUE` or as "
        "environment variables `TARGET_LINKEDIN_CAPI_<NAME>`; the target also reads a "
        "`--config` JSON file.",
        "",
        "| Setting | Type | Default | Secret |",
        "|:--------|:-----|:--------|:------:|",
    ]
    for name, prop in properties.items():
        default = prop.get("default")
        out.append(
            f"| [`{name}`](#{name}) | {' or '.join(_types(prop))} | "
            f"{'' if default is None else f'`{_shown(default)}`'} | "
            f"{'yes' if prop.get('secret') or prop.get('writeOnly') else ''} |"
        )
    for name, prop in properties.items():
        out += ["", f"## `{name}`", "", f"**{label_of(name, prop)}.** {_description(prop)}", ""]
        out.append(f"- Type: {' or '.join(_types(prop))}")
        if prop.get("default") is not None:
            out.append(f"- Default: `{_shown(prop['default'])}`")
        allowed, any_case = allowed_values(prop)
        if allowed:
            listed = ", ".join(f"`{_shown(v)}`" for v in allowed)
            out.append(f"- Allowed values{' (any case)' if any_case else ''}: {listed}")
        if prop.get("secret") or prop.get("writeOnly"):
            out.append("- Secret: yes (never logged; keep it in `.env` or the environment)")
        out.append(f"- Environment variable: `TARGET_LINKEDIN_CAPI_{name.upper()}`")
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        entry_keys = items.get("properties") or {}
        if entry_keys:
            out.append(f"- Entry keys: {', '.join(f'`{key}`' for key in entry_keys)}")
    return "\n".join(out) + "\n"


def _description(prop: dict[str, Any]) -> str:
    return " ".join((prop.get("description") or "").split())


def generated() -> dict[Path, str]:
    info = about()
    settings = meltano_settings(info["settings"]["properties"])
    files = {}
    for path in (MELTANO_YML, HUB_YML):
        text = path.read_text(encoding="utf-8")
        files[path] = splice(text, lambda indent: settings_block(settings, indent), path)
    files[SETTINGS_MD] = markdown(info)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only report files that are out of date (exit 1)"
    )
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path.relative_to(ROOT).as_posix())
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale and args.check:
        print(
            f"Out of date with `{TARGET} --about`: {', '.join(stale)}. "
            "Run `.venv/bin/python scripts/generate_settings.py` and commit the result.",
            file=sys.stderr,
        )
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
