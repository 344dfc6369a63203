"""`ModelWarmup`: `/readyz`'s model state goes from `loading` to the load's error (cut
to 300 characters) without raising out of the background task; closing before or after
it started is safe. (A real load of the GGUF is in the embedded model's own tests.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

from chatflow.services.model_warmup import ModelWarmup
from chatflow.settings import Settings


async def test_a_missing_model_file_is_reported_as_the_state(tmp_path: Path) -> None:
    missing = tmp_path / ("d" * 200) / ("m" * 200 + ".gguf")
    warmup = ModelWarmup(Settings(data_dir=tmp_path, embedded_model_path=str(missing)))
    assert warmup.state == "loading"
    await warmup.close()  # not started: nothing to do
    warmup.start()
    for _ in range(500):
        if warmup.state != "loading":
            break
        await asyncio.sleep(0.01)
    assert warmup.state.startswith("error: Embedded model file not found: ")
    assert len(warmup.state) == 300
    await warmup.close()
    assert warmup.state.startswith("error:")  # closing keeps what the load said
