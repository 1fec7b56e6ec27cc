"""Training the Rasa model only when what it is trained from has changed."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from bot.settings import PROJECT_ROOT

MODEL_DIR = PROJECT_ROOT / "models"
MODEL_PATH = MODEL_DIR / "hotline.tar.gz"
FINGERPRINT_PATH = MODEL_DIR / "hotline.fingerprint"
RASA_BIN = PROJECT_ROOT / ".venvs" / "rasa" / "bin" / "rasa"
RASA_PYTHON = RASA_BIN.parent / "python"

# Everything the model is built from, including our tokenizer's code (Rasa's own fingerprint
# only sees component names and settings, not the code behind them).
TRAINING_INPUTS = [
    "config.yml",
    "domain",
    "data/nlu",
    "data/rules",
    "data/stories",
    "hotline_nlu",
    "requirements/rasa.lock",
]
# Code in those folders that Rasa loads to run, not to train (the event broker counting
# intents, the tracker store and its backends, the log filter, the launcher): changing it needs
# no new model.
NOT_TRAINING_INPUTS = {
    "hotline_nlu/launch.py",
    "hotline_nlu/rasa_logs.py",
    "hotline_nlu/stats_broker.py",
    "hotline_nlu/tracker_backends.py",
    "hotline_nlu/tracker_store.py",
}


def training_fingerprint(root: Path = PROJECT_ROOT) -> str:
    """Returns a hash over every file the model is trained from."""
    digest = hashlib.sha256()
    for entry in TRAINING_INPUTS:
        path = root / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.suffix == ".pyc" or "__pycache__" in file.parts or not file.exists():
                continue
            if file.relative_to(root).as_posix() in NOT_TRAINING_INPUTS:
                continue
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def model_is_current() -> bool:
    """True when a model exists and was trained from the files as they are now."""
    return (
        MODEL_PATH.exists()
        and FINGERPRINT_PATH.exists()
        and FINGERPRINT_PATH.read_text().strip() == training_fingerprint()
    )


def rasa_env() -> dict[str, str]:
    """Environment for the rasa processes: our tokenizer importable, quiet TF, no telemetry."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("PYTHONWARNINGS", "ignore")
    # Two cores here: one thread pool each for ops and inside ops avoids oversubscription.
    env.setdefault("TF_INTER_OP_PARALLELISM_THREADS", "1")
    env.setdefault("TF_INTRA_OP_PARALLELISM_THREADS", "2")
    return env


def train(*, force: bool = False) -> bool:
    """Trains the model if its inputs changed (or force); returns True if it trained."""
    if not force and model_is_current():
        return False
    if not RASA_BIN.exists():
        raise FileNotFoundError(f"{RASA_BIN} not found: run ./dev setup first")
    fingerprint = training_fingerprint()
    subprocess.run(  # noqa: S603 — fixed argv built by us, no shell
        [
            str(RASA_BIN),
            "train",
            "--domain",
            "domain",
            "--fixed-model-name",
            "hotline",
            "--out",
            str(MODEL_DIR),
        ],
        cwd=PROJECT_ROOT,
        env=rasa_env(),
        check=True,
    )
    FINGERPRINT_PATH.write_text(fingerprint + "\n")
    return True
