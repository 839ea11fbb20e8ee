"""The agent's side of the seam: an intent written atomically into intents/incoming/, then its response read back."""

from __future__ import annotations

from typing import Any

from seam.demo.output import MASK, Narrator
from seam.demo.script import DemoFailure
from seam.demo.waits import Answer, Waits
from seam.paths import SeamPaths, write_atomic
from seam.yamlsafe import dump_yaml


class Agent:
    """Writes each intent as the agent would and waits for its response; a secret is shown masked."""

    def __init__(self, paths: SeamPaths, out: Narrator, waits: Waits) -> None:
        self.paths = paths
        self.out = out
        self.waits = waits
        self._files = 0

    def submit(
        self, intent_id: str, kind: str, payload: dict[str, Any], *, expect: str, secret: str | None = None
    ) -> Answer:
        self.out.step = f"intent {intent_id} ({kind})"
        self._files += 1
        name = f"{self._files:02d}-{intent_id}.yaml"
        text = intent_yaml(intent_id, kind, payload)
        shown = intent_yaml(intent_id, kind, {**payload, secret: MASK}) if secret else text
        self.out.intent(name, shown)
        write_atomic(self.paths.incoming / name, text.encode(), tmp_dir=self.paths.tmp)
        answer = self.waits.response(self.paths.responses / f"{intent_id}.md", f"the response to {intent_id}")
        self.out.response(answer)
        if answer.status != expect:
            first = next((line for line in answer.body.splitlines() if line.strip()), "")
            raise DemoFailure(f"{intent_id} was answered {answer.status!r}, not {expect!r}: {first}")
        return answer


def intent_yaml(intent_id: str, kind: str, payload: dict[str, Any]) -> str:
    return dump_yaml({"seam": 1, "id": intent_id, "kind": kind, "payload": payload})
