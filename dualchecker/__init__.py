"""dualchecker."""
