"""The lowest-versions CI run installs exactly the floors of pyproject.toml.

``.ci/min-versions.txt`` is the constraints file of that run (see
``.ci/run``); these tests keep it and ``pyproject.toml`` in step, and keep
every dependency floored and every upper cap explained.
"""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
CONSTRAINTS = ROOT / ".ci" / "min-versions.txt"
TORCH_PIN = ROOT / "requirements-torch-cpu.txt"
#: the extras whose floors the run installs (``.[test]`` holds the others)
FLOORED_EXTRAS = ("test", "dask", "serve", "parquet", "onnx")
#: kept at the pinned CPU wheel in that run (see the constraints file)
NOT_AT_FLOOR = {"torch"}


def _requirements():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    texts = list(project["dependencies"])
    for extra in FLOORED_EXTRAS:
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def _floor(requirement):
    floors = [Version(spec.version) for spec in requirement.specifier
              if spec.operator == ">="]
    return max(floors) if floors else None


def floors():
    """``{normalized name: floor}`` of the dependencies and floored extras."""
    out = {}
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        floor = _floor(requirement)
        if name in out and out[name] != floor:
            raise AssertionError(
                f"{requirement.name} has two floors in pyproject.toml: "
                f"{out[name]} and {floor}")
        out[name] = floor
    return out


def pins(path):
    """``{normalized name: version}`` of a file of ``name==version`` lines."""
    out = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+]+)", line)
        assert match, f"{path.name}:{number}: not a `name==version` line: {line!r}"
        name = canonicalize_name(match[1])
        assert name not in out, f"{path.name}:{number}: {match[1]} pinned twice"
        out[name] = Version(match[2])
    return out


def test_every_dependency_has_a_floor():
    missing = sorted(name for name, floor in floors().items() if floor is None)
    assert not missing, f"dependencies without a `>=` floor: {missing}"


def test_constraints_pin_exactly_the_floors():
    expected = {name: floor for name, floor in floors().items()
                if name not in NOT_AT_FLOOR}
    pinned = pins(CONSTRAINTS)
    wrong = {name: (str(pinned.get(name)), str(floor))
             for name, floor in expected.items() if pinned.get(name) != floor}
    assert not wrong, (f"{CONSTRAINTS.name} and pyproject.toml disagree "
                       f"(name: (pinned, floor)): {wrong}")
    extra = sorted(set(pinned) - set(expected))
    assert not extra, (f"{CONSTRAINTS.name} pins what pyproject.toml does "
                       f"not ask for: {extra}")


def test_torch_pin_is_within_the_declared_range():
    # the lowest-versions run takes torch from this file, not at its floor
    torch = next(r for r in _requirements() if canonicalize_name(r.name) == "torch")
    pinned = pins(TORCH_PIN)
    assert set(pinned) == {"torch"}
    assert torch.specifier.contains(pinned["torch"])
    assert pinned["torch"] > _floor(torch)


def _comments_before(lines, number):
    """The comments of ``lines[number]`` and of the lines above it, up to the
    start of its TOML entry and the comment block just above that entry."""
    texts = []
    index = number
    while index >= 0:
        code, _, comment = lines[index].partition("#")
        texts.append(comment)
        if index < number and not code.strip() and not comment:
            break  # a blank line
        if re.match(r"\s*[A-Za-z0-9_.-]+\s*=", code):  # the entry's first line
            index -= 1
            while index >= 0 and lines[index].lstrip().startswith("#"):
                texts.append(lines[index])
                index -= 1
            break
        index -= 1
    return " ".join(texts).replace(" ", "")


def test_every_upper_cap_has_a_reason_beside_it():
    # a cap such as "<1.10" must be quoted, with its reason, in a comment on
    # its line or above it within its entry (spaces do not matter)
    lines = PYPROJECT.read_text().splitlines()
    for number, line in enumerate(lines):
        for text in re.findall(r'"([^"]+)"', line.partition("#")[0]):
            try:
                requirement = Requirement(text)
            except ValueError:  # not a requirement string
                continue
            for spec in requirement.specifier:
                if spec.operator in ("<", "<=", "~=", "==", "==="):
                    assert str(spec) in _comments_before(lines, number), (
                        f"pyproject.toml:{number + 1}: {text!r} caps "
                        f"{requirement.name} ({spec}) with no comment that "
                        "quotes the cap and says why")


@pytest.mark.parametrize("text, expected", [
    ("numpy>=1.26", Version("1.26")),
    ("scikit-learn>=1.6,<1.10", Version("1.6")),
    ("dask[distributed]>=2024.1", Version("2024.1")),
    ("tqdm", None),
])
def test_floor_reads_the_lower_bound(text, expected):
    assert _floor(Requirement(text)) == expected
