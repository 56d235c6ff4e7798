"""The words on the login pages, in Dutch (the default) and English."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "other_language": "English",
        "citizen_title": "Inloggen met de test-DigiD",
        "citizen_intro": "Dit is een testinlogdienst die werkt zoals DigiD. Log in met het burgerservicenummer "
                         "(BSN) van een synthetische persoon; echte BSN's worden geweigerd.",
        "bsn_label": "Burgerservicenummer (BSN)",
        "bsn_hint": "9 cijfers, beginnend met 9, bijvoorbeeld 999990019.",
        "professional_title": "Inloggen als zorgverlener (test-Dezi)",
        "professional_intro": "Dit is een testinlogdienst die werkt zoals Dezi. Kies een testzorgverlener.",
        "professional_legend": "Testzorgverlener",
        "login": "Inloggen",
        "cancel": "Annuleren",
        "client": "U logt in bij",
        "bsn_missing": "Vul een burgerservicenummer in.",
        "bsn_invalid": "Dit is geen geldig BSN van een synthetische persoon (9 cijfers, beginnend met 9, elfproef).",
        "professional_missing": "Kies een testzorgverlener.",
        "error_title": "Inloggen is niet mogelijk",
        "error_text": "Het inlogverzoek is onbekend, verlopen of niet toegestaan. Ga terug naar de applicatie "
                      "en probeer het opnieuw.",
        "synthetic": "Alleen synthetische gegevens: niet voor echte personen.",
    },
    "en": {
        "other_language": "Nederlands",
        "citizen_title": "Log in with test DigiD",
        "citizen_intro": "This is a test login service that works like DigiD. Log in with the citizen service "
                         "number (BSN) of a synthetic person; real BSNs are refused.",
        "bsn_label": "Citizen service number (BSN)",
        "bsn_hint": "9 digits, starting with 9, for example 999990019.",
        "professional_title": "Log in as a care professional (test Dezi)",
        "professional_intro": "This is a test login service that works like Dezi. Choose a test professional.",
        "professional_legend": "Test professional",
        "login": "Log in",
        "cancel": "Cancel",
        "client": "You are logging in to",
        "bsn_missing": "Enter a citizen service number.",
        "bsn_invalid": "This is not a valid BSN of a synthetic person (9 digits, starting with 9, elfproef).",
        "professional_missing": "Choose a test professional.",
        "error_title": "Login is not possible",
        "error_text": "The login request is unknown, expired or not allowed. Go back to the application and "
                      "try again.",
        "synthetic": "Synthetic data only: not for real people.",
    },
}
