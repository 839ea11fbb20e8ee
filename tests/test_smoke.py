from tests.conftest import drop, intent_text, wait_response


def test_a_status_intent_dropped_by_rename_gets_an_ok_response(running, seam_paths):
    drop(seam_paths, "s1.yaml", intent_text("s1"))
    front = wait_response(seam_paths, "s1")
    assert front["status"] == "ok"
    assert front["kind"] == "status"
    assert "| mode | MOCK |" in front["body"]
    assert (seam_paths.processed / "s1.yaml").exists()
