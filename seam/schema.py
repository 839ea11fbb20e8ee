"""The published JSON Schemas: one per kind (the whole intent file), generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from seam.intent import KIND_MODELS, Envelope, Kind

__all__ = ["SCHEMA_DIR", "export_schemas", "schema_documents"]

SCHEMA_DIR = Path(__file__).parent / "schemas"
_BASE_ID = "https://seam.local/schemas/"


def _intent_model(kind: Kind) -> type[BaseModel]:
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in Envelope.model_fields.items() if name not in ("kind", "payload")
    }
    fields["kind"] = (Literal[kind.value], Field(description=f"Always `{kind.value}` for this schema."))
    fields["payload"] = (KIND_MODELS[kind], Field(description=f"The `{kind.value}` payload."))
    return create_model(
        f"{kind.value.capitalize()}Intent",
        __config__=ConfigDict(extra="forbid", title=f"seam intent: {kind.value}"),
        **fields,
    )


def schema_documents() -> dict[str, dict[str, Any]]:
    """file name → JSON Schema, for the envelope and every kind."""
    docs: dict[str, dict[str, Any]] = {}
    envelope = TypeAdapter(Envelope).json_schema()
    docs["envelope.schema.json"] = envelope
    for kind in Kind:
        docs[f"{kind.value}.schema.json"] = _intent_model(kind).model_json_schema()
    for name, doc in docs.items():
        doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        doc["$id"] = _BASE_ID + name
    return docs


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in schema_documents().items():
        path = folder / name
        path.write_text(render(doc), encoding="utf-8")
        written.append(path)
    return written
