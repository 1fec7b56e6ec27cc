"""Rasa's own command line, started with what every hotline Rasa process needs set up first.

`hotline run --role rasa` starts `python -m hotline_nlu.launch run …` instead of the `rasa`
script, so what must hold in each Rasa process is installed once, before Rasa starts, here:

- **Action server replies are checked with a validator built once.** Rasa 3.6 checks each reply
  of the action server with `jsonschema.validate`, which first checks the schema itself against
  the 2020-12 meta-schema and builds a new validator: 50 ms of CPU per action call measured on
  this machine, 0.6 ms with the validator built once — and under load it was the largest single
  cost of a turn in the Rasa process (py-spy, web chat at 10 conversations). The schema, the
  error chosen (`best_match`) and its message are Rasa's own.
- **DIET's weights are built without tracing a training step.** To give an empty model its
  weights before loading them, Rasa 3.6 compiles it with an optimizer and `fit`s it on one
  example: TensorFlow then traces the whole training step (loss, gradients, Adam), which was
  60 % of the Rasa process's start-up CPU (py-spy from `rasa run` to the first reply). A model
  that only answers needs the weights, not the training step: one eager pass of the same loss
  on the same example builds exactly the layers `fit` would, the checkpoint is then loaded and
  must match every one of them (`assert_existing_objects_matched`; only the optimizer's slots
  it holds stay unused), and the first prediction is traced as Rasa does. A model loaded for
  fine-tuning, or any mismatch, goes through Rasa's own load.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

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


def install_inference_only_load() -> None:
    """Makes Rasa load TensorFlow models that will only predict without tracing a train step."""
    import tensorflow as tf
    from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator
    from rasa.utils.tensorflow.models import RasaModel

    rasa_load = RasaModel.load.__func__  # type: ignore[attr-defined]

    def load(
        cls: type[RasaModel],
        model_file_name: str,
        model_data_example: Any,
        predict_data_example: Any = None,
        finetune_mode: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> RasaModel:
        if finetune_mode:
            return rasa_load(
                cls, model_file_name, model_data_example, predict_data_example, True, *args,
                **kwargs,
            )  # fmt: skip
        model = cls(*args, **kwargs)
        generator = RasaBatchDataGenerator(model_data_example, batch_size=1)
        generator.on_epoch_end()  # what `fit` does before its first batch
        batch, _ = generator[0]
        model._training = True  # as in `train_step`: the layers training builds
        model.batch_loss(tf.nest.map_structure(tf.convert_to_tensor, batch))
        model._training = None
        status = model.load_weights(model_file_name)
        try:
            status.assert_existing_objects_matched()
        except AssertionError:
            logger.warning("%s: weights do not match, loading it as Rasa does", cls.__name__)
            return rasa_load(
                cls, model_file_name, model_data_example, predict_data_example, False, *args,
                **kwargs,
            )  # fmt: skip
        status.expect_partial()  # the optimizer's slots in the checkpoint stay unused
        if predict_data_example:
            model.run_inference(predict_data_example)
        return model

    RasaModel.load = classmethod(load)  # type: ignore[assignment]


def main() -> None:
    """Installs the above, then runs Rasa's command line with this process's arguments."""
    install_action_result_validator()
    install_inference_only_load()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
