"""The SFU process's start-up: limits it sets for itself."""

from __future__ import annotations


def test_the_sfu_raises_its_open_file_limit() -> None:
    import resource
    import subprocess
    import sys

    # In a child process: lower the soft limit, then let the SFU's start-up code raise it again.
    code = (
        "import resource; from webrtc.__main__ import raise_file_limit;"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE);"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard));"
        "print(raise_file_limit(4096), resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    returned, now, hard = (int(x) for x in out)
    expected = 4096 if hard == resource.RLIM_INFINITY or hard >= 4096 else hard
    assert returned == now == expected
