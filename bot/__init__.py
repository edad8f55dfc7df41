"""Tunesmith: a Discord bot that turns a server into a shared music studio."""
