"""A server that never becomes healthy: start_local fails with the server's own log, and leaves nothing running."""

from __future__ import annotations

from pathlib import Path

import pytest
from bankscore_tests_loopback import free_port

from bankscore.deploy._folder import write_deployment_folder
from bankscore.deploy._local import DeployError, load_state, port_free, start_local
from bankscore.features import FEATURES


@pytest.mark.slow
def test_a_broken_model_fails_the_start_with_the_servers_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "ws"))
    contract = {
        "model_name": "bank-marketing",
        "model_version": "1",
        "generation": "C",
        "classes": ["no", "yes"],
        "max_records": 10,
        "max_body_bytes": 1000,
        "features": [
            {"wire_name": f.wire_name, "kind": f.kind.value, "categories": list(f.categories), "minimum": f.minimum,
             "maximum": f.maximum}
            for f in FEATURES
        ],
    }  # fmt: skip
    artifact = {"format": 1, "columns": ["age"], "codes": [None], "members": []}
    folder = write_deployment_folder(tmp_path / "release", artifact=artifact, contract=contract, name="broken")
    (folder.model_dir / "scorer.pkl").write_bytes(b"this is not a pickle")
    port = free_port()
    with pytest.raises(DeployError) as info:
        start_local(folder, name="broken", port=port, timeout=60)
    message = str(info.value)
    assert "did not answer GET / with 'Healthy'" in message
    assert "UnpicklingError" in message or "pickle" in message  # the server's own traceback, from its log
    assert load_state("broken") is None
    assert port_free(port)
