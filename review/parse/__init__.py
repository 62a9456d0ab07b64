"""Parsers: raw exports and responses -> Record."""
