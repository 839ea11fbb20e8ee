"""The committed JSON Schemas are exactly what the pydantic models generate, and the CLI exports them."""

from __future__ import annotations

import json
from pathlib import Path

from seam.intent import Kind
from seam.schema import SCHEMA_DIR, render, schema_documents
from tests.conftest import seam_cli

FIX = "run `seam schema export seam/schemas` and commit the result"
EXPECTED_FILES = {f"{kind.value}.schema.json" for kind in Kind} | {"envelope.schema.json"}


def test_the_committed_schemas_match_the_models_byte_for_byte() -> None:
    documents = schema_documents()
    committed = {p.name for p in SCHEMA_DIR.glob("*.json")}
    assert committed == set(documents), f"schema files differ from the models ({FIX}): {committed ^ set(documents)}"
    drifted = [
        name for name, doc in documents.items() if (SCHEMA_DIR / name).read_text(encoding="utf-8") != render(doc)
    ]
    assert not drifted, f"seam/schemas/ has drifted from the pydantic models in {', '.join(drifted)}; {FIX}"


def test_there_is_one_schema_per_kind_plus_the_envelope() -> None:
    assert set(schema_documents()) == EXPECTED_FILES


def test_each_kind_schema_pins_its_kind_and_the_envelope_lists_every_kind() -> None:
    documents = schema_documents()
    for kind in Kind:
        assert documents[f"{kind.value}.schema.json"]["properties"]["kind"]["const"] == kind.value
    envelope = documents["envelope.schema.json"]
    assert envelope["$defs"]["Kind"]["enum"] == [kind.value for kind in Kind]


def test_schema_export_writes_every_schema_into_the_folder(tmp_path: Path) -> None:
    target = tmp_path / "out" / "schemas"

    result = seam_cli("schema", "export", str(target))

    assert result.returncode == 0, result.stderr
    assert f"wrote {len(EXPECTED_FILES)} schemas to {target}" in result.stdout
    assert {p.name for p in target.iterdir()} == EXPECTED_FILES
    for name in EXPECTED_FILES:
        written = (target / name).read_text(encoding="utf-8")
        assert written == (SCHEMA_DIR / name).read_text(encoding="utf-8"), name
        document = json.loads(written)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert document["$id"].endswith("/" + name)
