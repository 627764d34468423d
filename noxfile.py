"""Development tasks: `nox -s tests`, `lint`, `typing`, `demo`, `bench` (`nox -l` lists them).

Every session gets its own virtualenv under `.nox/`, made by uv and filled from `uv.lock`
(`uv sync --frozen`) with the dependency groups it needs, so the versions are the locked ones
on every machine. Arguments after `--` go to the session's tool, e.g.
`nox -s tests -- tests/e2e -x` or `nox -s bench -- --records 2000`.

Only nox and uv have to be installed first: `python3 -m pip install uv nox`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"  # `uv sync` below makes a reused venv match the lock exactly
nox.options.sessions = ["lint", "typing", "tests"]

ROOT = Path(__file__).resolve().parent
PLUGIN_EXECUTABLES = (
    ".meltano/extractors/tap-postgres/venv/bin/tap-postgres",
    ".meltano/extractors/tap-jsonl/venv/bin/tap-jsonl",
    ".meltano/loaders/target-linkedin-capi/venv/bin/target-linkedin-capi",
)

# Meltano installs its plugins with uv, which trusts only its bundled CA roots unless told
# otherwise; pip may be configured with a CA bundle (a TLS-inspecting proxy, say) that uv would
# not see. Hand uv the same bundle, or else the system trust store.
if not any(os.environ.get(name) for name in ("SSL_CERT_FILE", "UV_SYSTEM_CERTS", "UV_NATIVE_TLS")):
    _bundle = next(
        (
            value
            for value in map(os.environ.get, ("PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"))
            if value and Path(value).is_file()
        ),
        None,
    )
    if _bundle:
        os.environ["SSL_CERT_FILE"] = _bundle
    else:
        os.environ["UV_SYSTEM_CERTS"] = "1"


def sync(session: nox.Session, *groups: str, project: bool = True) -> None:
    """Install the locked dependencies (and the project, editable) into the session's venv."""
    args = ["uv", "sync", "--frozen", "--no-default-groups"]
    for group in groups:
        args += ["--group", group]
    if not project:
        args.append("--no-install-project")
    session.run_install(
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location, "UV_PYTHON_DOWNLOADS": "never"},
        silent=True,
    )


def meltano_install(session: nox.Session) -> None:
    """`meltano install` of the project's plugins into .meltano/, skipped when already done."""
    stamp_file = ROOT / ".meltano" / ".nox-plugins"
    digest = hashlib.sha256()
    for name in ("meltano.yml", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    stamp = digest.hexdigest()
    if (
        stamp_file.is_file()
        and stamp_file.read_text().strip() == stamp
        and all((ROOT / path).exists() for path in PLUGIN_EXECUTABLES)
    ):
        session.log("Meltano plugins are installed (.meltano/); skipping `meltano install`")
        return
    session.run("meltano", "install", env={"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"})
    missing = [path for path in PLUGIN_EXECUTABLES if not (ROOT / path).exists()]
    if missing:
        session.error(f"meltano install finished but these executables are missing: {missing}")
    stamp_file.write_text(stamp + "\n")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite (target, emulator, Meltano + PostgreSQL end to end, packaging).

    Without arguments (as CI runs it) ruff and mypy run first, so the README's test command is
    everything CI checks; with arguments (a subset of the tests) they are skipped.
    """
    session.run("uv", "lock", "--check")  # uv.lock must match pyproject.toml
    args = list(session.posargs)
    if args:
        sync(session, "test")
    else:
        sync(session, "test", "lint", "typing")
        session.run("ruff", "check", ".")
        session.run("ruff", "format", "--check", ".")
        session.run("mypy")
    meltano_install(session)
    if not any(arg in ("-n", "--numprocesses", "-p") or arg.startswith("-n") for arg in args):
        # loadgroup: tests marked xdist_group("meltano") share one worker, so two Meltano runs
        # never reinstall or use the same plugin virtualenvs at the same time.
        args = ["-n", "2", "--dist", "loadgroup", *args]
    # Only exit code 0 passes: pytest's 5 ("no tests collected") fails the session too, as a
    # run that tested nothing must not look green.
    session.run("pytest", *args, env={"PYTHONUNBUFFERED": "1"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    sync(session, "lint", project=False)
    session.run("ruff", "check", *session.posargs, ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy on the target and the emulator."""
    sync(session, "typing")
    session.run("mypy", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """A real `meltano run tap-jsonl target-linkedin-capi` into the LinkedIn emulator."""
    sync(session, "demo")
    meltano_install(session)
    session.run("python", "scripts/demo.py", *session.posargs, env={"PYTHONUNBUFFERED": "1"})


@nox.session
def bench(session: nox.Session) -> None:
    """The side-by-side benchmark (tests/benchmarks/bench.py); arguments go to it."""
    sync(session, "bench")
    session.run("python", "-m", "tests.benchmarks.bench", *session.posargs)
