"""The shape of the Telegram updates we read, checked at the edge (strict types).

python-telegram-bot's `Update.de_json` keeps whatever types it is given (a chat id "abc", a
text 123 or an object), which would only fail later in the worker. These models check the
fields the parser reads, with Bot API types and no coercion, so such an update is refused
with 400 before anything is queued. Fields we do not read pass unchecked.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)


class Chat(_Shape):
    id: int
    type: str


class User(_Shape):
    id: int


class Contact(_Shape):
    phone_number: str
    user_id: int | None = None


class Location(_Shape):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class Message(_Shape):
    message_id: int
    chat: Chat
    sender: User | None = Field(default=None, alias="from")
    text: str | None = None
    caption: str | None = None
    contact: Contact | None = None
    location: Location | None = None


class CallbackQuery(_Shape):
    id: str
    sender: User = Field(alias="from")
    message: Message | None = None
    data: str | None = None


class ChatMember(_Shape):
    status: str


class ChatMemberUpdated(_Shape):
    chat: Chat
    new_chat_member: ChatMember


class Update(_Shape):
    update_id: int
    message: Message | None = None
    callback_query: CallbackQuery | None = None
    my_chat_member: ChatMemberUpdated | None = None


class ShapeError(ValueError):
    """The update is not of the shape we read; the message names the field and the rule."""


def read_update(data: object) -> Update:
    """The update, checked; raises ShapeError (field path and rule, never the value)."""
    try:
        return Update.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "update"
        raise ShapeError(f"{where}: {first['msg']}") from None


def shape_problem(data: object) -> str | None:
    """Why `data` is not a Telegram update we can read, or None when it is one."""
    try:
        read_update(data)
    except ShapeError as exc:
        return str(exc)
    return None
