"""Questions about a document itself: its byline and date, read from its header."""

from __future__ import annotations

import pytest

from qa.byline import AUTHOR, DATE, document_field, header_field


@pytest.mark.parametrize(
    ("question", "field"),
    [
        ("Who is the author of the article?", AUTHOR),
        ("Who wrote this article?", AUTHOR),
        ("Who wrote the report about the harbour?", AUTHOR),
        ("What is the date of the article?", DATE),
        ("When was the article published?", DATE),
        ("What is the publication date of this document?", DATE),
        ("Who founded Azercosmos?", None),  # about the text's subject, not the text
        ("What is the date of the launch?", None),
        ("Who wrote the national space programme?", None),
    ],
)
def test_questions_about_the_document(question, field):
    assert document_field(question) == field


@pytest.mark.parametrize(
    ("text", "author", "date"),
    [
        (" date 2021-02-19 By Ayya Lmahamad\n\nThe agency said…", "Ayya Lmahamad", "2021-02-19"),
        ("Harbour news\nBy Jane van Doe | March 3, 2021\n\nBody.", "Jane van Doe", "March 3, 2021"),
        ("Posted by Ana Lima on 4 May 2020\n\nBody.", "Ana Lima", "4 May 2020"),
        # Body text is no header: a long first line, or "by" inside a sentence.
        ("The plant was built by General Electric in 1950.\n", None, None),
        ("x" * 130 + " By Jane Doe 2021-01-01\n", None, None),
        ("Title\n\n" + "A long paragraph of body text, " * 5 + "\n\nBy Jane Doe\n", None, None),
    ],
)
def test_header_fields(text, author, date):
    for field, expected in ((AUTHOR, author), (DATE, date)):
        span = header_field(text, field)
        assert (text[span[0] : span[1]] if span else None) == expected


def test_the_top_documents_byline_answers_with_its_citation(tmp_path):
    """Two documents, one with a byline: each question reads its own document's header."""
    from index import update_index
    from qa import Assistant

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "harbour.txt").write_text(
        "Harbour Weekly\nBy Marta Keller | March 3, 2021\n\n"
        "The Velmora harbour handled 1.2 million containers in 2020, a record for the port.\n\n"
        "Its new crane terminal opened in the autumn after two years of building."
    )
    (docs / "mill.txt").write_text(
        "The Oswin paper mill on the river Tarn employs 340 people.\n\n"
        "It was rebuilt in 1998 after a flood destroyed its turbine hall."
    )
    update_index([docs], tmp_path / "index", progress=False)
    bot = Assistant(tmp_path / "index")
    text = (docs / "harbour.txt").read_text()

    author = bot.answer("Who wrote the article about the Velmora harbour?")
    assert author.text == "Marta Keller", author.reason
    [cite] = author.citations
    assert cite.source.endswith("harbour.txt") and "By Marta Keller" in cite.quote
    assert text[cite.start : cite.end] == cite.quote

    assert bot.answer("When was the article about the Velmora harbour published?").text == (
        "March 3, 2021"
    )
    # The mill's document has no header: no byline is made up for it.
    assert bot.answer("Who wrote the article about the Oswin paper mill?").abstained
