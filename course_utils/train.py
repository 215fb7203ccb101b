"""Training helpers: choose the device once, one readable training loop, evaluation.

``fit`` is deliberately a single loop you can read top to bottom; copy it
into a notebook and change it when an experiment needs something else.
"""

from __future__ import annotations

__all__ = ["pick_device", "autograding", "seed_everything", "count_parameters", "fit", "evaluate"]


def pick_device(prefer: str | None = None):
    """The device for this session: CUDA when available, else the CPU.

    Call it once at the top of a notebook (``device = pick_device()``) and
    pass ``device`` around; never write ``"cuda"`` in a cell.
    """
    import torch
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autograding() -> bool:
    """True while nbgrader's autograder executes the notebook.

    nbgrader sets ``NBGRADER_EXECUTION=autograde`` for that run (its FAQ:
    "Can I modify the notebook behavior during autograding?").  Notebooks use
    it to skip demonstrations that carry no points — training runs that only
    draw a figure — so that grading a class takes minutes, not hours.  Never
    use it around anything a graded cell needs.
    """
    import os
    return os.environ.get("NBGRADER_EXECUTION") == "autograde"


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (an explicit call; importing the course seeds nothing)."""
    import random

    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def count_parameters(model, trainable_only: bool = False) -> int:
    """Number of parameters of a model (optionally only those that require gradients)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _model_device(model):
    import torch
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def evaluate(model, loader, *, loss_fn=None):
    """Mean loss and accuracy of a classifier over a loader, on the model's device."""
    import torch
    import torch.nn.functional as F
    loss_fn = loss_fn or F.cross_entropy
    device = _model_device(model)
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            logits = model(inputs)
            total_loss += loss_fn(logits, targets, reduction="sum").item()
            correct += (logits.argmax(dim=1) == targets).sum().item()
            count += targets.numel()
    model.train(was_training)
    return {"loss": total_loss / max(count, 1), "accuracy": correct / max(count, 1)}


def fit(model, train_loader, *, epochs: int = 1, lr: float = 1e-3, optimizer=None, scheduler=None,
        loss_fn=None, val_loader=None, progress: bool = True):
    """Train ``model`` on ``train_loader`` and return the history of losses and accuracies.

    The model is trained on the device it already sits on (move it first:
    ``model.to(device)``).  Default optimiser: Adam with learning rate ``lr``;
    default loss: cross-entropy.  ``scheduler``, if given, is stepped once per
    epoch (e.g. ``torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)``).
    History keys: ``train_loss`` (per batch),
    ``epoch_train_loss`` and, with ``val_loader``, ``val_loss`` and
    ``val_accuracy`` (per epoch).
    """
    import os

    import torch
    import torch.nn.functional as F
    if os.environ.get("COURSE_HEADLESS") == "1":   # a widget bar can stall headless runs (see widgets.is_headless)
        from tqdm import tqdm
    else:
        from tqdm.auto import tqdm

    loss_fn = loss_fn or F.cross_entropy
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    device = _model_device(model)
    history = {"train_loss": [], "epoch_train_loss": [], "val_loss": [], "val_accuracy": []}

    for epoch in range(epochs):
        model.train()
        running, seen = 0.0, 0
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
        for inputs, targets in bar:
            inputs, targets = inputs.to(device), targets.to(device)
            loss = loss_fn(model(inputs), targets)   # forward
            optimizer.zero_grad()
            loss.backward()                          # backward
            optimizer.step()                         # update
            history["train_loss"].append(loss.item())
            running += loss.item() * len(targets)
            seen += len(targets)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        history["epoch_train_loss"].append(running / max(seen, 1))
        if scheduler is not None:
            scheduler.step()                         # one learning-rate step per epoch
        if val_loader is not None:
            scores = evaluate(model, val_loader, loss_fn=loss_fn)
            history["val_loss"].append(scores["loss"])
            history["val_accuracy"].append(scores["accuracy"])
    return history
