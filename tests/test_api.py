"""The HTTP API of a real `seedqa serve` (127.0.0.1, started and stopped here by PID),
driven by clients nobody here wrote: the official `openai` package and httpx."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from qa.types import ABSTENTION
from tests.conftest import SEED_FILE, SEEDS, stop_server
from tests.test_web import _start_server, _wait_http

KEY = "test-key-0123456789"
SEED_QUESTION = "How much did Azercosmos export in 2020?"
SEED_QUOTE = "The company has exported services worth $45.1 million to 33 countries in 2020."
HARBOUR = (
    "The Orlan harbour was rebuilt in 1911 by the engineer Tomas Brek.\n"
    "Its lighthouse shines green and can be seen from 14 nautical miles away.\n"
)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    work = tmp_path_factory.mktemp("api")
    proc, url = _start_server(work, SEEDQA_API_KEY=KEY)
    try:
        _wait_http(url + "api/health", proc)
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120)
        yield {"url": url, "client": client, "proc": proc, "work": work}
        client.close()
    finally:
        stop_server(proc)
    log = (work / "server.log").read_text()
    assert "Traceback" not in log, log[-3000:]


@pytest.fixture(scope="module")
def openai_client(api):
    from openai import OpenAI

    return OpenAI(base_url=api["url"] + "v1", api_key=KEY, max_retries=0, timeout=120)


def _seed_text() -> str:
    return (SEEDS / SEED_FILE.split("/", 1)[1]).read_text(encoding="utf-8")


def test_openai_chat_answers_with_the_exact_citation(openai_client):
    resp = openai_client.chat.completions.create(
        model="seedqa", messages=[{"role": "user", "content": SEED_QUESTION}]
    )
    assert "45.1 million" in resp.choices[0].message.content
    assert resp.choices[0].finish_reason == "stop"
    (cite,) = resp.model_extra["citations"]
    assert cite["source"] == SEED_FILE and cite["quote"] == SEED_QUOTE
    assert _seed_text()[cite["start"] : cite["end"]] == SEED_QUOTE


def test_openai_streaming_follow_up_from_the_message_history(openai_client):
    stream = openai_client.chat.completions.create(
        model="seedqa",
        stream=True,
        messages=[
            {"role": "system", "content": "You are helpful."},  # ignored, as documented
            {"role": "user", "content": SEED_QUESTION},
            {"role": "assistant", "content": "$45.1 million"},
            {"role": "user", "content": "To how many countries?"},
        ],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "33" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"][0]["quote"] == SEED_QUOTE


def test_openai_out_of_scope_is_abstained_on_and_models_are_listed(openai_client):
    resp = openai_client.chat.completions.create(
        model="seedqa", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    assert resp.choices[0].message.content == ABSTENTION
    assert resp.model_extra["citations"] == [] and resp.model_extra["seedqa"]["abstained"]
    assert "seedqa" in [m.id for m in openai_client.models.list()]


def test_openai_what_cannot_be_served_is_a_400_in_openais_shape(openai_client):
    import openai

    with pytest.raises(openai.BadRequestError) as err:
        openai_client.chat.completions.create(
            model="seedqa", n=2, messages=[{"role": "user", "content": SEED_QUESTION}]
        )
    assert "n=1" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        openai_client.chat.completions.create(
            model="seedqa",
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:,"}}],
                }
            ],
        )
    with pytest.raises(openai.NotFoundError):
        openai_client.chat.completions.create(
            model="seedqa/nowhere", messages=[{"role": "user", "content": SEED_QUESTION}]
        )


def test_rest_ask_follow_up_and_stream(api):
    c = api["client"]
    first = c.post("/api/ask", json={"question": SEED_QUESTION}).json()
    assert "45.1 million" in first["answer"] and first["citations"][0]["quote"] == SEED_QUOTE
    history = [{"question": SEED_QUESTION, "answer": first["answer"]}]
    with c.stream(
        "POST",
        "/api/ask",
        params={"stream": "true"},
        json={"question": "To how many countries?", "history": history},
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    final = json.loads(events[-1][len("data: ") :])
    assert "33" in final["answer"] and not final["abstained"]
    out = c.post("/api/ask", json={"question": "What is the capital of France?"}).json()
    assert out["abstained"] and out["answer"] == ABSTENTION and out["citations"] == []


def test_a_new_collection_is_answerable_then_removed_and_others_unaffected(api, tmp_path):
    c = api["client"]
    assert c.post("/api/collections", json={"name": "harbour"}).status_code == 201
    notes = tmp_path / "harbour_notes.txt"
    notes.write_text(HARBOUR)
    up = c.post(
        "/api/collections/harbour/documents",
        files={"files": ("harbour_notes.txt", notes.read_bytes(), "text/plain")},
    )
    assert up.status_code == 200 and up.json()["results"][0]["status"] == "indexed"
    question = {"question": "Who rebuilt the Orlan harbour?", "collection": "harbour"}
    got = c.post("/api/ask", json=question).json()
    assert "Tomas Brek" in got["answer"]
    assert got["citations"][0]["source"] == "uploads/harbour_notes.txt"
    # The default collection does not know it, and still answers its own.
    assert c.post("/api/ask", json={"question": question["question"]}).json()["abstained"]
    assert not c.post("/api/ask", json={"question": SEED_QUESTION}).json()["abstained"]
    names = [x["name"] for x in c.get("/api/collections").json()["collections"]]
    assert names == ["default", "harbour"]
    docs = c.get("/api/collections/harbour/documents").json()["documents"]
    assert [d["source"] for d in docs] == ["uploads/harbour_notes.txt"]
    gone = c.delete("/api/collections/harbour/documents/uploads/harbour_notes.txt")
    assert gone.status_code == 200
    assert c.post("/api/ask", json=question).json()["abstained"]
    assert c.delete("/api/collections/harbour").status_code == 200
    assert c.post("/api/ask", json=question).status_code == 404
    assert not c.post("/api/ask", json={"question": SEED_QUESTION}).json()["abstained"]


def test_bad_input_is_a_json_4xx_and_the_server_stays_up(api, tmp_path):
    c, url = api["client"], api["url"]
    cases = [
        (
            c.post("/api/ask", content=b"{not json", headers={"content-type": "application/json"}),
            400,
        ),
        (c.post("/api/ask", json={"history": []}), 422),
        (c.post("/api/ask", json={"question": "x" * (5 * 1024 * 1024)}), 413),
        (c.post("/api/ask", json={"question": "Hi?", "collection": "nowhere"}), 404),
        (c.post("/api/ask", json={"question": "Hi?", "collection": "../../etc"}), 400),
        (c.delete("/api/collections/..%2F..%2Fetc"), 404),  # the path leaves the route
        (c.delete("/api/collections/..etc"), 400),
        (c.post("/api/collections", json={"name": "../up"}), 400),
        (httpx.post(url + "api/ask", json={"question": SEED_QUESTION}), 401),
        (
            httpx.post(
                url + "api/ask", json={"question": "q"}, headers={"Authorization": "Bearer no"}
            ),
            401,
        ),
        (httpx.get(url + "v1/models"), 401),
    ]
    bad = tmp_path / "tool.exe"
    bad.write_bytes(b"MZ")
    cases.append(
        (
            c.post(
                "/api/collections/default/documents",
                files={"files": ("tool.exe", bad.read_bytes())},
            ),
            415,
        )
    )
    for response, status in cases:
        assert response.status_code == status, (response.request.url, response.text[:300])
        assert response.json()["error"]["message"], response.text
        assert "Traceback" not in response.text
    assert not (api["work"] / "index" / "uploads" / "tool.exe").exists()
    # 20 at once: every one answered, right, and the server still up.
    with ThreadPoolExecutor(20) as pool:
        replies = list(
            pool.map(lambda _: c.post("/api/ask", json={"question": SEED_QUESTION}), range(20))
        )
    assert [r.status_code for r in replies] == [200] * 20
    assert all("45.1 million" in r.json()["answer"] for r in replies)
    assert c.get("/api/health").json()["status"] == "ok" and api["proc"].poll() is None
    assert c.get("/docs").status_code == 200 and "openapi" in c.get("/openapi.json").text
    # With only an API key, the page asks for it too.
    assert httpx.get(url + "config").status_code == 401
