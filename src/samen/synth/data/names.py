"""Dutch names and street names.

Surnames: the most frequent family names of the Netherlands with their prefixes (voorvoegsels), after
the Nederlandse Familienamenbank (Meertens Instituut / CBG), weights roughly proportional to the number
of bearers. First names: popular names per birth cohort after the Meertens Nederlandse Voornamenbank
and SVB lists; formal baptismal names of the older cohorts come with the call name (roepnaam) they are
usually known by. Street names: names that occur in very many Dutch places.
"""

from __future__ import annotations

# (prefix, own name, weight)
SURNAMES: tuple[tuple[str, str, int], ...] = (
    ("de", "Jong", 85), ("", "Jansen", 74), ("de", "Vries", 72), ("van den", "Berg", 61), ("van", "Dijk", 56),
    ("", "Bakker", 55), ("", "Janssen", 54), ("", "Visser", 49), ("", "Smit", 46), ("", "Meijer", 40),
    ("de", "Boer", 39), ("", "Mulder", 37), ("de", "Groot", 36), ("", "Bos", 35), ("", "Vos", 32),
    ("", "Peters", 32), ("", "Hendriks", 31), ("van", "Leeuwen", 30), ("", "Dekker", 29), ("", "Brouwer", 28),
    ("de", "Wit", 27), ("", "Dijkstra", 27), ("", "Smits", 26), ("de", "Graaf", 26), ("van der", "Meer", 25),
    ("van der", "Linden", 24), ("", "Kok", 24), ("", "Jacobs", 24), ("de", "Haan", 23), ("", "Vermeulen", 23),
    ("van den", "Heuvel", 22), ("van der", "Veen", 22), ("van den", "Broek", 22), ("de", "Bruijn", 21),
    ("de", "Bruin", 21), ("van der", "Heijden", 21), ("", "Schouten", 20), ("van", "Beek", 20), ("", "Willems", 20),
    ("van", "Vliet", 19), ("van de", "Ven", 19), ("", "Hoekstra", 19), ("", "Maas", 18), ("", "Verhoeven", 18),
    ("", "Koster", 18), ("van", "Dam", 18), ("van der", "Wal", 17), ("", "Prins", 17), ("", "Blom", 17),
    ("", "Huisman", 17), ("", "Peeters", 16), ("de", "Jonge", 16), ("", "Kuipers", 16), ("van", "Veen", 16),
    ("", "Post", 16), ("", "Kuiper", 16), ("", "Veenstra", 15), ("", "Kramer", 15), ("van den", "Brink", 15),
    ("", "Scholten", 15), ("van", "Wijk", 15), ("", "Postma", 14), ("", "Martens", 14), ("", "Vink", 14),
    ("de", "Ridder", 14), ("", "Jonker", 13), ("van de", "Pol", 13), ("", "Claassen", 13), ("", "Wouters", 13),
    ("", "Koning", 13), ("van", "Loon", 12), ("", "Goossens", 12), ("", "Gerritsen", 12), ("", "Bosch", 12),
    ("", "Yilmaz", 12), ("", "Kaya", 10), ("", "Öztürk", 8), ("", "El Amrani", 7), ("", "Bouzid", 6),
)

# Given names per birth cohort (first year of the cohort): (formal name, call name) per sex.
GIVEN_NAMES: dict[int, dict[str, tuple[tuple[str, str], ...]]] = {
    1900: {
        "male": (("Johannes", "Jan"), ("Cornelis", "Kees"), ("Hendrik", "Henk"), ("Wilhelmus", "Wim"),
                 ("Petrus", "Piet"), ("Jacobus", "Jaap"), ("Gerardus", "Gerard"), ("Adrianus", "Ad"),
                 ("Antonius", "Toon"), ("Theodorus", "Theo"), ("Franciscus", "Frans"), ("Gerrit", "Gerrit"),
                 ("Dirk", "Dirk"), ("Willem", "Willem"), ("Jan", "Jan")),
        "female": (("Maria", "Ria"), ("Johanna", "Jo"), ("Cornelia", "Corrie"), ("Anna", "Annie"),
                   ("Wilhelmina", "Willy"), ("Hendrika", "Riek"), ("Elisabeth", "Els"), ("Catharina", "Toos"),
                   ("Geertruida", "Truus"), ("Adriana", "Janny"), ("Petronella", "Nel"), ("Jacoba", "Coby"),
                   ("Grietje", "Grietje"), ("Aaltje", "Aaltje"), ("Margaretha", "Greet")),
    },
    1955: {
        "male": (("Johannes", "Hans"), ("Petrus", "Peter"), ("Cornelis", "Kees"), ("Gerardus", "Gerard"),
                 ("Robert", "Rob"), ("Marcus", "Marco"), ("Ronald", "Ronald"), ("Richard", "Richard"),
                 ("Paulus", "Paul"), ("Erik", "Erik"), ("Jan", "Jan"), ("René", "René"), ("Frank", "Frank"),
                 ("Michiel", "Michiel"), ("Martinus", "Martin")),
        "female": (("Maria", "Marja"), ("Anna", "Anja"), ("Monique", "Monique"), ("Johanna", "Anneke"),
                   ("Elisabeth", "Ellen"), ("Ingrid", "Ingrid"), ("Petra", "Petra"), ("Wilhelmina", "Wilma"),
                   ("Sandra", "Sandra"), ("Marianne", "Marianne"), ("Carolina", "Karin"), ("Esther", "Esther"),
                   ("Cornelia", "Conny"), ("Yvonne", "Yvonne"), ("Jacqueline", "Jacqueline")),
    },
    1975: {
        "male": (("Dennis", "Dennis"), ("Mark", "Mark"), ("Martijn", "Martijn"), ("Jeroen", "Jeroen"),
                 ("Bas", "Bas"), ("Michel", "Michel"), ("Sander", "Sander"), ("Patrick", "Patrick"),
                 ("Johannes", "Joost"), ("Niels", "Niels"), ("Stefan", "Stefan"), ("Vincent", "Vincent"),
                 ("Mohamed", "Mohamed"), ("Tim", "Tim"), ("Arjan", "Arjan")),
        "female": (("Linda", "Linda"), ("Sanne", "Sanne"), ("Kim", "Kim"), ("Marloes", "Marloes"),
                   ("Chantal", "Chantal"), ("Anouk", "Anouk"), ("Maria", "Mariska"), ("Suzanne", "Suzanne"),
                   ("Jessica", "Jessica"), ("Femke", "Femke"), ("Eva", "Eva"), ("Laura", "Laura"),
                   ("Fatima", "Fatima"), ("Esther", "Esther"), ("Wendy", "Wendy")),
    },
    1995: {
        "male": (("Daan", "Daan"), ("Thomas", "Thomas"), ("Lars", "Lars"), ("Tim", "Tim"), ("Ruben", "Ruben"),
                 ("Jesse", "Jesse"), ("Thijs", "Thijs"), ("Stijn", "Stijn"), ("Niels", "Niels"), ("Bram", "Bram"),
                 ("Kevin", "Kevin"), ("Max", "Max"), ("Mohamed", "Mohamed"), ("Rick", "Rick"), ("Luuk", "Luuk")),
        "female": (("Lisa", "Lisa"), ("Anne", "Anne"), ("Sanne", "Sanne"), ("Laura", "Laura"), ("Iris", "Iris"),
                   ("Sophie", "Sophie"), ("Fleur", "Fleur"), ("Lotte", "Lotte"), ("Emma", "Emma"),
                   ("Eva", "Eva"), ("Romy", "Romy"), ("Britt", "Britt"), ("Kim", "Kim"), ("Yasmina", "Yasmina"),
                   ("Demi", "Demi")),
    },
    2010: {
        "male": (("Noah", "Noah"), ("Sem", "Sem"), ("Liam", "Liam"), ("Lucas", "Lucas"), ("Daan", "Daan"),
                 ("Finn", "Finn"), ("Levi", "Levi"), ("Luuk", "Luuk"), ("Mees", "Mees"), ("Milan", "Milan"),
                 ("Jesse", "Jesse"), ("Bram", "Bram"), ("Adam", "Adam"), ("Sam", "Sam"), ("Thijs", "Thijs")),
        "female": (("Emma", "Emma"), ("Julia", "Julia"), ("Mila", "Mila"), ("Tess", "Tess"), ("Sophie", "Sophie"),
                   ("Zoë", "Zoë"), ("Sara", "Sara"), ("Nora", "Nora"), ("Yara", "Yara"), ("Eva", "Eva"),
                   ("Liv", "Liv"), ("Lotte", "Lotte"), ("Evi", "Evi"), ("Noor", "Noor"), ("Saar", "Saar")),
    },
}

STREETS: tuple[str, ...] = (
    "Kerkstraat", "Dorpsstraat", "Schoolstraat", "Molenstraat", "Stationsweg", "Molenweg", "Julianastraat",
    "Beatrixstraat", "Wilhelminastraat", "Kastanjelaan", "Eikenlaan", "Lindenlaan", "Beukenlaan", "Berkenlaan",
    "Parallelweg", "Nieuwstraat", "Marktstraat", "Industrieweg", "Emmastraat", "Oranjestraat", "Prins Bernhardstraat",
    "Irenestraat", "Margrietstraat", "Sportlaan", "Burgemeester de Vlugtlaan", "Rembrandtstraat", "Vondelstraat",
    "Van Goghstraat", "Tulpstraat", "Rozenstraat", "Sterrenlaan", "Zonnebloemstraat", "Merelstraat", "Meidoornlaan",
    "Vlietweg", "Dijkstraat", "Havenstraat", "Hoofdstraat", "Nieuweweg", "Akkerweg", "Esdoornlaan", "Populierenlaan",
    "Willem de Zwijgerlaan", "Johan de Wittstraat", "Mozartlaan", "Schubertstraat", "Zeeheldenstraat", "Landbouwstraat",
)
# Names of GP practices, pharmacies and care homes are built from these (fictional organisations).
INSTITUTION_NAMES: tuple[str, ...] = (
    "De Linde", "De Eik", "Het Anker", "De Bron", "De Hoven", "Het Baken", "De Meander", "Het Park", "De Brug",
    "De Wissel", "Het Kompas", "De Horst", "De Akker", "Het Hofje", "De Vijverhof", "De Waterlelie", "Zonnehof",
    "De Bongerd", "Het Lindehof", "De Molenwiek", "De Esch", "De Vliet", "Het Spectrum", "De Kroon",
)
