from tests.conftest import drop, intent_text, wait_response


def test_a_status_intent_dropped_by_rename_gets_an_ok_response(running, seam_paths):
    drop(seam_paths, "s1.yaml", intent_text("s1"))
    front = wait_response(seam_paths, "s1")
    assert front["status"] == "ok"
    assert front["kind"] == "status"
    assert "| mode | MOCK |" in front["body"]
    assert (seam_paths.processed / "s1.yaml").exists()


def test_front_matter_reads_back_exactly_for_awkward_ids(tmp_path):
    from datetime import UTC, datetime

    from seam.respond import Status, read_front_matter, render_response

    for intent_id in ("true", "null", "2026-11-21", "1e5", "007", "No", "a.b-c_d", "x" * 64):
        text = render_response(
            intent_id=intent_id,
            kind="status",
            status=Status.OK,
            intent_sha256="1" * 63 + "e",
            bead=7,
            at=datetime(2026, 11, 21, tzinfo=UTC),
            body="# body\n",
        )
        path = tmp_path / "r.md"
        path.write_text(text)
        front = read_front_matter(path)
        assert front == {
            "id": intent_id,
            "kind": "status",
            "status": "ok",
            "intent_sha256": "1" * 63 + "e",
            "bead": 7,
            "at": "2026-11-21T00:00:00.000+00:00",
        }, intent_id
