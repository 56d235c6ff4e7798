"""The words on the directory management page, in Dutch (the default) and English."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "other_language": "English", "title": "Adresboek beheren", "intro":
            "Hier beheert u het adresboek van uw organisatie: de gegevens die andere zorgaanbieders vinden in het "
            "landelijke adresboek. Er staan geen patiëntgegevens op deze pagina.",
        "organisation": "Organisatie", "ura": "URA", "no_organisation":
            "Uw organisatie staat nog niet in het adresboek. Maak eerst de organisatie aan.",
        "Organization": "Organisaties en afdelingen", "Location": "Locaties", "HealthcareService": "Zorgdiensten",
        "Endpoint": "Endpoints", "Practitioner": "Zorgverleners", "PractitionerRole": "Rollen van zorgverleners",
        "new": "Nieuw", "edit": "Wijzigen", "delete": "Verwijderen", "save": "Opslaan", "cancel": "Annuleren",
        "none": "Nog niets vastgelegd.", "back": "Terug naar het overzicht", "choose": "— kies —",
        "new_title": "Nieuw: {what}", "edit_title": "Wijzigen: {what}",
        "saved": "Opgeslagen.", "deleted": "Verwijderd.",
        "errors": "Het formulier bevat fouten:", "refused_by_node": "De node weigerde de wijziging: {message}",
        "rule": "Regel van het profiel: {message}",
        "field_required": "Vul dit veld in.", "not_a_number": "Vul een getal in.",
        "out_of_range": "Dit getal ligt buiten het toegestane bereik.",
        "not_offered": "Kies een van de aangeboden waarden.",
        "position_incomplete": "Vul zowel de breedtegraad als de lengtegraad in.",
        "closes_before_opens": "De sluitingstijd moet na de openingstijd liggen.",
        "not_a_url": "Vul een volledig webadres in, beginnend met https://.",
        "login_title": "Inloggen voor adresboekbeheer", "login_needed":
            "U bent niet ingelogd. Vraag de beheerder van deze node om een eenmalige inloglink "
            "(samen directory admin-secret).",
        "login_invalid": "Deze inloglink is ongeldig, verlopen of al gebruikt.",
        "sign_out": "Afmelden", "signed_out_title": "Afgemeld",
        "signed_out": "U bent afgemeld. Voor een nieuwe sessie heeft u een nieuwe inloglink nodig.",
        "csrf_title": "Verzoek geweigerd", "csrf_refused":
            "Dit formulier is verlopen of niet van deze pagina afkomstig. Ga terug en probeer het opnieuw.",
        "not_found": "Dit gegeven bestaat niet of hoort niet bij uw organisatie.",
        "name": "Naam", "org_type": "Type organisatie", "phone": "Telefoonnummer", "status": "Status",
        "location_type": "Type locatie", "street": "Straat en huisnummer", "postal_code": "Postcode",
        "city": "Plaats", "latitude": "Breedtegraad", "longitude": "Lengtegraad", "service_type": "Type zorgdienst",
        "specialty": "Specialisme", "location": "Locatie", "days": "Beschikbaar op", "opens": "Vanaf",
        "closes": "Tot", "connection_type": "Verbindingstype", "payload_types": "Soorten gegevens",
        "address": "Adres (URL)", "given": "Voornaam", "family": "Achternaam", "uzi": "UZI-nummer",
        "practitioner": "Zorgverlener", "role": "Rol",
        "mon": "maandag", "tue": "dinsdag", "wed": "woensdag", "thu": "donderdag", "fri": "vrijdag",
        "sat": "zaterdag", "sun": "zondag",
        "active": "actief", "suspended": "tijdelijk buiten gebruik", "inactive": "niet actief", "error": "fout",
        "off": "uit", "entered-in-error": "foutief ingevoerd", "test": "test",
    },
    "en": {
        "other_language": "Nederlands", "title": "Manage the address book", "intro":
            "Here you manage your organisation's entries in the address book: what other care providers find in "
            "the national directory. This page holds no patient data.",
        "organisation": "Organisation", "ura": "URA", "no_organisation":
            "Your organisation is not in the address book yet. Create the organisation first.",
        "Organization": "Organisations and departments", "Location": "Locations",
        "HealthcareService": "Healthcare services", "Endpoint": "Endpoints", "Practitioner": "Practitioners",
        "PractitionerRole": "Practitioner roles",
        "new": "New", "edit": "Edit", "delete": "Delete", "save": "Save", "cancel": "Cancel",
        "none": "Nothing recorded yet.", "back": "Back to the overview", "choose": "— choose —",
        "new_title": "New: {what}", "edit_title": "Edit: {what}", "saved": "Saved.", "deleted": "Deleted.",
        "errors": "The form has errors:", "refused_by_node": "The node refused the change: {message}",
        "rule": "Profile rule: {message}",
        "field_required": "Fill in this field.", "not_a_number": "Enter a number.",
        "out_of_range": "This number is outside the allowed range.",
        "not_offered": "Choose one of the values offered.",
        "position_incomplete": "Enter both the latitude and the longitude.",
        "closes_before_opens": "The closing time must be after the opening time.",
        "not_a_url": "Enter a full web address, starting with https://.",
        "login_title": "Log in to manage the address book", "login_needed":
            "You are not logged in. Ask the operator of this node for a one-time login link "
            "(samen directory admin-secret).",
        "login_invalid": "This login link is invalid, expired or already used.",
        "sign_out": "Sign out", "signed_out_title": "Signed out",
        "signed_out": "You are signed out. A new session needs a new login link.",
        "csrf_title": "Request refused", "csrf_refused":
            "This form has expired or did not come from this page. Go back and try again.",
        "not_found": "This entry does not exist or does not belong to your organisation.",
        "name": "Name", "org_type": "Organisation type", "phone": "Telephone", "status": "Status",
        "location_type": "Location type", "street": "Street and number", "postal_code": "Postal code",
        "city": "City", "latitude": "Latitude", "longitude": "Longitude", "service_type": "Service type",
        "specialty": "Specialty", "location": "Location", "days": "Available on", "opens": "From",
        "closes": "Until", "connection_type": "Connection type", "payload_types": "Kinds of data",
        "address": "Address (URL)", "given": "Given name", "family": "Family name", "uzi": "UZI number",
        "practitioner": "Practitioner", "role": "Role",
        "mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
        "sat": "Saturday", "sun": "Sunday",
        "active": "active", "suspended": "suspended", "inactive": "inactive", "error": "error", "off": "off",
        "entered-in-error": "entered in error", "test": "test",
    },
}
