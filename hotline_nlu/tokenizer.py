"""Rasa tokenizer that applies `hotline_nlu.normalize` to every token, in training and at run time.

Each token keeps the character offsets of the word the resident typed (so entity annotations
still line up), its text is the normalised word (teencode expanded, NFC, lower case) and its
lemma is the diacritic-free view, which the featurizers use. A reference code becomes one
placeholder word (see `hotline_nlu.refcode`), so its random letters never reach the classifier.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from hotline_nlu.normalize import normalize_word, strip_diacritics
from hotline_nlu.refcode import REF_CODE_TOKEN, is_ref_code


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseTokenizer(WhitespaceTokenizer):
    """Whitespace tokenizer with Vietnamese teencode expansion and a diacritic-free lemma."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return WhitespaceTokenizer.get_default_config()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens: list[Token] = []
        for token in super().tokenize(message, attribute):
            if is_ref_code(token.text):
                tokens.append(Token(REF_CODE_TOKEN, token.start, token.end, lemma=REF_CODE_TOKEN))
                continue
            for word in normalize_word(token.text):
                tokens.append(Token(word, token.start, token.end, lemma=strip_diacritics(word)))
        return tokens
