from __future__ import annotations

import pytest

from index.documents import UnreadableFile, discover, read_text
from index.errors import InputError
from tests.helpers import make_docx, make_pdf


def test_plain_text_is_read_unchanged(tmp_path):
    raw = "Line one.\r\nCafé costs €3.\n"
    path = tmp_path / "a.txt"
    path.write_bytes(raw.encode("utf-8"))
    assert read_text(path) == raw


def test_each_supported_format_yields_its_text(tmp_path):
    (tmp_path / "n.md").write_text("# Notes\n\nThe launch was in **May 2024**.")
    (tmp_path / "p.html").write_text(
        "<html><head><style>p{}</style><script>var x=1</script></head>"
        "<body><h1>Report</h1><p>Revenue rose to 7 million.</p></body></html>"
    )
    make_pdf(tmp_path / "d.pdf", "The harbour opened in 1932.")
    make_docx(tmp_path / "w.docx", ["The mayor is Ana Lopez.", "Second paragraph."])
    assert "May 2024" in read_text(tmp_path / "n.md")
    html = read_text(tmp_path / "p.html")
    assert "Revenue rose to 7 million." in html and "var x" not in html
    assert "The harbour opened in 1932." in read_text(tmp_path / "d.pdf")
    assert "The mayor is Ana Lopez." in read_text(tmp_path / "w.docx")


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("bin.txt", b"\x00\x01\x02binary\x00", "binary"),
        ("empty.md", b"   \n", "no text"),
        ("broken.pdf", b"%PDF-1.4 not really a pdf", "could not be parsed"),
        ("fake.docx", b"PK not a zip", "not a valid .docx"),
    ],
)
def test_unreadable_files_say_why(tmp_path, name, data, why):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableFile, match=why):
        read_text(path)


def test_discover_names_sources_from_the_folders_parent(tmp_path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("x")
    (folder / "sub" / "b.md").write_text("y")
    (folder / "c.png").write_bytes(b"\x89PNG")
    (folder / ".hidden.txt").write_text("z")
    files, skipped = discover([folder])
    assert sorted(f.source for f in files) == ["docs/a.txt", "docs/sub/b.md"]
    assert skipped == [("docs/c.png", "unsupported file type")]


def test_missing_path_and_unsupported_file_are_user_errors(tmp_path):
    with pytest.raises(InputError, match="No such file or folder"):
        discover([tmp_path / "nope"])
    (tmp_path / "x.exe").write_bytes(b"MZ")
    with pytest.raises(InputError, match="unsupported file type"):
        discover([tmp_path / "x.exe"])
