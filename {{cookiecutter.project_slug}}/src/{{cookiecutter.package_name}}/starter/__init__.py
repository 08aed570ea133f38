"""Starts sagas requested on the event bus."""
