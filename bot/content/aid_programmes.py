"""Support programmes (content kind "aid_programmes", `data/content/aid_programmes.yml`): who
is eligible, what and how much, which papers, where and how, valid from when to when, for the
whole country, provinces or wards. One pydantic schema per entry, so the admin content editor
can validate an edit the same way the bot reads the file."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.content.service import ContentError, content_file
from bot.places.wards import get_ward, province_name
from hotline_nlu.normalize import clean, strip_diacritics

CONTENT_KIND = "aid_programmes"
FILE_NAME = "aid_programmes.yml"
VIETNAM = timezone(timedelta(hours=7))
NATIONAL = "national"

# Short enough that one programme, described in full, fits one Zalo message (2,000 characters).
Text = Annotated[str, Field(min_length=1, max_length=350)]


class AidProgramme(BaseModel):
    """One support programme, as an admin writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    eligible: Text  # who is eligible
    benefit: Text  # what and how much
    papers: Text  # which papers
    how: Text  # where and how to apply
    valid_from: date
    valid_to: date | None = None  # inclusive; None: until further notice
    # "national", or a list of province codes ("79") and/or ward codes ("26743").
    area: Literal["national"] | list[str]
    keywords: list[str] = Field(default_factory=list)  # what a question about it mentions
    verified: bool = False  # shipped entries are examples until someone checks them

    @field_validator("area")
    @classmethod
    def _known_codes(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str):
            return value
        if not value:
            raise ValueError('area: "national" or at least one province or ward code')
        unknown = [c for c in value if province_name(c) is None and get_ward(c) is None]
        if unknown:
            raise ValueError(f"area: unknown province or ward codes {unknown}")
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> AidProgramme:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    def valid_on(self, day: date) -> bool:
        """Whether the programme applies on this day (both ends inclusive)."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def applies_to(self, province_code: str, ward_code: str | None) -> bool:
        """Whether residents of this ward / province are covered."""
        if self.area == NATIONAL:
            return True
        return province_code in self.area or (ward_code is not None and ward_code in self.area)

    def reach(self) -> int:
        """0 for a ward programme, 1 for a province's, 2 national: the most local comes first."""
        if self.area == NATIONAL:
            return 2
        return 1 if all(get_ward(code) is None for code in self.area) else 0


class AidProgrammesFile(BaseModel):
    """The whole file: a list of programmes with unique ids."""

    model_config = ConfigDict(extra="forbid")

    last_reviewed: str | None = None
    programmes: list[AidProgramme] = Field(default_factory=list)

    @field_validator("programmes")
    @classmethod
    def _unique_ids(cls, value: list[AidProgramme]) -> list[AidProgramme]:
        ids = [p.id for p in value]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate programme ids {duplicates}")
        return value


def load_aid_programmes(*, content_dir: Path | None = None) -> AidProgrammesFile:
    """The programmes file, checked against the schema (ContentError says what is wrong)."""
    raw: dict[str, Any] = content_file(FILE_NAME, content_dir=content_dir)
    try:
        return AidProgrammesFile.model_validate(raw)
    except ValidationError as exc:
        raise ContentError(
            f"{FILE_NAME}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
        ) from exc


def today_in_vietnam(now: datetime | None = None) -> date:
    return (now or datetime.now(VIETNAM)).astimezone(VIETNAM).date()


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", strip_diacritics(clean(text)))) + " "


def programmes_for(
    *,
    province_code: str,
    ward_code: str | None,
    question: str = "",
    day: date | None = None,
    content_dir: Path | None = None,
) -> list[AidProgramme]:
    """The programmes valid today for a resident of this area, the most local first; when the
    question names some of them by their keywords, only those."""
    on = day or today_in_vietnam()
    found = [
        p
        for p in load_aid_programmes(content_dir=content_dir).programmes
        if p.valid_on(on) and p.applies_to(province_code, ward_code)
    ]
    found.sort(key=lambda p: (p.reach(), p.valid_to or date.max))
    words = _words(question)
    named = [p for p in found if any(_words(k) in words for k in p.keywords)]
    return named or found


def example_programmes(*, content_dir: Path | None = None) -> list[str]:
    """The programmes still marked as examples (for `hotline content check`)."""
    return [
        f"{FILE_NAME} {p.id} (example, not verified)"
        for p in load_aid_programmes(content_dir=content_dir).programmes
        if not p.verified
    ]


def describe_programme(programme: AidProgramme) -> str:
    """One programme as a resident reads it."""
    until = f" (đến hết {programme.valid_to:%d/%m/%Y})" if programme.valid_to else ""
    return (
        f"• {programme.name}{until}\n"
        f"  – Đối tượng: {programme.eligible}\n"
        f"  – Mức hỗ trợ: {programme.benefit}\n"
        f"  – Giấy tờ: {programme.papers}\n"
        f"  – Nộp ở đâu, thế nào: {programme.how}"
    )
