"""The sink registry loads when a config lists ``alerts.sinks``, not when the config package is imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import minimal_config

CONFIG = minimal_config()


@pytest.mark.parametrize(
    ("alerts", "loaded"),
    [(None, False), ({"channel": "#ml"}, False), ({"sinks": [{"kind": "log"}]}, True)],
)
def test_sinks_load_only_for_a_config_that_lists_them(tmp_path: Path, alerts: object, loaded: bool) -> None:
    data = dict(CONFIG) if alerts is None else {**CONFIG, "alerts": alerts}
    path = tmp_path / "fraud.yaml"
    path.write_text(yaml.safe_dump(data))
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from watchkeeper.config import parse_config\n"
        f"path = Path({str(path)!r})\n"
        "config = parse_config(path, path.read_text())\n"
        "print(config.model.name, 'watchkeeper.alerting.sinks' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["fraud", str(loaded)]
