"""Check the installed environment before anything runs on it.

Rasa's action server protocol changes between minor versions, so the server
and rasa-sdk must share one (https://rasa.com/docs/rasa/compatibility-matrix).
"""

from __future__ import annotations

import sys
from importlib import metadata


def minor(version: str) -> tuple[int, int]:
    """``"3.6.21"`` → ``(3, 6)``."""
    major, minor_part, *_ = version.split(".")
    return int(major), int(minor_part)


def main() -> int:
    problems = []
    if sys.version_info[:2] != (3, 11):
        problems.append(f"Python 3.11 is required, this is {sys.version.split()[0]}")
    try:
        rasa_version = metadata.version("rasa")
        sdk_version = metadata.version("rasa-sdk")
    except metadata.PackageNotFoundError as exc:
        problems.append(f"not installed: {exc.name}; run `make setup`")
    else:
        if minor(rasa_version) != minor(sdk_version):
            problems.append(
                f"rasa {rasa_version} and rasa-sdk {sdk_version}"
                " differ in minor version"
            )
    for problem in problems:
        print(f"check_env: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_env: ok (rasa {rasa_version}, rasa-sdk {sdk_version})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
