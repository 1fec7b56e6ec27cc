"""The scrubber: what identifies a resident goes, what the rumour says stays."""

from __future__ import annotations

import pytest

from bot.rumours.scrub import scrub


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Tôi là Nguyễn Văn An, nhà ở số 12 Nguyễn Huệ, sđt 0912 345 678, nghe nói uống "
            "nước muối chữa covid có đúng không?",
            "Tôi là [tên], nhà ở [địa chỉ], sđt [số điện thoại], nghe nói uống nước muối chữa "
            "covid có đúng không?",
        ),
        # without diacritics or capitals: a name after "tên tôi là" still goes, Thị included
        (
            "ten toi la tran thi mai o hem 45/3, nghe noi tiem vac xin bi liet",
            "ten toi la [tên] o [địa chỉ], nghe noi tiem vac xin bi liet",
        ),
        # money keeps its digits; a phone with dots does not
        (
            "Em tên Lan. Có tin nhắn 0987.654.321 bảo chuyển 2.000.000 đồng để nhận gạo?",
            "Em tên [tên]. Có tin nhắn [số điện thoại] bảo chuyển 2.000.000 đồng để nhận gạo?",
        ),
        # "tôi là" + a common noun or F0 is not a name
        (
            "tôi là người dân phường Bến Thành, nghe nói 5G lây covid",
            "tôi là người dân phường Bến Thành, nghe nói 5G lây covid",
        ),
        ("Tôi là F0, nghe đồn uống tỏi khỏi bệnh", "Tôi là F0, nghe đồn uống tỏi khỏi bệnh"),
        (
            "email minh la lan.nguyen@gmail.com, link https://facebook.com/lan.nguyen/posts/1",
            "email minh la [email], link [liên kết facebook.com]",
        ),
        (
            "CCCD 079123456789 bị lộ, có người gọi +84 912 345 678 bảo nộp phạt",
            "CCCD [số] bị lộ, có người gọi [số điện thoại] bảo nộp phạt",
        ),
        # dates are not addresses; a house number with its street is
        (
            "Nghe nói 12/3 Lê Lợi bị phong tỏa từ 18/11/2026 đến 25/11?",
            "Nghe nói [địa chỉ] bị phong tỏa từ 18/11/2026 đến 25/11?",
        ),
        (
            "Họ tên: Phạm Minh Tuấn. Nhà 45 đường Trần Phú bị cách ly à",
            "Họ tên: [tên]. Nhà [địa chỉ] bị cách ly à",
        ),
        (
            "@tuan_pham bảo ngày 20 sẽ phát 500.000đ mỗi người",
            "[tài khoản] bảo ngày 20 sẽ phát 500.000đ mỗi người",
        ),
        (
            "Mình là Đặng Thu Hà ở Hà Nội, nghe nói từ 1/12 cấm ra đường",
            "Mình là [tên] ở Hà Nội, nghe nói từ 1/12 cấm ra đường",
        ),
        ("Vắc xin có làm thay đổi ADN không?", "Vắc xin có làm thay đổi ADN không?"),
    ],
)
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected
