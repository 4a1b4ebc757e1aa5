"""A plain PyTorch training script that `hyperdial agent` can tune: no hyperdial import.

It takes its hyperparameters as flags, trains a small MLP on scikit-learn's
bundled digits, and prints one metric line per epoch and a final one:

    hyperdial: step=3 val_loss=0.2143 val_accuracy=0.9417
    hyperdial: final val_loss=0.1520 val_accuracy=0.9611

    hyperdial agent --study digits -- python examples/train_torch.py \
        --lr {learning_rate} --hidden {hidden} --dropout {dropout} --epochs 10
"""

from __future__ import annotations

import argparse

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn


def main() -> None:
    """Trains once with the flags' hyperparameters, printing metric lines."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=0.25, random_state=0)
    x_train, x_val = (torch.tensor(a, dtype=torch.float32) for a in (x_train, x_val))
    y_train, y_val = torch.tensor(y_train), torch.tensor(y_val)
    model = nn.Sequential(
        nn.Linear(64, args.hidden), nn.ReLU(), nn.Dropout(args.dropout), nn.Linear(args.hidden, 10)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    best = (float("inf"), 0.0)
    for epoch in range(args.epochs):
        model.train()
        for batch in torch.randperm(len(x_train)).split(64):
            optimizer.zero_grad()
            loss_fn(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            loss = float(loss_fn(logits, y_val))
            accuracy = float((logits.argmax(1) == y_val).float().mean())
        line = f"hyperdial: step={epoch} val_loss={loss:.6f} val_accuracy={accuracy:.4f}"
        print(line, flush=True)
        best = min(best, (loss, accuracy))
    print(f"hyperdial: final val_loss={best[0]:.6f} val_accuracy={best[1]:.4f}", flush=True)


if __name__ == "__main__":
    main()
