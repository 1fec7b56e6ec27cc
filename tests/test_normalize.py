from hotline_nlu.normalize import fold, normalize, normalize_word, strip_diacritics


def test_teencode_is_expanded_and_text_lowered():
    assert normalize("Cho E gặp ng thật đi") == "cho em gặp người thật đi"
    assert normalize("sdt của mik ko dc") == "số điện thoại của mình không được"


def test_stretched_letters_collapse():
    assert normalize("cứuuuuu vớiiii") == "cứu với"


def test_names_that_fold_to_teencode_are_kept():
    # "Hồng" without diacritics is "hong", which is also teencode for "không".
    assert normalize("chị Hồng") == "chị hồng"
    assert normalize("hong co") == "không co"


def test_diacritic_free_view():
    assert strip_diacritics("Phường Bến Thành, Đà Nẵng") == "Phuong Ben Thanh, Da Nang"
    assert fold("nhà tôi hết gạo rồi") == fold("nha toi het gao r") == "nha toi het gao roi"


def test_nfc_and_nfd_input_agree():
    import unicodedata

    word = "Nguyễn"
    assert normalize(unicodedata.normalize("NFD", word)) == normalize(word) == "nguyễn"


def test_a_word_never_vanishes():
    assert normalize_word("???") == ["???"]
    assert normalize("") == ""
