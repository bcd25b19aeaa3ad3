"""Names and postal addresses for the PII scan benchmark (test/pii_bench/gen_bench.py).

Deterministic for a given random.Random. Two kinds of names on purpose: frequent names (which
real name columns are mostly made of, and which overlap the scanner's name lists) and rare ones
built from syllables (which no list holds), so the benchmark measures the scanner's use of shape
as well as of its lists. Addresses follow each country's usual order (number first in the
English-speaking countries, after the street elsewhere) with real postcode formats.
"""

GIVEN = {
    "en": ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
           "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
           "Thomas", "Sarah", "Charles", "Karen", "Oliver", "Amelia", "Harry", "Isla", "Jack",
           "Ava", "George", "Emily", "Noah", "Sophie", "Liam", "Grace", "Ethan", "Chloe",
           "Megan", "Declan", "Siobhan", "Aoife", "Callum", "Rhys"],
    "de": ["Lukas", "Anna", "Maximilian", "Lena", "Felix", "Johanna", "Jonas", "Leonie",
           "Tobias", "Katharina", "Jürgen", "Ursula", "Klaus", "Monika", "Stefan", "Sabine",
           "Dieter", "Heike", "Uwe", "Birgit"],
    "fr": ["Jean", "Marie", "Pierre", "Camille", "Louis", "Chloé", "Hugo", "Léa", "Mathieu",
           "Aurélie", "François", "Élodie", "Antoine", "Céline", "Guillaume", "Manon",
           "Benoît", "Hélène", "Thibault", "Margaux"],
    "es": ["José", "María", "Antonio", "Carmen", "Manuel", "Lucía", "Javier", "Sofía",
           "Alejandro", "Paula", "Jorge", "Marta", "Álvaro", "Inés", "Rocío", "Iñigo"],
    "it": ["Giuseppe", "Giulia", "Francesco", "Chiara", "Alessandro", "Federica", "Matteo",
           "Valentina", "Lorenzo", "Martina", "Giovanni", "Elisa", "Niccolò", "Ilaria"],
    "nl": ["Daan", "Emma", "Sem", "Julia", "Lucas", "Tess", "Jeroen", "Sanne", "Bram",
           "Fleur", "Maarten", "Anouk", "Joost", "Femke"],
    "pl": ["Jakub", "Zofia", "Kacper", "Julia", "Piotr", "Katarzyna", "Tomasz",
           "Agnieszka", "Wojciech", "Małgorzata", "Łukasz", "Magdalena"],
    "other": ["Mohammed", "Fatima", "Wei", "Mei", "Hiroshi", "Yuki", "Priya", "Rahul",
              "Kwame", "Amina", "Minh", "Seo-yeon", "Ji-ho", "Oluwaseun", "Chiamaka", "Arjun",
              "Ananya", "Omar", "Layla", "Tariq"],
}

SURNAME = {
    "en": ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
           "Taylor", "Anderson", "Thomas", "Moore", "Jackson", "White", "Harris", "Clark",
           "Lewis", "Walker", "Hall", "Young", "O'Brien", "O'Connor", "McCarthy", "Murphy",
           "Kelly", "Evans", "Hughes", "Edwards", "Fitzgerald", "Whitfield"],
    "de": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
           "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
           "Zimmermann", "Krüger", "Hartmann", "Lange"],
    "fr": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
           "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garnier", "Faure",
           "Rousseau", "Blanc", "Guérin", "Chevalier"],
    "es": ["García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez",
           "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno",
           "Muñoz", "Álvarez", "Romero"],
    "it": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
           "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa"],
    "nl": ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
           "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos"],
    "pl": ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński",
           "Lewandowski", "Zieliński", "Szymański", "Woźniak", "Dąbrowski", "Kozłowski"],
    "other": ["Wang", "Li", "Zhang", "Chen", "Liu", "Nguyen", "Tran", "Kim", "Park", "Lee",
              "Singh", "Kumar", "Patel", "Sharma", "Khan", "Ahmed", "Hassan", "Okafor",
              "Mensah", "Tanaka", "Sato", "Suzuki", "Haddad", "Yilmaz"],
}

SYLLABLES = ["ka", "ri", "mo", "lan", "del", "vi", "sa", "tor", "ben", "li", "na", "ro",
             "mi", "gan", "el", "za", "dor", "fi", "ter", "ou", "bra", "len", "sha", "quin"]

STREET_EN = ["High", "Station", "Church", "Park", "Victoria", "Green", "Manor", "Kings",
             "Queens", "Mill", "Oak", "Maple", "Cedar", "Washington", "Lincoln", "Elm", "Pine",
             "Lake", "Hill", "Chestnut"]
STREET_TYPE_EN = ["Street", "St", "Road", "Rd", "Avenue", "Ave", "Lane", "Drive", "Close",
                  "Way", "Court", "Place", "Crescent", "Terrace", "Boulevard"]
CITY = {
    "gb": [("London", "SW1A 1AA"), ("Manchester", "M1 1AE"), ("Leeds", "LS1 4DY"),
           ("Bristol", "BS1 5TR"), ("Glasgow", "G2 1DU")],
    "us": [("Springfield, IL", "62704"), ("Austin, TX", "78701"), ("Denver, CO", "80202"),
           ("Portland, OR", "97205"), ("Boston, MA", "02108")],
    "fr": [("Paris", "75002"), ("Lyon", "69001"), ("Marseille", "13001"), ("Lille", "59000")],
    "de": [("Berlin", "10115"), ("München", "80331"), ("Hamburg", "20095"), ("Köln", "50667")],
    "es": [("Madrid", "28013"), ("Barcelona", "08002"), ("Sevilla", "41001")],
    "it": [("Roma", "00184"), ("Milano", "20121"), ("Torino", "10121")],
    "nl": [("Amsterdam", "1012 JS"), ("Utrecht", "3511 LX"), ("Rotterdam", "3011 AD")],
}
STREET_FR = ["Rue de la Paix", "Avenue Victor Hugo", "Boulevard Saint-Michel", "Rue du Bac",
             "Place Bellecour", "Chemin des Vignes", "Allée des Tilleuls", "Quai de la Loire"]
STREET_DE = ["Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schillerplatz",
             "Goethestr.", "Am Ring", "Kirchgasse"]
STREET_ES = ["Calle Mayor", "Avenida de la Constitución", "Plaza de España", "Paseo del Prado",
             "Calle de Alcalá"]
STREET_IT = ["Via Roma", "Via Garibaldi", "Corso Vittorio Emanuele", "Piazza Navona",
             "Viale dei Mille"]
STREET_NL = ["Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenlaan", "Prinsengracht",
             "Marktplein"]


def rare_name(rng, parts=(2, 3)):
    n = rng.randint(*parts)
    word = "".join(rng.choice(SYLLABLES) for _ in range(n))
    return word[0].upper() + word[1:]


def given_name(rng, rare_share=0.25):
    if rng.random() < rare_share:
        return rare_name(rng)
    lang = rng.choice(list(GIVEN))
    return rng.choice(GIVEN[lang])


def surname(rng, rare_share=0.25):
    if rng.random() < rare_share:
        return rare_name(rng, (2, 4))
    lang = rng.choice(list(SURNAME))
    return rng.choice(SURNAME[lang])


def full_name(rng):
    style = rng.random()
    if style < 0.7:
        return f"{given_name(rng)} {surname(rng)}"
    if style < 0.85:
        return f"{given_name(rng)} {given_name(rng)} {surname(rng)}"
    return f"{surname(rng)}, {given_name(rng)}"


def address(rng):
    country = rng.choice(["gb", "us", "fr", "de", "es", "it", "nl"])
    city, postcode = rng.choice(CITY[country])
    num = rng.randint(1, 250)
    if country in ("gb", "us"):
        street = f"{num} {rng.choice(STREET_EN)} {rng.choice(STREET_TYPE_EN)}"
        if country == "gb":
            return f"{street}, {city} {postcode}"
        return f"{street}, {city} {postcode}"
    if country == "fr":
        return f"{num} {rng.choice(STREET_FR)}, {postcode} {city}"
    if country == "de":
        return f"{rng.choice(STREET_DE)} {num}, {postcode} {city}"
    if country == "es":
        return f"{rng.choice(STREET_ES)} {num}, {postcode} {city}"
    if country == "it":
        return f"{rng.choice(STREET_IT)} {num}, {postcode} {city}"
    return f"{rng.choice(STREET_NL)} {num}, {postcode} {city}"


CITIES_ONLY = ["London", "Paris", "Berlin", "Madrid", "Rome", "Amsterdam", "Warsaw", "Dublin",
               "Lisbon", "Vienna", "Prague", "Oslo", "Stockholm", "Helsinki", "Athens",
               "Brussels", "Zurich", "Munich", "Lyon", "Porto", "Seville", "Krakow", "Antwerp"]
