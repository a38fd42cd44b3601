"""Build an environment at the declared minimum (or newest) versions and run the test suite in it.

The minimums are not kept by hand: every requirement in ``pyproject.toml`` (the core, the extras an
environment asks for, and the extras those refer to) must carry a lower bound, and the ``minimum``
environment pins each one to exactly that bound through a pip constraints file written from
``pyproject.toml``. What the direct requirements pull in (their own dependencies) is resolved by pip
as usual. The ``newest`` environment installs the same extras with ``--upgrade --upgrade-strategy
eager``, so everything is the newest release the declared ranges allow.

    python3 tools/deps_matrix.py instrumentation       # no extras (API + numpy) at the bounds, Python 3.10
    python3 tools/deps_matrix.py minimum               # the test extra at the lower bounds, Python 3.10
    python3 tools/deps_matrix.py newest                # the test extra at the newest versions, Python 3.13
    python3 tools/deps_matrix.py newest-without-evidently  # every extra at the newest: pandas 3
    python3 tools/deps_matrix.py minimum --write-docs  # also record the result in docs/testing.md

The exit status is pytest's, or 1 with a message when the environment cannot be built. Run it
with the project's virtual environment or any Python that has ``packaging`` (pytest depends on it).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"^=*\s*(\d+ (?:passed|failed|errors?|skipped|deselected)\b.*?)\s*=*$", re.M)
PROGRESS = re.compile(r"^[.sxXFE]+\s*(\[\s*\d+%\])?$")
DOCS = ROOT / "docs" / "testing.md"


@dataclasses.dataclass(frozen=True)
class Environment:
    """One environment of the matrix: which extras, which Python, which tests."""

    name: str
    extras: tuple[str, ...]
    python: str
    pin_minimum: bool
    pytest_args: tuple[str, ...]
    # requirements of other extras installed beside, at their bound too (pytest for a no-extras run)
    also: tuple[str, ...] = ()


ENVIRONMENTS = {
    "minimum": Environment("minimum", ("test",), "3.10", True, ()),
    "newest": Environment("newest", ("test",), "3.13", False, ()),
    # evidently (a test-only peer) holds pandas below 3; the pandas extra does not, so pandas 3 is
    # tested here: every extra at its newest, the test tools but evidently, its peer checks left out.
    "newest-without-evidently": Environment(
        "newest-without-evidently", ("all",), "3.13", False,
        tuple(f"--ignore=tests/sdk/analyzer/{path}" for path in (
            "drift/test_hellinger.py", "drift/test_ks.py", "drift/test_chi_square.py",
            "drift/test_jensen_shannon.py", "drift/test_psi.py", "drift/test_wasserstein.py", "test_performance.py")),
        ("pytest", "hypothesis", "pyyaml", "scikit-learn", "cryptography"),
    ),
    # The README's promise: the instrumentation needs only opentelemetry-api and numpy.
    # tests/sdk/conftest.py needs the SDK, hence --noconftest; the test runs a real monitored model.
    "instrumentation": Environment(
        "instrumentation", (), "3.10", True, ("--noconftest", "tests/sdk/test_import_isolation.py"), ("pytest",)
    ),
}


def project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["project"]  # type: ignore[no-any-return]


def requirements(meta: dict[str, object], extras: Iterable[str], also: Iterable[str] = ()) -> list[Requirement]:
    """The direct requirements of the core plus ``extras``, self-references (``modelspan[sdk]``) expanded."""
    optional: dict[str, list[str]] = meta["optional-dependencies"]  # type: ignore[assignment]
    found = [Requirement(text) for text in meta["dependencies"]]  # type: ignore[attr-defined]
    seen: set[str] = set()
    todo = list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in optional[extra]:
            req = Requirement(text)
            if req.name == meta["name"]:
                todo.extend(req.extras)
            else:
                found.append(req)
    wanted = set(also)
    found += [Requirement(t) for texts in optional.values() for t in texts if Requirement(t).name in wanted]
    return found


def applying(reqs: list[Requirement], python: str) -> list[Requirement]:
    """The requirements whose environment marker holds on ``python`` (``import-linter; python_version >= '3.11'``
    is not installed, so not pinned, on 3.10).

    >>> [str(r) for r in applying([Requirement("a>=1"), Requirement("b>=2; python_version >= '3.11'")], "3.10")]
    ['a>=1']
    """
    environment = {"python_version": python, "python_full_version": f"{python}.0"}
    return [req for req in reqs if req.marker is None or req.marker.evaluate(environment)]


def lower_bound(req: Requirement) -> Version:
    bounds = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
    if not bounds:
        raise SystemExit(f"pyproject.toml: {req} has no lower bound, so no minimum can be tested; add one")
    return max(bounds)


def constraints(reqs: list[Requirement]) -> dict[str, Version]:
    """Each requirement at its lower bound; a name declared twice takes the higher of its bounds."""
    pins: dict[str, Version] = {}
    for req in reqs:
        key = canonical(req.name)
        pins[key] = max(pins.get(key, Version("0")), lower_bound(req))
    for req in reqs:
        if not req.specifier.contains(pins[canonical(req.name)], prereleases=True):
            raise SystemExit(f"pyproject.toml: {req} excludes {pins[canonical(req.name)]}, another extra's bound")
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def find_python(version: str) -> str:
    """``python3.10`` from PATH, or pyenv's copy when the shim does not point at it."""
    command = f"python{version}"
    candidates = [found] if (found := shutil.which(command)) else []
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/{command}")), reverse=True)
    for candidate in candidates:
        probe = subprocess.run([candidate, "-c", "import ssl, sqlite3, venv"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    raise SystemExit(f"no working {command} on this machine (tried: {', '.join(candidates) or 'PATH, ~/.pyenv'})")


def run(args: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    with log.open("a") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        return subprocess.run(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, check=False).returncode


def build(spec: Environment, where: Path, log: Path) -> tuple[Path, dict[str, Version], float]:
    """A fresh virtual environment with the project installed (editable) as ``spec`` asks."""
    meta = project()
    reqs = applying(requirements(meta, spec.extras, spec.also), spec.python)
    pins = constraints(reqs)
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    started = time.monotonic()
    python = find_python(spec.python)
    if run([python, "-m", "venv", str(where / "venv")], log):
        raise SystemExit(f"{spec.name}: venv failed, see {log}")
    vpython = where / "venv" / "bin" / "python"
    pip = [str(vpython), "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "--quiet", "--upgrade", "pip"], log)
    target = "." + (f"[{','.join(spec.extras)}]" if spec.extras else "")
    beside = [str(r) for r in reqs if r.name in spec.also]
    install = [*pip, "install", "--progress-bar", "off", "--editable", target, *beside]
    env = dict(os.environ)
    if spec.pin_minimum:
        written = where / "constraints.txt"
        written.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
        # PIP_CONSTRAINT (not -c) so the isolated build of the project itself is held to it too
        env["PIP_CONSTRAINT"] = str(written)
    else:
        install[5:5] = ["--upgrade", "--upgrade-strategy", "eager"]
    if run(install, log, env):
        raise SystemExit(f"{spec.name}: install failed:\n{tail(log, 30)}")
    installed = installed_versions(vpython, sorted(pins))
    if spec.pin_minimum:
        wrong = {n: (str(pins[n]), str(v)) for n, v in installed.items() if v != pins[n]}
        if wrong:
            raise SystemExit(f"{spec.name}: not at the declared minimum (wanted, got): {wrong}")
    return vpython, installed, time.monotonic() - started


def tail(log: Path, lines: int) -> str:
    """The end of a log without pip's notes about local indexes it skipped."""
    kept = [line for line in log.read_text().splitlines() if not line.startswith("WARNING: Location")]
    return "\n".join(kept[-lines:])


def installed_versions(vpython: Path, names: list[str]) -> dict[str, Version]:
    code = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    out = subprocess.run([str(vpython), "-c", code, *names], capture_output=True, text=True, check=True).stdout
    return {name: Version(text) for name, text in json.loads(out).items()}


def run_tests(vpython: Path, spec: Environment, log: Path) -> tuple[int, str, float]:
    """pytest in the environment: its exit status, its summary line and how long it took."""
    started = time.monotonic()
    code = run([str(vpython), "-m", "pytest", "-q", "-p", "no:cacheprovider", *spec.pytest_args], log)
    counts = SUMMARY.findall(log.read_text())
    return code, counts[-1] if counts else "no pytest summary", time.monotonic() - started


def section(spec: Environment, vpython: Path, installed: dict[str, Version], reqs: list[Requirement],
            result: tuple[int, str, float], build_seconds: float) -> str:
    """The Markdown block recorded in docs/testing.md for one environment."""
    version = subprocess.run([str(vpython), "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    declared: dict[str, set[str]] = {}
    for req in reqs:
        declared.setdefault(canonical(req.name), set()).add(str(req.specifier))
    extras = f"`.[{','.join(spec.extras)}]`" if spec.extras else "`.` (no extras)"
    code, summary, seconds = result
    lines = [
        f"#### {spec.name}",
        "",
        f"{extras} on Python {version}, {time.strftime('%Y-%m-%d')}: **{summary}** (pytest exit status {code}).",
        f"Building the environment took {build_seconds:.0f} s, the tests {seconds:.0f} s (this machine, 2 cores).",
        "",
        "| requirement | declared | installed |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {n} | `{' ; '.join(sorted(declared[n]))}` | {v} |" for n, v in sorted(installed.items())]
    return "\n".join(lines)


def write_docs(docs: Path, name: str, block: str) -> None:
    """Replace environment ``name``'s block in ``docs`` (appended under "Dependency ranges" if absent)."""
    begin, end = f"<!-- deps-matrix {name}: written by tools/deps_matrix.py -->", f"<!-- /deps-matrix {name} -->"
    text = docs.read_text() if docs.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + begin + "\n" + block + "\n" + end + rest.split(end, 1)[1]
    else:
        if "## Dependency ranges" not in text:
            text += "\n## Dependency ranges\n"
        text += f"\n{begin}\n{block}\n{end}\n"
    docs.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("environment", choices=sorted(ENVIRONMENTS))
    parser.add_argument("--python", help="interpreter version to use instead of the environment's (e.g. 3.11)")
    parser.add_argument("--where", type=Path, help="directory for the virtual environment (default .deps/NAME)")
    parser.add_argument("--write-docs", action="store_true", help="record the result in docs/testing.md")
    args = parser.parse_args(argv)
    spec = ENVIRONMENTS[args.environment]
    if args.python:
        spec = dataclasses.replace(spec, python=args.python)
    where = args.where or ROOT / ".deps" / spec.name
    log = where.parent / f"{spec.name}.log"
    where.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    print(f"{spec.name}: building {where} (log: {log})", flush=True)
    vpython, installed, build_seconds = build(spec, where, log)
    print(f"{spec.name}: installed " + ", ".join(f"{n} {v}" for n, v in sorted(installed.items())), flush=True)
    result = run_tests(vpython, spec, log)
    print(f"{spec.name}: built in {build_seconds:.0f} s, tests took {result[2]:.0f} s; pytest says:")
    # pytest's own report without the progress dots, its summary line last (CI reads that line)
    report = log.read_text().split(" -m pytest ", 1)[-1].splitlines()[1:]
    print("\n".join(line for line in report if not PROGRESS.match(line)), flush=True)
    if args.write_docs:
        reqs = applying(requirements(project(), spec.extras, spec.also), spec.python)
        write_docs(DOCS, spec.name, section(spec, vpython, installed, reqs, result, build_seconds))
    return result[0]


if __name__ == "__main__":
    sys.exit(main())
