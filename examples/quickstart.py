"""hyperdial's quickstart: your own training loop asks for trials and reports on them."""

import math
import os

from hyperdial.client import Client, categorical, condition, float_param, int_param


def train_one_epoch(params, epoch):  # stands in for your training code
    """A validation loss that falls with the epochs, lowest near learning_rate 3e-3."""
    lr_penalty = (math.log10(params["learning_rate"]) + 2.5) ** 2
    sgd_penalty = 0.2 if params["optimizer"] == "sgd" else 0.0
    return lr_penalty + sgd_penalty + 0.05 * params["hidden_layers"] + 1 / (epoch + 1)


space = [
    float_param("learning_rate", 1e-4, 1e-1, log=True),
    int_param("hidden_layers", 1, 4),
    int_param("units_3", 16, 256, log=True, when=condition("hidden_layers", min=3)),
    categorical("optimizer", ["adam", "sgd"]),
]
with Client(os.environ.get("HYPERDIAL_SERVER", "127.0.0.1:50051")) as client:
    client.create_study("mlp", space, goal="minimize", metric="val_loss", max_trials=20, seed=1)
    study = client.study("mlp", prefetch=True, stream=True)  # the fast worker loop
    while (trial := study.next_trial(worker_id="gpu-0")) is not None:
        with trial:  # an exception marks the trial FAILED
            for epoch in range(10):
                val_loss = train_one_epoch(trial.params, epoch)  # your code
                if trial.report(epoch, val_loss):  # True: the server says stop early
                    trial.prune()
                    break
            else:
                trial.complete(val_loss)  # durable once this returns
    print(study.best_trials(1)[0].params)
