"""Planners that turn a sentence into a plan of kfai commands."""
