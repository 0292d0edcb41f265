"""Unit tests of the edge's logic (qa/edge.py, qa/public.py, qa/received.py); the
attacks themselves run against a real server in tests/test_security.py."""

from __future__ import annotations

import json

import pytest

from qa.edge import EdgeConfigError, EdgePolicy, LoginThrottle, normalise_origin
from qa.public import public_message
from qa.received import event_refusal


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_doubles_the_wait_and_forgets():
    clock = Clock()
    throttle = LoginThrottle(free=3, max_wait_s=8, forget_s=60, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("a") == 0
        throttle.failed("a")
    assert throttle.retry_after("a") == pytest.approx(1)
    assert throttle.retry_after("b") == 0  # per client
    waits = []
    for _ in range(5):
        clock.now += throttle.retry_after("a")
        throttle.failed("a")
        waits.append(throttle.retry_after("a"))
    assert waits == [2, 4, 8, 8, 8]  # doubling, capped
    clock.now += 61
    assert throttle.retry_after("a") == 0  # quiet long enough: forgotten
    throttle.failed("c")
    throttle.succeeded("c")
    assert throttle.retry_after("c") == 0


def test_the_throttle_forgets_the_oldest_clients_past_its_bound():
    throttle = LoginThrottle(free=0, max_clients=3, clock=Clock())
    for name in "abcd":
        throttle.failed(name)
    assert throttle.retry_after("a") == 0 and throttle.retry_after("d") > 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://QA.example.com/", "https://qa.example.com"),
        ("http://localhost:80", "http://localhost"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:7860", "http://[::1]:7860"),
    ],
)
def test_origins_are_normalised(raw, expected):
    assert normalise_origin(raw) == expected


@pytest.mark.parametrize(
    "raw", ["localhost:1/x", "ftp://a", "https://a/path", "https://u@a", "null"]
)
def test_what_is_not_an_origin_is_refused(raw):
    with pytest.raises(EdgeConfigError):
        normalise_origin(raw)


def test_host_names_follow_the_listen_address():
    local = EdgePolicy.for_server("127.0.0.1")
    assert local.host_allowed("127.0.0.1:7860") and local.host_allowed("localhost:7860")
    assert local.host_allowed("[::1]:7860")
    assert not local.host_allowed("evil.example:7860") and not local.host_allowed("")
    assert not local.host_allowed("10.0.0.5:7860")
    wide = EdgePolicy.for_server("0.0.0.0", allow_origins=["https://qa.example.com"])
    assert wide.host_allowed("10.0.0.5:7860") and wide.host_allowed("qa.example.com")
    assert not wide.host_allowed("rebind.example:7860")
    named = EdgePolicy.for_server("box.lan")
    assert named.host_allowed("BOX.lan:7860") and not named.host_allowed("other.lan")


def test_public_messages_drop_paths_and_class_names():
    assert public_message("No index in /srv/idx/collections/crane. Build one") == (
        "No index in crane. Build one"
    )
    assert public_message("Expected UploadFile, received: <class 'str'>") == (
        "Expected UploadFile, received:"
    )
    assert public_message("x (PdfStreamError: Stream ended)") == "x (Stream ended)"
    assert public_message("see /docs; seeds/a.txt stays") == "see /docs; seeds/a.txt stays"


def test_event_bodies_may_name_only_received_files(tmp_path):
    folder = (tmp_path / "received").resolve()
    (folder / "h").mkdir(parents=True)
    good = folder / "h" / "notes.txt"
    good.write_text("x")
    outside = tmp_path / "secret.txt"
    outside.write_text("s")
    (folder / "h" / "link.txt").symlink_to(outside)

    def body(path):
        return json.dumps({"data": [[{"path": path, "meta": {"_type": "gradio.FileData"}}]]})

    assert event_refusal(body(str(good)).encode(), folder) is None
    for bad in [
        str(outside),
        str(folder / "h" / "link.txt"),
        "http://x/y.txt",
        str(folder / "h" / ".." / ".." / "secret.txt"),
        str(folder / "h"),
        "",
    ]:
        assert event_refusal(body(bad).encode(), folder) is not None, bad
    assert event_refusal(b'{"data": [{"path": "/etc/passwd"}]}', folder) is not None
    assert event_refusal(b'{"data": ["What is /etc/passwd?"]}', folder) is None  # a question
    assert event_refusal(b"not json", folder) is None
