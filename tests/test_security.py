"""Attacks on a real `seedqa serve`, each refused, with the index and uploads/ unchanged.

One test (or more) per finding of the black-box review in SECURITY.md's
"What is defended" list: server files read through the page's upload event,
cross-site requests from a second local origin and from a ``file://`` page in
real Chromium, DNS rebinding, uploads that destroyed indexed files, names
shown before login, password guessing, and the edges (paths and exception
names in errors, bodies read before a 401, chunked bodies, headers, /docs).
"""

from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEED_FILE, run_cli, stop_server
from tests.test_web import ARGS, CHROMIUM, _free_port, _start_server, _wait_http

SECRET = "The Quillon vault code is 7141-ZEBRA-9."
SECRET_QUESTION = "What is the Quillon vault code?"
SEED_QUESTION = "How much did Azercosmos export in 2020?"
PASSWORD = "correct-horse-7"


def _state(index: Path) -> dict:
    """What an attack must not change: the indexed documents, uploads/ and collections."""
    manifest = json.loads((index / "manifest.json").read_text())
    uploads = index / "uploads"
    files = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (sorted(uploads.iterdir()) if uploads.is_dir() else [])
        if p.is_file()
    }
    folder = index / "collections"
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    docs = {k: v["sha256"] for k, v in manifest["documents"].items()}
    return {"documents": docs, "uploads": files, "collections": names}


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """The default server: no --auth, no --api-key, loopback only."""
    work = tmp_path_factory.mktemp("sec-open")
    secret = work / "private" / "vault.txt"
    secret.parent.mkdir()
    secret.write_text(SECRET + "\n")
    proc, url = _start_server(work)
    try:
        _wait_http(url + "api/health", proc)
        yield {"url": url, "work": work, "index": work / "index", "secret": secret, "proc": proc}
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """A server with a login, and one front end allowed from another origin."""
    work = tmp_path_factory.mktemp("sec-auth")
    proc, url = _start_server(
        work, "--allow-origin", "http://front.example:8443", SEEDQA_AUTH=f"ann:{PASSWORD}"
    )
    try:
        _wait_http(url + "api/health", proc)
        yield {"url": url, "work": work, "index": work / "index", "proc": proc}
    finally:
        stop_server(proc)


def _asks_secret(url: str, auth=None) -> dict:
    return httpx.post(
        url + "api/ask", json={"question": SECRET_QUESTION}, auth=auth, timeout=120
    ).json()


# ---- 1. the page's upload event never opens a path the client names ---------------


def _upload_fn_index(url: str) -> int:
    config = httpx.get(url + "config", timeout=30).json()
    for dep in config["dependencies"]:
        if dep.get("api_name") == "on_upload":
            return dep["id"]
    raise AssertionError("no on_upload event in the page's config")


def test_the_upload_event_refuses_server_paths_urls_and_strings(open_server):
    url, secret = open_server["url"], str(open_server["secret"])
    before = _state(open_server["index"])
    file_data = {"path": secret, "meta": {"_type": "gradio.FileData"}}
    readme = str(Path(__file__).resolve().parents[1] / "README.md")
    fn = _upload_fn_index(url)
    attempts = [
        ("gradio_api/call/v2/on_upload", {"files": [file_data], "name": "default"}),
        ("gradio_api/call/on_upload", {"data": [[file_data], "default"]}),
        ("gradio_api/run/on_upload", {"data": [[file_data], "default"]}),
        (
            "gradio_api/queue/join",
            {"data": [[file_data], "default"], "fn_index": fn, "session_hash": "s1"},
        ),
        ("gradio_api/call/v2/on_upload", {"files": [{"path": readme}], "name": "default"}),
        ("gradio_api/call/v2/on_upload", {"files": [secret], "name": "default"}),
        ("gradio_api/call/on_upload", {"data": [secret, "default"]}),
        (
            "gradio_api/call/v2/on_upload",
            {
                "files": [
                    {"path": "http://127.0.0.1:9/x.txt", "meta": {"_type": "gradio.FileData"}}
                ],
                "name": "default",
            },
        ),
        (
            "gradio_api/call/v2/on_upload",
            {"files": [{"path": "../../../" + secret.lstrip("/")}], "name": "default"},
        ),
    ]
    for route, body in attempts:
        reply = httpx.post(url + route, json=body, timeout=30)
        assert reply.status_code == 400, (route, body, reply.text)
        assert "only files uploaded through this page" in reply.json()["error"]["message"]
    assert _asks_secret(url)["abstained"]
    assert _state(open_server["index"]) == before
    log = (open_server["work"] / "server.log").read_text()
    assert "Traceback" not in log, log[-2000:]


def test_a_real_upload_through_gradios_client_still_works(open_server, tmp_path):
    """The control: bytes sent to the upload route, then the event, as the page does."""
    from gradio_client import Client, handle_file

    doc = tmp_path / "ferry_notes.txt"
    doc.write_text("The Halvard ferry sails at 06:40 from pier 9 every weekday.\n")
    client = Client(open_server["url"], verbose=False)
    message = client.predict([handle_file(str(doc))], "default", api_name="/on_upload")[0]
    assert "ferry_notes.txt: indexed" in message, message
    got = httpx.post(
        open_server["url"] + "api/ask",
        json={"question": "From which pier does the Halvard ferry sail?"},
        timeout=120,
    ).json()
    assert "9" in got["answer"] and got["citations"][0]["source"] == "uploads/ferry_notes.txt"
    assert httpx.delete(
        open_server["url"] + "api/collections/default/documents/uploads/ferry_notes.txt"
    ).is_success


# ---- 2. same-origin only: other local pages, file:// pages, DNS rebinding -----------

ATTACK_PAGE = """<!doctype html><html><body><pre id="log"></pre><script>
const target = %(target)s;
const log = (m) => { document.getElementById('log').textContent += m + "\\n"; };
async function attack() {
  const form = new FormData();
  form.append('files', new Blob([%(planted)s], {type: 'text/plain'}), 'planted.txt');
  const tries = [
    ['upload', target + 'api/collections/default/documents',
     {method: 'POST', mode: 'no-cors', body: form}],
    ['delete', target + 'api/collections/default/documents/' + %(seed)s,
     {method: 'DELETE', mode: 'no-cors'}],
    ['delete-cors', target + 'api/collections/default/documents/' + %(seed)s,
     {method: 'DELETE'}],
    ['create-cors', target + 'api/collections',
     {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({name: 'planted'})}],
    ['create', target + 'api/collections',
     {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'},
      body: JSON.stringify({name: 'planted'})}],
    ['ask', target + 'api/ask',
     {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'},
      body: JSON.stringify({question: 'Who planted this?'})}],
    ['gradio', target + 'gradio_api/call/v2/on_collection',
     {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'},
      body: JSON.stringify({name: 'default', pending_now: []})}],
  ];
  for (const [name, url, opts] of tries) {
    try { await fetch(url, {credentials: 'include', ...opts}); log(name + ': sent'); }
    catch (e) { log(name + ': failed'); }
  }
  try {
    const r = await fetch(target + 'api/collections', {credentials: 'include'});
    log('read: ' + (await r.text()));
  } catch (e) { log('read: blocked'); }
  try {
    const r = await fetch(target + 'config', {credentials: 'include'});
    log('config: ' + (await r.text()).slice(0, 80));
  } catch (e) { log('config: blocked'); }
  log('done');
}
attack();
</script></body></html>"""


def _attack_html(target: str) -> str:
    return ATTACK_PAGE % {
        "target": json.dumps(target),
        "planted": json.dumps("The planted fact: the answer is PLANTED-42."),
        "seed": json.dumps(SEED_FILE),
    }


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _serve_folder(folder: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    """A second local origin (another port on localhost) serving the attacker's page."""
    port = _free_port()
    handler = lambda *a, **k: _Quiet(*a, directory=str(folder), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


def _run_attack(browser, page_url: str) -> str:
    page = browser.new_page()
    try:
        page.goto(page_url)
        page.wait_for_function(
            "document.getElementById('log').textContent.includes('done')", timeout=60_000
        )
        return page.inner_text("#log")
    finally:
        page.close()


def test_pages_from_another_local_origin_or_a_file_cannot_change_anything(
    open_server, browser, tmp_path
):
    before = _state(open_server["index"])
    site = tmp_path / "site"
    site.mkdir()
    (site / "attack.html").write_text(_attack_html(open_server["url"]))
    # The server's own name for itself, but from the other origin's page:
    # http://localhost:OTHER -> http://localhost:SERVER is same-site, not same-origin.
    server_port = open_server["url"].rsplit(":", 1)[1].strip("/")
    (site / "attack-localhost.html").write_text(_attack_html(f"http://localhost:{server_port}/"))
    other, port = _serve_folder(site)
    try:
        logs = [
            _run_attack(browser, f"http://localhost:{port}/attack.html"),
            _run_attack(browser, f"http://localhost:{port}/attack-localhost.html"),
            _run_attack(browser, f"http://127.0.0.1:{port}/attack.html"),
            _run_attack(browser, (site / "attack.html").as_uri()),
        ]
    finally:
        other.shutdown()
    for log in logs:
        assert "read: blocked" in log and "config: blocked" in log, log
    after = _state(open_server["index"])
    assert after == before
    assert "planted" not in after["collections"]
    got = httpx.post(
        open_server["url"] + "api/ask", json={"question": SEED_QUESTION}, timeout=120
    ).json()
    assert "45.1 million" in got["answer"]  # the seed document is still there
    assert httpx.post(
        open_server["url"] + "api/ask", json={"question": "What is the planted fact?"}, timeout=120
    ).json()["abstained"]


def test_foreign_origins_get_no_cors_and_unknown_hosts_are_refused(open_server):
    url = open_server["url"]
    port = url.rsplit(":", 1)[1].strip("/")
    for origin in ["http://localhost:9999", "http://127.0.0.1:1", "null", "https://evil.example"]:
        for method, route in [("GET", "config"), ("POST", "api/ask"), ("OPTIONS", "api/ask")]:
            headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
            reply = httpx.request(method, url + route, headers=headers, json={"question": "q"})
            assert reply.status_code == 403, (origin, method, route, reply.status_code)
            assert not any(h.startswith("access-control-") for h in reply.headers), reply.headers
    # The browser says a request is cross-site even when it sends no Origin.
    reply = httpx.post(
        url + "api/ask", json={"question": "q"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert reply.status_code == 403
    # DNS rebinding: a name that resolves to 127.0.0.1 but is not the server's.
    for host in [f"rebind.attacker.example:{port}", "evil.example", f"127.0.0.2.nip.io:{port}"]:
        reply = httpx.get(url + "api/health", headers={"Host": host})
        assert reply.status_code == 400, host
    # The server's own names and origin still work.
    for host in [f"127.0.0.1:{port}", f"localhost:{port}"]:
        assert httpx.get(url + "api/health", headers={"Host": host}).status_code == 200
    same = httpx.post(
        url + "api/ask",
        json={"question": SEED_QUESTION},
        headers={"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"},
        timeout=120,
    )
    assert same.status_code == 200 and "45.1 million" in same.json()["answer"]


def test_an_allowed_origin_gets_cors_and_others_do_not(auth_server):
    url = auth_server["url"]
    allowed = {"Origin": "http://front.example:8443", "Access-Control-Request-Method": "POST"}
    pre = httpx.options(url + "api/ask", headers=allowed)
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "http://front.example:8443"
    assert "authorization" in pre.headers["access-control-allow-headers"]
    got = httpx.post(
        url + "api/ask",
        json={"question": SEED_QUESTION},
        headers={"Origin": "http://front.example:8443"},
        auth=("ann", PASSWORD),
        timeout=120,
    )
    assert got.status_code == 200 and "45.1 million" in got.json()["answer"]
    assert got.headers["access-control-allow-origin"] == "http://front.example:8443"
    other = {"Origin": "http://front.example:9000", "Access-Control-Request-Method": "POST"}
    assert httpx.options(url + "api/ask", headers=other).status_code == 403


# ---- 3. uploads never destroy, and say what happened --------------------------------


def _upload(url: str, name: str, data: bytes) -> httpx.Response:
    return httpx.post(
        url + "api/collections/default/documents",
        files={"files": (name, data, "text/plain")},
        timeout=120,
    )


def test_a_refused_upload_leaves_the_indexed_file_and_same_names_are_kept_apart(open_server):
    url, index = open_server["url"], open_server["index"]
    good = b"The Marwick lighthouse was painted red by Odile Varga in 1932.\n"
    first = _upload(url, "lighthouse.txt", good)
    assert first.json()["results"][0]["status"] == "indexed", first.text
    before = _state(index)
    for bad in [b"\x00\x01\x02binary" * 100, b"", b"   \n  "]:
        reply = _upload(url, "lighthouse.txt", bad)
        result = reply.json()["results"][0]
        assert result["status"] == "refused", reply.text
        assert (index / "uploads" / "lighthouse.txt").read_bytes() == good
        assert _state(index) == before
    got = httpx.post(
        url + "api/ask", json={"question": "Who painted the Marwick lighthouse?"}, timeout=120
    ).json()
    assert "Odile Varga" in got["answer"]

    # A new version of a file replaces it, and says so.
    newer = b"The Marwick lighthouse was painted red by Odile Varga in 1932 and 1961.\n"
    again = _upload(url, "lighthouse.txt", newer)
    assert again.json()["results"][0]["status"] == "replaced", again.text

    # Same names in one upload: each kept, under distinct stored names.
    many = [
        ("files", ("../../tide.txt", b"The Esk tide gauge reads metres.\n", "text/plain")),
        ("files", ("/tmp/tide.txt", b"The Orne tide gauge reads feet.\n", "text/plain")),
        ("files", ("tide.txt", b"The Vire tide gauge reads fathoms.\n", "text/plain")),
    ]
    reply = httpx.post(url + "api/collections/default/documents", files=many, timeout=120)
    results = reply.json()["results"]
    assert [r["status"] for r in results] == ["indexed"] * 3, reply.text
    names = [r["name"] for r in results]
    assert len(set(names)) == 3 and names[0] == "tide.txt", names
    texts = {(index / "uploads" / n).read_text() for n in names}
    assert len(texts) == 3
    for name in ["lighthouse.txt", *names]:
        httpx.delete(url + f"api/collections/default/documents/uploads/{name}")


# ---- 4. nothing about the documents before login ------------------------------------


def test_the_page_before_login_names_no_document_or_collection(auth_server):
    url, auth = auth_server["url"], ("ann", PASSWORD)
    assert httpx.post(url + "api/collections", json={"name": "zircon-files"}, auth=auth).is_success
    up = httpx.post(
        url + "api/collections/default/documents",
        files={"files": ("quarterly-zircon-plan.txt", b"The zircon plan is due in May.\n")},
        auth=auth,
        timeout=120,
    )
    assert up.json()["results"][0]["status"] == "indexed", up.text
    for route in ["", "?__theme=dark", "login", "gradio_api/info", "config", "gradio_api/info?x"]:
        reply = httpx.get(url + route, timeout=30)
        for name in ["zircon", "000_e0d75e9825ac5acc", SEED_FILE]:
            assert name not in reply.text, (route, name)
    # Logged in, the page's own load event lists them.
    with httpx.Client(base_url=url, timeout=60) as browser_like:
        login = browser_like.post("login", data={"username": "ann", "password": PASSWORD})
        assert login.status_code == 200, login.text
        page = browser_like.get("")
        assert page.status_code == 200


# ---- 5. logins, secrets, errors, bodies, headers, /docs -----------------------------


def test_password_guessing_is_slowed_down(auth_server):
    url = auth_server["url"]

    def guess(i: int) -> httpx.Response:
        return httpx.post(url + "login", data={"username": "ann", "password": f"guess-{i}"})

    codes = [guess(i).status_code for i in range(12)]
    assert codes[:5] == [400] * 5, codes  # a few typing mistakes cost nothing
    assert set(codes[5:]) == {429}, codes  # then each try waits its turn
    # Each further failure doubles the wait: 1 s, 2 s, 4 s...
    waits = []
    for i in range(2):
        limited = guess(100 + i)
        waits.append(int(limited.headers["retry-after"]))
        time.sleep(waits[-1] + 0.2)
        assert guess(200 + i).status_code == 400
    assert waits[1] > waits[0] >= 1, waits
    locked = guess(300)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 3
    # Even the right password waits, and so does the API's Basic login.
    assert (
        httpx.post(url + "login", data={"username": "ann", "password": PASSWORD}).status_code == 429
    )
    api = httpx.post(url + "api/ask", json={"question": "q"}, auth=("ann", PASSWORD))
    assert api.status_code == 429
    time.sleep(int(locked.headers["retry-after"]) + 0.5)
    ok = httpx.post(url + "login", data={"username": "ann", "password": PASSWORD})
    assert ok.status_code == 200, ok.text


def test_short_passwords_are_refused_at_start(tmp_path):
    for args in [("--auth", "ann:ab"), ("--api-key", "short")]:
        out = run_cli("serve", "--index-dir", str(tmp_path / "i"), *args, timeout=120)
        assert out.returncode != 0 and "at least 8 characters" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    out = run_cli("serve", "--allow-origin", "localhost:1/x", timeout=120)
    assert out.returncode != 0 and "not an origin" in out.stderr, out.stderr


def test_errors_name_no_server_path_or_exception_class(open_server):
    url, work = open_server["url"], str(open_server["work"])
    before = _state(open_server["index"])
    replies = [
        httpx.post(url + "api/collections", json={"name": "default\n"}),
        httpx.post(url + "api/collections", json={"name": "ok\n"}),
        httpx.post(url + "api/ask", json={"question": "q?", "collection": "nowhere"}),
        httpx.post(url + "api/collections/default/documents", files={"files": (None, "abc")}),
        httpx.post(url + "api/collections/default/documents", data={"files": "/etc/passwd"}),
        httpx.post(
            url + "api/collections/default/documents",
            files={"files": ("broken.pdf", b"%PDF-1.4 not really a pdf", "application/pdf")},
            timeout=120,
        ),
        httpx.post(
            url + "api/collections/default/documents",
            files={"files": ("broken.docx", b"PK\x03\x04 not a zip", "application/octet-stream")},
            timeout=120,
        ),
    ]
    for reply in replies:
        assert 400 <= reply.status_code < 500, reply.text
        text = reply.text
        assert work not in text and "/tmp/" not in text, text
        assert "<class" not in text and "Error:" not in text and "Exception" not in text, text
        assert "PdfStreamError" not in text and "PdfReadError" not in text, text
    names = [c["name"] for c in httpx.get(url + "api/collections").json()["collections"]]
    assert names == ["default"]
    assert _state(open_server["index"]) == before


def _raw(url: str, head: bytes, body_part: bytes = b"") -> tuple[int, dict, float]:
    """Send the head and a part of the body, then read the reply without sending the rest."""
    host, port = url.split("//", 1)[1].strip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        start = time.monotonic()
        s.sendall(head + body_part)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        took = time.monotonic() - start
    status_line, *lines = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, took


def test_bodies_are_refused_before_they_are_read(open_server, auth_server):
    # 20 MB declared, 1 KB sent, no credentials: the 401 comes without the rest.
    host = auth_server["url"].split("//", 1)[1].strip("/")
    head = (
        f"POST /api/collections/default/documents HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {20 * 1024 * 1024}\r\n\r\n"
    ).encode()
    status, headers, took = _raw(auth_server["url"], head, b"a" * 1024)
    assert status == 401 and took < 10
    assert "basic" in headers["www-authenticate"].lower()
    # A chunked JSON body that grows past 1 MB: 413, not 400.
    port = int(open_server["url"].rsplit(":", 1)[1].strip("/"))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    pieces = (b'{"question": "' + b"a" * 4096 if i == 0 else b"a" * 4096 for i in range(400))
    conn.request(
        "POST",
        "/api/ask",
        body=pieces,
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    reply = conn.getresponse()
    assert reply.status == 413, reply.read()[:200]
    conn.close()
    # The page's own event routes are capped too.
    big = httpx.post(
        open_server["url"] + "gradio_api/call/take",
        content=b'{"data": ["' + b"a" * (2 * 1024 * 1024) + b'", [], []]}',
        headers={"Content-Type": "application/json"},
    )
    assert big.status_code == 413


def test_security_headers_and_offline_docs_with_the_key(open_server, auth_server, browser):
    for route in ["", "api/health", "docs", "config"]:
        reply = httpx.get(open_server["url"] + route, timeout=30)
        assert reply.headers["x-content-type-options"] == "nosniff", route
        assert reply.headers["x-frame-options"] == "DENY", route
        assert "frame-ancestors 'none'" in reply.headers["content-security-policy"], route
    unauthorised = httpx.get(auth_server["url"] + "v1/models")
    assert unauthorised.status_code == 401 and "WWW-Authenticate" in unauthorised.headers
    docs = httpx.get(auth_server["url"] + "docs").text
    assert "cdn." not in docs and "https://" not in docs, docs
    schema = httpx.get(auth_server["url"] + "openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert any(s.get("scheme") == "basic" for s in schemes.values()), schemes
    # In Chromium, with no network: the page renders and offers "Authorize".
    page = browser.new_page()
    try:
        page.goto(auth_server["url"] + "docs")
        page.wait_for_selector(".swagger-ui .authorize", timeout=30_000)
        assert page.locator(".opblock").count() >= 5
    finally:
        page.close()
