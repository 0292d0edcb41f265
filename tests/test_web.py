"""The web chat in a real browser: Debian's Chromium driven by Playwright.

The server is the real `seedqa serve` on a free loopback port, with the real
models; each test module starts one and stops it.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS, stop_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
SEED_NAME = "000_e0d75e9825ac5acc.txt"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see its server.log")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise TimeoutError(url)


def _start_server(work: Path, *args: str, **env: str) -> tuple[subprocess.Popen, str]:
    """`seedqa serve ARGS` on a free loopback port, with a copy of seeds/ in ``work``."""
    shutil.copytree(SEEDS, work / "seeds")
    port = _free_port()
    exe = Path(sys.executable).with_name("seedqa")
    log = (work / "server.log").open("w")  # a file, not a pipe nobody drains
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--index-dir", str(work / "index"), *args],
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **env},
    )
    return proc, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("web")
    proc, url = _start_server(work)
    try:
        _wait_http(url, proc)
        yield {"url": url, "work": work, "index": work / "index"}
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _ask(page, question: str, expect: str, timeout: float = 90_000) -> str:
    """Type a question, send it, wait until the newest bot message shows ``expect``."""
    before = page.locator("#chat .bot").count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        """([n, expect]) => {
            const bots = document.querySelectorAll('#chat .bot');
            if (bots.length <= n) return false;
            const last = bots[bots.length - 1].innerText;
            return last.includes(expect) && !last.includes('▌');  // streaming finished
        }""",
        arg=[before, expect],
        timeout=timeout,
    )
    return page.locator("#chat .bot").last.inner_text()


def test_chat_follow_up_upload_and_screenshot(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server["url"])
    page.wait_for_selector("#question textarea", timeout=60_000)

    first = _ask(page, "How much did Azercosmos export in 2020?", "45.1 million")
    assert SEED_NAME in first
    page.wait_for_timeout(300)
    shot = ROOT / "docs" / "screenshot.png"
    shot.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(shot))

    follow = _ask(page, "To how many countries?", "33")
    assert SEED_NAME in follow

    # A new document with a fact nobody else has, uploaded through the page.
    doc = tmp_path / "harbour_notes.txt"
    doc.write_text(
        "The Velmora harbour crane was installed in 1987 by the firm Ostrander Lift. "
        "It can raise 140 tonnes."
    )
    page.set_input_files("#upload input[type=file]", str(doc))
    page.wait_for_function(
        "document.querySelector('#upload-log').innerText.includes('harbour_notes.txt: indexed')",
        timeout=120_000,
    )
    answer = _ask(page, "Which firm installed the Velmora harbour crane?", "Ostrander Lift")
    assert "harbour_notes.txt" in answer
    assert (server["index"] / "uploads" / "harbour_notes.txt").exists()

    # A type that is not allowed is refused with a visible message.
    bad = tmp_path / "tool.exe"
    bad.write_bytes(b"MZ\x90\x00")
    page.set_input_files("#upload input[type=file]", str(bad))
    page.wait_for_function(
        "document.body.innerText.toLowerCase().includes('not allowed')"
        " || document.body.innerText.toLowerCase().includes('invalid file type')",
        timeout=30_000,
    )
    assert not (server["index"] / "uploads" / "tool.exe").exists()

    # An abstention looks different from an answer.
    _ask(page, "What is the capital of France?", "couldn't find")
    assert page.locator("#chat .bot .seedqa-abstain").count() >= 1
    page.close()


def test_two_sessions_at_once_get_their_own_answers(server, browser):
    questions = [
        ("How much did Azercosmos export in 2020?", "45.1 million"),
        ("Who is the president of the Turkish Space Agency?", "Serdar Huseyin Yildirim"),
    ]
    contexts = [browser.new_context() for _ in questions]
    pages = [c.new_page() for c in contexts]
    for page in pages:
        page.goto(server["url"])
        page.wait_for_selector("#question textarea", timeout=60_000)
    for page, (q, _) in zip(pages, questions, strict=True):
        page.fill("#question textarea", q)
    for page in pages:  # both sent before either is answered
        page.keyboard.press("Enter")
    for page, (q, expect) in zip(pages, questions, strict=True):
        page.wait_for_function(
            "([e]) => { const t = document.querySelector('#chat').innerText;"
            " return t.includes(e) && !t.includes('▌'); }",
            arg=[expect],
            timeout=120_000,
        )
        text = page.inner_text("#chat")
        assert q in text
        other = next(e for _, e in questions if e != expect)
        assert other not in text, "an answer leaked into another session"
    for c in contexts:
        c.close()


def test_file_route_refuses_paths_outside_its_folders(server):
    secret = server["work"] / "seeds" / SEED_NAME
    for path in ["/etc/passwd", str(secret), "../../../../etc/passwd", str(server["index"])]:
        url = f"{server['url']}gradio_api/file={path}"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                status = resp.status
        except urllib.error.HTTPError as err:
            status = err.code
        assert status in (403, 404), (path, status)


def test_server_binds_to_loopback_only(server):
    """Read the kernel's table of listening sockets: only 127.0.0.1 has our port."""
    port = int(server["url"].rsplit(":", 1)[1].strip("/"))
    listeners = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                listeners.append(address)
    assert listeners == ["0100007F"], listeners


def test_auth_required_for_the_api_when_configured(tmp_path):
    proc, base = _start_server(tmp_path, SEEDQA_AUTH="ann:s3cret-pass")
    try:
        deadline = time.monotonic() + 180
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                urllib.request.urlopen(base + "config", timeout=2)
                status = 200
            except urllib.error.HTTPError as err:
                status = err.code
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        assert status == 401
        for route in ["gradio_api/info", "gradio_api/file=/etc/passwd", "gradio_api/file/x"]:
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(base + route, timeout=5)
            assert err.value.code == 401
        # The calls a client makes to ask, upload and join the queue, without logging in.
        for route in [
            "gradio_api/call/take",
            "gradio_api/run/answer_next",
            "gradio_api/queue/join",
            "gradio_api/upload",
        ]:
            post = urllib.request.Request(
                base + route,
                data=b'{"data": ["How much did Azercosmos export in 2020?", []]}',
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(post, timeout=5)
            assert err.value.code == 401, route
        # The HTTP API asks for the same user and password (HTTP Basic).
        import httpx

        ask = {"question": "How much did Azercosmos export in 2020?"}
        for route in ["api/ask", "v1/chat/completions"]:
            assert httpx.post(base + route, json=ask).status_code == 401
        assert httpx.post(base + "api/ask", json=ask, auth=("ann", "wrong")).status_code == 401
        good = httpx.post(base + "api/ask", json=ask, auth=("ann", "s3cret-pass"), timeout=120)
        assert good.status_code == 200 and "45.1 million" in good.json()["answer"]
    finally:
        stop_server(proc)


def test_uploads_are_checked_on_the_server(tmp_path):
    """The upload handler itself refuses types and sanitises names, whatever the browser did."""
    from qa.ui import WebApp
    from qa.uploads import sanitize_filename

    assert sanitize_filename("../../etc/passwd") == "passwd"
    assert sanitize_filename("a;rm -rf $(x).txt") == "a_rm -rf _x_.txt"
    assert sanitize_filename("..") == "upload"
    app = WebApp(tmp_path / "index", received=tmp_path)
    bad = tmp_path / "evil.html.exe"
    bad.write_bytes(b"MZ")
    svg = tmp_path / "img.svg"
    svg.write_text("<svg onload=alert(1)>")
    message = app.upload([str(bad), str(svg)])
    assert message.count("not allowed") == 2
    assert not (app.uploads / "evil.html.exe").exists()
    ok = tmp_path / "..%2Fnotes.md"
    ok.write_text("# Notes\n\nThe Corvid bridge is 212 metres long.")
    assert "indexed" in app.upload([str(ok)])
    assert [p.name for p in app.uploads.iterdir()] == ["_2Fnotes.md"]  # no leading dots
    assert "uploads/_2Fnotes.md" in app.documents()
    assert app.remove("uploads/_2Fnotes.md").startswith("✅")
    assert "uploads/_2Fnotes.md" not in app.documents()
    assert not (app.uploads / "_2Fnotes.md").exists()
    assert app.remove("uploads/none.md").startswith("❌")


# Every Gradio route that takes a path or a file name, with {} for the payload.
FILE_ROUTES = [
    "gradio_api/file={}",
    "gradio_api/file/{}",
    "gradio_api/proxy={}",
    "file={}",
    "static/{}",
    "assets/{}",
    "svelte/{}",
    "gradio_api/custom_component/x/client/{}/x",
    "gradio_api/custom_component/x/client/x/{}",
    "gradio_api/stream/x/0/x/playlist-file?{}",
]
TRAVERSALS = [
    "/etc/passwd",
    "../../../../../../etc/passwd",
    "..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "....//....//....//etc/passwd",
    "..\\..\\..\\..\\etc\\passwd",
    "%2Fetc%2Fpasswd",
]


def _raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no client-side normalisation of ``..``)."""
    host, port = url.split("//", 1)[1].strip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/" + path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_no_file_route_serves_files_outside_its_folders(server):
    """Traversal and absolute paths through every path-taking route, including our own files."""
    secret = server["work"] / "secret.txt"
    secret.write_text("seedqa-secret-7f3a9c: must never be served")
    manifest = server["index"] / "manifest.json"
    targets = [*TRAVERSALS, str(secret), str(manifest), "../" * 8 + str(secret).lstrip("/")]
    for route in FILE_ROUTES:
        for target in targets:
            status, body = _raw_get(server["url"], route.format(target))
            assert b"root:x:0:0" not in body and b"seedqa-secret-7f3a9c" not in body, (
                route,
                target,
            )
            assert b'"format_version"' not in body, (route, target)
            assert status != 200 or target not in {str(secret), str(manifest)}, (route, target)


def test_gradio_upload_route_enforces_the_size_limit(server):
    """The server refuses a file over 20 MB at its upload route, whatever the browser allowed."""
    boundary = "seedqa-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + b"a" * (21 * 1024 * 1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        server["url"] + "gradio_api/upload",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=60)
    assert err.value.code in (400, 413)
    assert b"maximum allowed size" in err.value.read().lower() or err.value.code == 413


def test_server_side_upload_checks_size(tmp_path):
    from qa.ui import WebApp
    from qa.uploads import MAX_UPLOAD_BYTES

    app = WebApp(tmp_path / "index", received=tmp_path)
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(MAX_UPLOAD_BYTES + 1)
    message = app.upload([str(big)])
    assert "too large" in message and "limit 20 MB" in message
    assert not (app.uploads / "big.txt").exists()


def _keep_busy(url: str, questions: int = 150):
    """Keep the server's one answering queue busy for a few seconds (API questions, answered
    in arrival order with the page's), so a page question is still being read meanwhile."""
    import httpx

    pool = ThreadPoolExecutor(8)
    ask = {"question": "Which satellites does Azercosmos operate?"}
    futures = [
        pool.submit(httpx.post, url + "api/ask", json=ask, timeout=300) for _ in range(questions)
    ]
    pool.shutdown(wait=False)
    return futures


def test_a_question_typed_while_another_is_read_is_kept_and_answered_in_turn(server, browser):
    first, second = (
        "How much did Azercosmos export in 2020?",
        "Who is the president of the Turkish Space Agency?",
    )
    page = browser.new_page()
    page.goto(server["url"])
    page.wait_for_selector("#question textarea", timeout=60_000)
    busy = _keep_busy(server["url"])
    page.fill("#question textarea", first)
    page.keyboard.press("Enter")
    page.wait_for_function(  # the first answer is being read
        "() => { const b = document.querySelectorAll('#chat .bot');"
        " return b.length > 0 && b[b.length - 1].innerText.includes('▌'); }",
        timeout=120_000,
    )
    page.click("#question textarea")
    page.keyboard.type(second[:20])
    page.wait_for_timeout(300)  # the chat keeps updating meanwhile (the queue moves)
    assert page.input_value("#question textarea") == second[:20], "typing was rewritten"
    page.keyboard.type(second[20:])
    streaming = page.evaluate("() => document.querySelector('#chat').innerText.includes('▌')")
    page.keyboard.press("Enter")
    page.wait_for_function(  # cleared once, when its question is taken
        "document.querySelector('#question textarea').value === ''", timeout=10_000
    )
    page.fill("#question textarea", "a draft")  # typed while both are being answered
    page.wait_for_function(
        "() => { const t = document.querySelector('#chat').innerText;"
        " return t.includes('Serdar Huseyin Yildirim') && t.includes('45.1 million')"
        " && !t.includes('▌') && !t.includes('waiting its turn'); }",
        timeout=180_000,
    )
    users = page.locator("#chat .user").all_inner_texts()
    bots = page.locator("#chat .bot").all_inner_texts()
    assert [u.strip() for u in users] == [first, second]
    assert "45.1 million" in bots[0] and "Serdar Huseyin Yildirim" in bots[1]
    assert page.input_value("#question textarea") == "a draft"
    assert streaming, "the second question was sent after the first had finished"
    page.close()
    assert all(f.result().status_code == 200 for f in busy)


def test_a_collection_made_through_the_api_is_answered_in_the_web_chat(server, browser, tmp_path):
    import httpx

    api = httpx.Client(base_url=server["url"], timeout=120)
    assert api.post("/api/collections", json={"name": "crane"}).status_code == 201
    up = api.post(
        "/api/collections/crane/documents",
        files={"files": ("crane.txt", b"The Tarsk crane was painted orange by Ilse Marr.\n")},
    )
    assert up.json()["results"][0]["status"] == "indexed", up.text
    page = browser.new_page()
    page.goto(server["url"])
    page.wait_for_selector("#question textarea", timeout=60_000)
    page.click("#collection input")
    page.click("[role=option][aria-label=crane]")
    page.wait_for_function(
        "document.querySelector('#status').innerText.includes('1 document')", timeout=30_000
    )
    answer = _ask(page, "Who painted the Tarsk crane?", "Ilse Marr")
    assert "crane.txt" in answer
    page.close()
    assert api.delete("/api/collections/crane").status_code == 200
    api.close()
