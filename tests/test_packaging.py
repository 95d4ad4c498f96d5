"""The wheel holds everything a user needs, and the command line runs from it.

An editable install maps dsl/ to wfdsl.dsl through a finder, so a package
missing from pyproject.toml or a data file left out of the wheel would still
work in the checkout; only a built wheel in a separate environment shows it.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "dsl": "wfdsl/dsl",
    "interpreter": "wfdsl/interpreter",
    "designer": "wfdsl/designer",
    "schemas": "wfdsl/schemas",
    "wfdsl": "wfdsl",
}

#: Seconds; each subprocess here is bounded only against a hang. Building and
#: installing a wheel takes minutes on a machine loaded 30 deep, so a bound
#: near the quiet time (it was 120 s) failed builds that were right.
HANG_GUARD = 900


def _copy_source(target: Path) -> Path:
    """The checkout without caches and environments: building writes build/
    and *.egg-info next to the sources, which must not race other test runs."""
    ignore = shutil.ignore_patterns(
        ".git",
        ".venv",
        "venv",
        "build",
        "dist",
        "*.egg-info",
        "__pycache__",
        ".*_cache",
        ".hypothesis",
        ".benchmarks",
        "*.db",
        "test-artifacts",
        "node_modules",
    )
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = _copy_source(tmp / "src")
    out = tmp / "dist"
    # With build isolation: pip fetches the build backend pyproject.toml names
    # (registries are reachable in CI), as any user's `pip install` would.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        timeout=HANG_GUARD,
    )
    (built,) = out.glob("wfdsl-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_holds_every_package_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "wfdsl/dsl/expressions/grammar.lark" in names
    assert "wfdsl/schemas/wfdsl-1.schema.json" in names
    # The designer reads its pages and scripts from the installed package.
    for asset in [
        *(ROOT / "designer/templates").glob("*.html"),
        *(p for p in (ROOT / "designer/static").rglob("*") if p.is_file()),
    ]:
        relative = asset.relative_to(ROOT / "designer").as_posix()
        assert f"wfdsl/designer/{relative}" in names, relative
    # Generic top-level names must not land in site-packages.
    tops = {n.split("/")[0] for n in names}
    assert not tops & {"dsl", "interpreter", "designer", "schemas", "tests", "examples"}, tops
    # Every package folder of the checkout is in the wheel (a forgotten
    # `packages` line in pyproject.toml drops a folder silently).
    for folder, installed in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            relative = init.relative_to(ROOT / folder).as_posix()
            assert f"{installed}/{relative}" in names, f"{folder}/{relative} is not in the wheel"
    # ...and every module of those packages.
    for folder, installed in FOLDERS.items():
        for module in (ROOT / folder).rglob("*.py"):
            if (module.parent / "__init__.py").exists():
                relative = module.relative_to(ROOT / folder).as_posix()
                assert f"{installed}/{relative}" in names, (
                    f"{folder}/{relative} is not in the wheel"
                )


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed and nothing of the checkout.

    The wheel goes in with --no-deps and no index, so the test needs no
    network; the dependencies come from this interpreter's site-packages
    through a .pth file, which adds those directories as plain path entries
    (their own .pth files, such as the editable install's finder, are not
    run), so `import wfdsl` can only find the installed wheel.
    """
    env = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=HANG_GUARD)
    python = env / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
        timeout=HANG_GUARD,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = {
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        *site.getsitepackages(),
    }
    Path(purelib, "_wfdsl_test_dependencies.pth").write_text(
        "\n".join(sorted(p for p in ours if Path(p).is_dir())) + "\n"
    )
    return env


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["NO_COLOR"] = "1"
    return env


@pytest.mark.slow
def test_the_installed_wheel_validates_and_draws_an_example(venv: Path, tmp_path: Path) -> None:
    python, wfdsl = venv / "bin" / "python", venv / "bin" / "wfdsl"
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import wfdsl, wfdsl.dsl, wfdsl.schemas; print(wfdsl.__file__); print(wfdsl.dsl.__file__)",
        ],
        cwd=tmp_path,
        env=_clean_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for path in where:
        assert Path(path).resolve().is_relative_to(venv.resolve()), path
        assert not Path(path).resolve().is_relative_to(ROOT), path

    flow = tmp_path / "signup.yaml"
    shutil.copy(ROOT / "examples" / "signup.yaml", flow)
    result = subprocess.run(
        [str(wfdsl), "validate", "signup.yaml"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout

    # The schema ships as package data and loads through importlib.resources.
    schema = subprocess.run(
        [str(wfdsl), "schema"], cwd=tmp_path, env=_clean_env(), capture_output=True, text=True
    )
    assert schema.returncode == 0 and '"$schema"' in schema.stdout

    drawn = subprocess.run(
        [str(wfdsl), "graph", "signup.yaml", "--format", "svg"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout.startswith("<?xml")


# ------------------------------------------------------------ README and CI


def _readme_test_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line for line in text.splitlines() if "pip install -e '.[test" in line]
    assert len(commands) == 1, "README.md must give exactly one set-up-and-test command"
    return commands[0].rsplit("&&", 1)[1].strip()


def _ci_test_command() -> str:
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    match = re.search(r'^test_command="([^"]+)"$', text, re.MULTILINE)
    assert match, ".ci/run must define test_command"
    assert "\n$test_command\n" in text, ".ci/run must run $test_command"
    return match.group(1)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    assert _readme_test_command() == _ci_test_command()


def test_ci_installs_the_extras_the_readme_installs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[test,layout]'" in readme
    assert "-e '.[test,layout]'" in ci
    assert ci.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in ci
    assert "export CI=1" in ci
