"""Selectors: score documents by how well they match a target. ``available()`` lists them."""

from sievekit.selectors.base import Selector
from sievekit.selectors.registry import available, get_selector, register, unregister

__all__ = ["Selector", "available", "get_selector", "register", "unregister"]
