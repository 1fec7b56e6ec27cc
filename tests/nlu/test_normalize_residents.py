"""Short forms and regional words that residents type, expanded the same way in training and at run time."""

from __future__ import annotations

import pytest

from hotline_nlu.normalize import normalize


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("e đk tiêm ở q1 t7 này đc k", "em đăng ký tiêm ở quận 1 thứ 7 này được không"),
        ("ktra yc giúp e", "kiểm tra yêu cầu giúp em"),
        ("xn p.12 q.3 hqua", "xét nghiệm phường 12 quận 3 hôm qua"),
        ("ba e 70t, sốt từ 12h", "ba em 70t, sốt từ 12 giờ"),  # "70t," keeps its comma here
        ("ba e 70t sốt", "ba em 70 tuổi sốt"),
        ("nghe đồn phát 3tr mỗi ng", "nghe đồn phát 3 triệu mỗi người"),
        ("chích được hông", "chích được không"),
        ("hổng có tiền, mún dìa quê", "không có tiền, muốn về quê"),
        ("mần tờ khai sao dzị", "làm tờ khai sao vậy"),
    ],
)
def test_resident_short_forms(typed, normalised):
    assert normalize(typed) == normalised


@pytest.mark.parametrize("word", ["q", "t1", "t8", "p123", "tphcm2", "h5n1", "2h30"])
def test_look_alikes_of_short_forms_stay(word):
    assert normalize(word) == word
