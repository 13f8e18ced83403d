"""``python -m kubetune.training.inspect_adapter --path DIR``: read a LoRA adapter and report what it is.

The operator cannot read volumes, so it runs this in a short pod (the trainer image) with the adapter's volume
mounted, and reads the JSON report from the termination message. Standard library only: it must start fast.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from .digest import sha256_file

WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
REPORT_LIMIT = 4096


def inspect(directory: Path) -> dict[str, Any]:
    """The report: files, sizes, sha256, rank, alpha, target modules, base model, and problems found."""
    report: dict[str, Any] = {"problems": []}
    problems: list[dict[str, str]] = report["problems"]
    if not directory.is_dir():
        problems.append({"reason": "AdapterFilesMissing", "message": f"adapter directory {directory} does not exist"})
        return report
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    names = [str(p.relative_to(directory)) for p in files]
    report["files"] = names[:50]
    report["sizeBytes"] = sum(p.stat().st_size for p in files)
    config_path = directory / "adapter_config.json"
    weights = [w for w in WEIGHT_FILES if (directory / w).exists()]
    missing = [] if config_path.exists() else ["adapter_config.json"]
    if not weights:
        missing.append(" or ".join(WEIGHT_FILES))
    if missing:
        problems.append({"reason": "AdapterFilesMissing",
                         "message": f"{directory} lacks {', '.join(missing)} (found: {', '.join(names) or 'nothing'})"})
        return report
    # One digest over the files that define the adapter, so it changes exactly when they do.
    combined = hashlib.sha256()
    for name in ["adapter_config.json", *weights]:
        combined.update(f"{name}:{sha256_file(directory / name)}\n".encode())
    report["sha256"] = combined.hexdigest()
    try:
        config = json.loads(config_path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        problems.append({"reason": "InvalidAdapterConfig", "message": f"adapter_config.json is not JSON: {e}"})
        return report
    if config.get("peft_type", "LORA") != "LORA":
        problems.append({"reason": "InvalidAdapterConfig",
                         "message": f"peft_type is {config.get('peft_type')}; only LORA adapters can be served"})
    report["rank"] = config.get("r")
    report["alpha"] = config.get("lora_alpha")
    targets = config.get("target_modules")
    report["targetModules"] = sorted(targets) if isinstance(targets, list) else ([targets] if targets else [])
    report["baseModel"] = config.get("base_model_name_or_path")
    if not isinstance(report["rank"], int) or report["rank"] < 1:
        problems.append({"reason": "InvalidAdapterConfig", "message": f"r is {report['rank']!r}, not a positive rank"})
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Report a LoRA adapter's files, rank, base model and digest.")
    parser.add_argument("--path", required=True, type=Path)
    parser.add_argument("--termination-message-path", default="/dev/termination-log")
    args = parser.parse_args(argv)
    report = inspect(args.path)
    encoded = json.dumps(report, separators=(",", ":"))
    if len(encoded) > REPORT_LIMIT:
        report["files"] = report.get("files", [])[:5]
        encoded = json.dumps(report, separators=(",", ":"))[:REPORT_LIMIT]
    print(encoded)
    if os.path.exists(os.path.dirname(args.termination_message_path) or "/"):
        try:
            Path(args.termination_message_path).write_text(encoded)
        except OSError as e:
            print(f"cannot write the termination message: {e}", file=sys.stderr)


if __name__ == "__main__":
    main()
