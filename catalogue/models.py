"""Catalogue models arrive with the catalogue issue."""
