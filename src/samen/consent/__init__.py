"""Consent (toestemming): the registry of citizens' choices and the closed question data holders ask."""
