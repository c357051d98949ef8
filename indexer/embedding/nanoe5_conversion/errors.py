"""The one error of provisioning, raised by every step from locating the weights to publishing."""

from __future__ import annotations


class ModelProvisionError(RuntimeError):
    """The default model could not be provisioned; the message says what to do about it."""
