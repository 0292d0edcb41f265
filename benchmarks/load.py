"""Load test: many chat sessions at once against a running `seedqa serve`, during an upload.

    python benchmarks/load.py                       # starts its own server on 127.0.0.1
    python benchmarks/load.py --url http://127.0.0.1:7860/   # a server you started
    python benchmarks/load.py --clients 10 --json
    python benchmarks/load.py --via api             # the REST API instead of the web chat
    python benchmarks/load.py --url http://127.0.0.1:7860/ --url http://127.0.0.1:7861/
                                                    # replicas of one PostgreSQL store

Each of ``--clients`` threads is one user. With ``--via web`` (the default)
each has its own Gradio sessions (the real ``gradio_client``, the same queue
and events the browser uses); with ``--via api`` it calls ``POST /api/ask``
with httpx, sending its own history, and the upload goes through
``POST /api/collections/default/documents``. Every user
holds one two-turn conversation whose follow-up only makes sense within its
own session ("To how many countries?", "When was it established?"), then asks
standalone questions in fresh sessions: five questions per user. While they
run, another user uploads a document, which re-indexes the server's index.
Every reply is checked against the answer the seed article gives to *its*
question, and against the answer a mixed-up session would give; afterwards
the uploaded document must be answerable and the server must still be up.

Prints throughput and latency percentiles; exits non-zero if any reply was
wrong, lost or failed. Needs the server's index to hold ``seeds/`` (the
default when it starts without an index, and what ``--start`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (question, any of these must be in the answer, none of these may be)
Question = tuple[str, tuple[str, ...], tuple[str, ...]]

CONVERSATIONS: list[list[Question]] = [
    [
        ("How much did Azercosmos export in 2020?", ("45.1 million",), ()),
        ("To how many countries?", ("33",), ("45.1",)),
    ],
    [
        ("Who is the president of the Turkish Space Agency?", ("Serdar Huseyin Yildirim",), ()),
        # In a session mixed up with the other conversation, "it" would be Azercosmos (2010).
        ("When was it established?", ("December 2018",), ("2010",)),
    ],
]
# Questions the seed suite passes (its known failures, such as "In what year was
# Azercosmos founded?" with the trained reader, would only measure the reader here).
STANDALONE: list[Question] = [
    ("On what date did the Turkish delegation visit Azercosmos?", ("February 18",), ()),
    ("Who is the author of the article?", ("Ayya Lmahamad",), ()),
    ("In which year does Turkey plan a Moon landing?", ("2023",), ()),
    ("How many countries did Azercosmos sell its services to in 2020?", ("33",), ()),
    ("In which region is Azercosmos the only satellite operator?", ("South Caucasus",), ()),
]
UPLOAD_NAME = "load_test_harbour.txt"
UPLOAD_FACT = "The Velmora harbour crane was installed in 1987 by the firm Ostrander Lift."
# "Ostrander", a name only the upload holds: the reader answers the surname alone
# (the injection suite's known failure), and this measures the upload, not the reader.
UPLOAD_QUESTION = ("Which firm installed the Velmora harbour crane?", ("Ostrander",), ())
_TAG = re.compile(r"<[^>]+>")


@dataclass
class Reply:
    client: int
    question: str
    answer: str
    ok: bool
    why: str
    seconds: float


@dataclass
class LoadReport:
    clients: int
    via: str = "web"
    replicas: int = 1
    sent: int = 0
    replies: list[Reply] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    upload: str = ""
    upload_seconds: float = 0.0
    after_upload: Reply | None = None
    server_up: bool = False
    wall_seconds: float = 0.0

    @property
    def wrong(self) -> list[Reply]:
        return [r for r in self.replies if not r.ok]

    @property
    def passed(self) -> bool:
        return (
            not self.errors
            and not self.wrong
            and len(self.replies) == self.sent
            and "indexed" in self.upload
            and self.after_upload is not None
            and self.after_upload.ok
            and self.server_up
        )

    def percentile(self, q: float) -> float:
        times = sorted(r.seconds for r in self.replies)
        if not times:
            return float("nan")
        k = min(len(times) - 1, max(0, round(q / 100 * (len(times) - 1))))
        return times[k]

    def summary(self) -> dict:
        return {
            "via": self.via,
            "replicas": self.replicas,
            "clients": self.clients,
            "questions_sent": self.sent,
            "replies": len(self.replies),
            "wrong": len(self.wrong),
            "errors": len(self.errors),
            "wall_s": round(self.wall_seconds, 1),
            "throughput_qps": round(len(self.replies) / self.wall_seconds, 3)
            if self.wall_seconds
            else 0.0,
            "latency_p50_s": round(self.percentile(50), 2),
            "latency_p95_s": round(self.percentile(95), 2),
            "upload": self.upload,
            "upload_s": round(self.upload_seconds, 1),
            "answered_after_upload": bool(self.after_upload and self.after_upload.ok),
            "server_up": self.server_up,
            "passed": self.passed,
        }


def answer_text(messages: list[dict]) -> str:
    """The answer line of the last assistant message (citations stripped)."""
    content = messages[-1]["content"]
    if isinstance(content, list):  # Gradio's message format: a list of parts
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return _TAG.sub(" ", str(content).split("<div", 1)[0]).strip()


def last_user_text(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            content = message["content"]
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)
    return ""


def check(question: Question, messages: list[dict]) -> tuple[bool, str, str]:
    """Is the reply the right answer to *this* question (and not another session's)?"""
    text, expected, forbidden = question
    got = answer_text(messages)
    if last_user_text(messages).strip() != text:
        return False, got, "the reply belongs to another question"
    if not any(e.lower() in got.lower() for e in expected):
        return False, got, f"expected one of {list(expected)}"
    bad = [f for f in forbidden if f.lower() in got.lower()]
    if bad:
        return False, got, f"contains {bad} (a mixed-up session?)"
    return True, got, "ok"


def ask_conversation(
    url: str, client_id: int, turns: list[Question], report: LoadReport, via: str = "web"
) -> None:
    """One session: each turn asked within it (web: the page's events; api: with history)."""
    if via == "api":
        return _ask_api(url, client_id, turns, report)
    from gradio_client import Client

    client = Client(url, verbose=False, **_auth())
    for question in turns:
        t0 = time.perf_counter()
        try:
            # As the page does: the question is taken, then answered in turn.
            client.predict(question[0], api_name="/take")
            messages = client.predict(api_name="/answer_next")
        except Exception as exc:  # a lost or failed request is a finding, not a crash
            report.errors.append(f"client {client_id}: {question[0]!r}: {exc!r}")
            return
        ok, got, why = check(question, messages)
        report.replies.append(Reply(client_id, question[0], got, ok, why, time.perf_counter() - t0))


def _ask_api(url: str, client_id: int, turns: list[Question], report: LoadReport) -> None:
    import httpx

    history: list[dict] = []
    with httpx.Client(base_url=url, headers=_api_headers(), timeout=600) as client:
        for question in turns:
            t0 = time.perf_counter()
            try:
                reply = client.post("/api/ask", json={"question": question[0], "history": history})
                reply.raise_for_status()
                answer = reply.json()
            except Exception as exc:  # a lost or failed request is a finding, not a crash
                report.errors.append(f"client {client_id}: {question[0]!r}: {exc!r}")
                return
            seconds = time.perf_counter() - t0
            messages = [
                {"role": "user", "content": answer["question"]},
                {"role": "assistant", "content": answer["answer"]},
            ]
            ok, got, why = check(question, messages)
            report.replies.append(Reply(client_id, question[0], got, ok, why, seconds))
            history.append({"question": question[0], "answer": answer["answer"]})


def one_user(urls: list[str], client_id: int, per_user: int, report: LoadReport, via: str) -> None:
    """One user's questions; with several replicas its sessions go round them."""
    conversation = CONVERSATIONS[client_id % len(CONVERSATIONS)]
    ask_conversation(urls[client_id % len(urls)], client_id, conversation, report, via)
    for k in range(per_user - len(conversation)):
        question = STANDALONE[(client_id + k) % len(STANDALONE)]
        url = urls[(client_id + k + 1) % len(urls)]
        ask_conversation(url, client_id, [question], report, via)


def upload(url: str, report: LoadReport, delay: float, via: str = "web") -> None:
    """Upload a document mid-run; the server re-indexes while questions are answered."""
    from gradio_client import Client, handle_file

    time.sleep(delay)
    folder = Path(tempfile.mkdtemp(prefix="seedqa-load-"))
    try:
        doc = folder / UPLOAD_NAME
        filler = " ".join(
            f"Berth {i} of the Velmora harbour handles {10 + i} ships a week." for i in range(300)
        )
        doc.write_text(f"{UPLOAD_FACT}\n\n{filler}\n", encoding="utf-8")
        t0 = time.perf_counter()
        if via == "api":
            import httpx

            with httpx.Client(base_url=url, headers=_api_headers(), timeout=600) as client:
                files = {"files": (UPLOAD_NAME, doc.read_bytes(), "text/plain")}
                result = client.post("/api/collections/default/documents", files=files)
                result.raise_for_status()
                status = result.json()["results"][0]["status"]
            report.upload = f"{UPLOAD_NAME}: {status}"
        else:
            client = Client(url, verbose=False, **_auth())
            result = client.predict([handle_file(str(doc))], api_name="/on_upload")
            report.upload = str(result[0])
        report.upload_seconds = time.perf_counter() - t0
    except Exception as exc:
        report.errors.append(f"upload: {exc!r}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _auth() -> dict:
    """``SEEDQA_AUTH=user:password`` logs the clients in to a server started with --auth."""
    raw = os.environ.get("SEEDQA_AUTH", "")
    return {"auth": tuple(raw.split(":", 1))} if ":" in raw else {}


def _api_headers() -> dict:
    """``SEEDQA_API_KEY`` for a server started with --api-key."""
    key = os.environ.get("SEEDQA_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def server_alive(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def run_load(
    url: str | list[str],
    clients: int = 10,
    per_user: int = 5,
    upload_delay: float = 3.0,
    via: str = "web",
) -> LoadReport:
    """Run the load against ``url`` (or replicas of one store, round-robin).

    The upload goes through the first replica; the uploaded document is then
    asked about through the last, so with replicas it must have crossed over.
    """
    urls = [url] if isinstance(url, str) else list(url)
    report = LoadReport(clients=clients, sent=clients * per_user, via=via, replicas=len(urls))
    start = time.perf_counter()
    uploader = threading.Thread(target=upload, args=(urls[0], report, upload_delay, via))
    uploader.start()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(one_user, urls, i, per_user, report, via) for i in range(clients)]
        for f in futures:
            f.result()
    uploader.join()
    report.wall_seconds = time.perf_counter() - start
    after: LoadReport = LoadReport(clients=1)
    ask_conversation(urls[-1], -1, [UPLOAD_QUESTION], after, via)
    report.after_upload = after.replies[0] if after.replies else None
    report.errors.extend(after.errors)
    report.server_up = all(server_alive(u) for u in urls)
    return report


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(work: Path) -> tuple[subprocess.Popen, str]:
    """`seedqa serve` on a free 127.0.0.1 port over a copy of seeds/ in ``work``."""
    shutil.copytree(ROOT / "seeds", work / "seeds")
    port = free_port()
    exe = Path(sys.executable).with_name("seedqa")
    log = (work / "server.log").open("w")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--index-dir", str(work / "index")],
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while not server_alive(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the server did not start; see {work / 'server.log'}")
        time.sleep(0.5)
    return proc, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url",
        action="append",
        help="a running server (default: start one on 127.0.0.1); repeat it for replicas "
        "of one store, asked round-robin",
    )
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--per-client", type=int, default=5, help="questions per client (>= 2)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--via", choices=["web", "api"], default="web", help="the web chat's events or the REST API"
    )
    args = parser.parse_args(argv)
    if args.per_client < 2:
        parser.error("--per-client must be at least 2 (one conversation has two turns)")

    proc, work = None, None
    url = args.url
    if url is None:
        work = Path(tempfile.mkdtemp(prefix="seedqa-load-server-"))
        proc, started = start_server(work)
        url = [started]
    try:
        report = run_load(url, args.clients, args.per_client, via=args.via)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(work, ignore_errors=True)

    summary = report.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{summary['replies']}/{summary['questions_sent']} replies ({args.via}) from "
            f"{args.clients} "
            f"clients in {summary['wall_s']} s: {summary['throughput_qps']} questions/s, "
            f"latency p50 {summary['latency_p50_s']} s, p95 {summary['latency_p95_s']} s; "
            f"upload during the run: {summary['upload']!r} in {summary['upload_s']} s; "
            f"server up: {summary['server_up']}"
        )
    for r in report.wrong:
        print(f"WRONG client {r.client}: {r.question!r} -> {r.answer!r} ({r.why})", file=sys.stderr)
    for e in report.errors:
        print(f"ERROR {e}", file=sys.stderr)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
