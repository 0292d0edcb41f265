from qa.wording import counted


def test_counts_read_as_people_write_them():
    assert counted(1, "chunk") == "1 chunk"
    assert counted(0, "chunk") == "0 chunks"
    assert counted(2, "document") == "2 documents"
    assert counted(12_400, "character") == "12,400 characters"
