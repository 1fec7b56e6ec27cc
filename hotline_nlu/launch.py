"""Rasa's own command line, started with what every hotline Rasa process needs set up first.

`hotline run --role rasa` starts `python -m hotline_nlu.launch run …` instead of the `rasa`
script, so what must hold in each Rasa process is installed once, before Rasa starts, here:

- **Action server replies are checked with a validator built once.** Rasa 3.6 checks each reply
  of the action server with `jsonschema.validate`, which first checks the schema itself against
  the 2020-12 meta-schema and builds a new validator: 50 ms of CPU per action call measured on
  this machine, 0.6 ms with the validator built once — and under load it was the largest single
  cost of a turn in the Rasa process (py-spy, web chat at 10 conversations). The schema, the
  error chosen (`best_match`) and its message are Rasa's own.
"""

from __future__ import annotations

from typing import Any

_RASA_HINT = (
    ". Failed to validate Action server response from API, make sure your response from the "
    "Action endpoint is valid. For more information about the format visit "
    "{docs}/custom-actions"
)


def install_action_result_validator() -> None:
    """Makes Rasa check action server replies with one validator built at start-up."""
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)  # once, where Rasa did it on every call
    validator = validator_class(schema)
    hint = _RASA_HINT.format(docs=DOCS_BASE_URL)

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        error = best_match(validator.iter_errors(result))
        if error is not None:
            error.message += hint
            raise error
        return True

    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def main() -> None:
    """Installs the above, then runs Rasa's command line with this process's arguments."""
    install_action_result_validator()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
