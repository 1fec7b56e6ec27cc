"""The nearest ward to a point, from the 2025 administrative-unit data."""

from __future__ import annotations

import pytest

from bot.conversations.messages import Location
from bot.conversations.pipeline import LOCATION_WRONG_PAYLOAD, location_replies
from bot.places.nearest import nearest_ward


@pytest.mark.parametrize(
    ("lat", "lon", "ward", "province"),
    [
        (10.7725, 106.6980, "Phường Bến Thành", "Thành phố Hồ Chí Minh"),  # Ben Thanh market
        (21.0285, 105.8542, "Phường Hoàn Kiếm", "Thành phố Hà Nội"),  # Hoan Kiem lake
    ],
)
def test_known_places(lat, lon, ward, province):
    suggestion = nearest_ward(latitude=lat, longitude=lon)
    assert suggestion is not None
    assert (suggestion.ward, suggestion.province) == (ward, province)
    assert suggestion.distance_km < 3


@pytest.mark.parametrize(("lat", "lon"), [(48.85, 2.35), (0.0, 0.0), (91.0, 0.0), (10.0, 200.0)])
def test_points_outside_vietnam_have_no_suggestion(lat, lon):
    assert nearest_ward(latitude=lat, longitude=lon) is None


def test_location_reply_asks_for_confirmation():
    [reply] = location_replies(Location(21.0285, 105.8542))
    assert "Phường Hoàn Kiếm, Thành phố Hà Nội" in reply.text
    assert reply.text.endswith("không?")
    assert [b.payload for b in reply.buttons] == [
        "Tôi ở Phường Hoàn Kiếm, Thành phố Hà Nội",
        LOCATION_WRONG_PAYLOAD,
    ]
    [unknown] = location_replies(Location(48.85, 2.35))
    assert "gõ tên phường/xã" in unknown.text
    assert not unknown.buttons
