"""Identification, authentication and authorization between organisations, professionals and patients."""
