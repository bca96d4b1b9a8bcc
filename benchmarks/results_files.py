"""What every benchmark script records: the machine, and its results as JSON + Markdown."""

import json
import os
import platform


def machine() -> str:
    return f"{os.cpu_count()} CPU cores, {platform.machine()}, {platform.system()}, no GPU"


def write_results(out: str, name: str, record: dict, text: str) -> None:
    """Writes ``<out>/<name>.json`` (the record) and ``<out>/<name>.md`` (the text)."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{name}.json"), "w") as handle:
        json.dump(record, handle, indent=2)
    with open(os.path.join(out, f"{name}.md"), "w") as handle:
        handle.write(text + "\n")
