"""Records in and labelled records out.

In: JSONL, CSV, Python lists of dicts, pandas DataFrames and HF `datasets`. Every row is checked
against the task; a bad row raises a DataError naming the file, the row and the field (or, with
``on_bad_row="skip"``, is skipped and counted). Out: JSONL written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dualchecker.agents.types import LabelledRecord, Record, Task
from dualchecker.errors import DataError
from dualchecker.graph.config import DataSource

__all__ = ["DataSource", "load_records", "to_records", "write_labels_jsonl", "atomic_write_text"]

log = logging.getLogger(__name__)


def _read_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    fmt = fmt if fmt != "auto" else ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    with io.StringIO(_read_text(path), newline="") as handle:
        if fmt == "csv":
            for row_number, row in enumerate(csv.DictReader(handle), start=2):
                yield row_number, row
            return
        for row_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"invalid JSON: {exc.msg}", source=str(path), row=row_number
                ) from None
            if not isinstance(row, dict):
                raise DataError("a row must be a JSON object", source=str(path), row=row_number)
            yield row_number, row


def _read_text(path: Path) -> str:
    """The file as UTF-8 text; a decoding error names the line it is on."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError("no such file", source=str(path)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=str(path), row=line
        ) from None


def row_to_record(
    row: dict[str, Any], task: Task, source: DataSource | None, *, default_id: str
) -> Record:
    """One raw row to a Record; raises ValueError/ValidationError naming the field."""
    src = source or DataSource(path=Path("-"))
    if src.text_field not in row or row[src.text_field] in (None, ""):
        raise DataError("missing or empty", field=src.text_field)
    raw_id = row.get(src.id_field)
    values: dict[str, Any] = {
        "id": str(raw_id) if raw_id not in (None, "") else default_id,
        "text": row[src.text_field],
        "detail": row.get(src.detail_field) or None,
    }
    raw_label = row.get(src.label_field)
    if raw_label not in (None, "") and not task.is_spans:
        label = src.label_map.get(str(raw_label), str(raw_label))
        if label not in task.label_names:
            raise DataError(
                f"unknown label {raw_label!r}; the task's labels are {task.label_names}",
                field=src.label_field,
            )
        values["label"] = label
    raw_spans = row.get(src.spans_field)
    if task.is_spans and raw_spans not in (None, ""):
        spans = json.loads(raw_spans) if isinstance(raw_spans, str) else raw_spans
        if not isinstance(spans, list) or not all(isinstance(s, dict) for s in spans):
            raise DataError("must be a list of {type, start, end} objects", field=src.spans_field)
        spans = [{**s, "type": src.span_type_map.get(s.get("type"), s.get("type"))} for s in spans]
        unknown = {s.get("type") for s in spans} - set(task.span_type_names)
        if unknown:
            raise DataError(f"unknown span types {sorted(unknown)}", field=src.spans_field)
        values["spans"] = [{**s, "text": values["text"][s["start"] : s["end"]]} for s in spans]
    return Record(**values)


def records_from_rows(
    rows: Iterable[tuple[int, dict[str, Any]]],
    task: Task,
    source: DataSource | None,
    *,
    name: str,
    id_prefix: str | None = None,
) -> tuple[list[Record], int]:
    """Validate rows into records; returns (records, number skipped). Ids must be unique; a row
    without one gets ``<id_prefix>-<row>`` (default prefix: `name`)."""
    records: list[Record] = []
    seen: dict[str, int] = {}
    skipped = 0
    on_bad = source.on_bad_row if source else "error"
    for row_number, row in rows:
        try:
            record = row_to_record(
                row, task, source, default_id=f"{id_prefix or name}-{row_number}"
            )
            if record.id in seen:
                raise DataError(
                    f"duplicate id {record.id!r} (first at row {seen[record.id]})",
                    field=source.id_field if source else "id",
                )
        except (DataError, ValidationError, ValueError, KeyError, TypeError) as exc:
            error = _as_data_error(exc, name, row_number)
            if on_bad == "error":
                raise error from None
            skipped += 1
            log.warning("skipping %s", error)
            continue
        seen[record.id] = row_number
        records.append(record)
        if source and source.limit and len(records) >= source.limit:
            break
    return records, skipped


def _as_data_error(exc: Exception, name: str, row: int) -> DataError:
    if isinstance(exc, DataError):
        return DataError(
            str(exc).split(": ", 1)[-1] if exc.source is None and exc.field else str(exc),
            source=name,
            row=row,
            field=exc.field,
        )
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        return DataError(first["msg"], source=name, row=row, field=field)
    return DataError(f"{type(exc).__name__}: {exc}", source=name, row=row)


def load_records(source: DataSource, task: Task) -> list[Record]:
    """Read a JSONL or CSV file into validated records."""
    records, skipped = records_from_rows(
        _read_rows(source.path, source.format),
        task,
        source,
        name=str(source.path),
        id_prefix=Path(source.path).stem,
    )
    if skipped:
        log.warning("%s: skipped %d bad rows", source.path, skipped)
    return records


def to_records(
    data: Any, task: Task, *, name: str = "data", source: DataSource | None = None
) -> list[Record]:
    """Records from a list of dicts/strings/Records, a pandas DataFrame or a HF dataset."""
    if data is None:
        return []
    if isinstance(data, (str, Path)):
        return load_records(
            source.model_copy(update={"path": Path(data)})
            if source
            else DataSource(path=Path(data)),
            task,
        )
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # pandas
        data = data.to_dict(orient="records")
    rows: list[dict[str, Any]] = []
    for item in data:  # lists and HF datasets iterate as dicts
        if isinstance(item, Record):
            rows.append(item.model_dump(exclude_none=True))
        elif isinstance(item, str):
            rows.append({"text": item})
        else:
            rows.append(dict(item))
    return records_from_rows(enumerate(rows, start=1), task, source, name=name)[0]


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temp file in the same folder, then rename: never a half-written file."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, body: bytes) -> None:
    """`atomic_write_text` for bytes (e.g. a compressed file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_labels_jsonl(
    path: Path, labelled: Iterable[LabelledRecord], *, with_attempts: bool = False
) -> None:
    """Labelled records as JSONL: label or spans, confidence, rationale, re-prompt info."""
    exclude = None if with_attempts else {"attempts"}
    lines = [item.model_dump_json(exclude=exclude) for item in labelled]
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))


def read_labels_jsonl(path: Path) -> list[LabelledRecord]:
    """The labelled records of a labels JSONL file, skipping blank lines."""
    with path.open(encoding="utf-8") as handle:
        return [LabelledRecord.model_validate_json(line) for line in handle if line.strip()]
