"""Seeded generator of realistic, synthetic field records (test and demo data).

Three collections modelled on a Sahana Eden style deployment:

* ``shelters``        shelter registry
* ``households``      household needs assessments
* ``missing_persons`` missing-person reports

Every value is invented: names, places, phone numbers and notes are written for
this module (place names and rough coordinates are real towns so maps look
plausible; the people and numbers are not).  Text is multilingual on purpose
(Latin with accents, Arabic and Urdu right-to-left, Bengali, Devanagari ...)
so the sync code is exercised on more than ASCII.

Determinism: each call uses its own ``random.Random`` seeded from the
collection name and ``seed``; nothing reads the clock or the global random
state.  Dates are a fixed base date plus seeded offsets.  The same
``(collection, seed)`` always yields the same records, and the first *n*
records do not depend on ``count``.

CSV encoding (``write_csv``): one column per field, in :data:`FIELDS` order;
lists and objects are JSON-encoded in their cell (``["water","latrines"]``,
``{"water":true,...}``); ``None`` is an empty cell; numbers are written as
text.  :func:`decode_csv_row` turns a ``csv.DictReader`` row back into the
record.

Command line::

    python -m sneakersync.demo.fielddata COLLECTION COUNT [--seed N] [--out FILE.jsonl|FILE.csv]
    python -m sneakersync.demo.fielddata --samples DIR      # rewrite the committed samples/
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import hashlib
import io
import json
import random
import sys
import uuid
from bisect import bisect_right
from itertools import accumulate
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, NamedTuple, Sequence

__all__ = ["COLLECTIONS", "FIELDS", "SAMPLES", "generate", "record_id", "write_jsonl",
           "write_csv", "decode_csv_row", "write_samples", "write_bad_samples", "main"]

COLLECTIONS: tuple[str, ...] = ("shelters", "households", "missing_persons")

#: Field name -> type tag, in column order.  Tags: ``str``, ``str?`` (may be
#: None), ``int``, ``int?``, ``float``, ``date`` (ISO ``YYYY-MM-DD`` string),
#: ``list[str]``, ``dict[str,bool]``.  ``id`` (``str``) comes first when asked.
FIELDS: dict[str, dict[str, str]] = {
    "shelters": {
        "name": "str", "organisation": "str", "country": "str", "district": "str",
        "place": "str", "lat": "float", "lon": "float", "capacity": "int",
        "population": "int", "status": "str", "opened": "date", "contact_phone": "str?",
        "facilities": "list[str]", "language": "str", "notes": "str",
    },
    "households": {
        "head_name": "str", "head_sex": "str", "household_size": "int", "country": "str",
        "district": "str", "place": "str", "lat": "float", "lon": "float",
        "assessed": "date", "needs": "dict[str,bool]", "vulnerabilities": "list[str]",
        "priority": "str", "enumerator": "str", "language": "str", "notes": "str",
    },
    "missing_persons": {
        "name": "str", "age": "int?", "sex": "str", "country": "str", "district": "str",
        "last_seen_place": "str", "last_seen_date": "date", "lat": "float", "lon": "float",
        "description": "str", "reporter": "str", "reporter_relation": "str",
        "reporter_phone": "str?", "reported_date": "date", "status": "str",
        "language": "str", "notes": "str",
    },
}

#: Committed sample files: (file name, collection, count, seed).
SAMPLES: tuple[tuple[str, str, int, int], ...] = (
    ("shelters.jsonl", "shelters", 300, 1),
    ("households.csv", "households", 1000, 1),
    ("missing_persons.jsonl", "missing_persons", 500, 1),
)

BASE_DATE = _dt.date(2024, 3, 1)
_ID_NAMESPACE = uuid.UUID("6f1c2a9e-5b7d-4e0a-9c3f-2d8b1e4a7c60")

# --------------------------------------------------------------------------
# Vocabularies (coded values stay English; free text is multilingual)

SHELTER_STATUS = ("open", "full", "closed", "planned")
FACILITIES = ("water", "latrines", "showers", "kitchen", "electricity", "generator",
              "solar_lighting", "medical_post", "child_friendly_space", "womens_space",
              "wheelchair_access", "storage")
NEEDS = ("water", "food", "shelter", "health", "sanitation", "protection")
VULNERABILITIES = ("female_headed", "child_headed", "older_person_alone", "disability",
                   "chronic_illness", "pregnant_or_lactating", "unaccompanied_minor",
                   "separated_family")
PRIORITIES = ("high", "medium", "low")
SEXES = ("female", "male", "unknown")
MISSING_STATUS = ("missing", "found_alive", "reunited", "deceased")
RELATIONS = ("mother", "father", "son", "daughter", "brother", "sister", "spouse",
             "grandparent", "uncle", "aunt", "cousin", "neighbour", "teacher",
             "community_leader", "shelter_staff")
_MINOR_RELATIONS = ("mother", "father", "grandparent", "uncle", "aunt", "brother", "sister",
                    "neighbour", "teacher", "shelter_staff")


class Place(NamedTuple):
    country: str
    district: str
    latin: str
    local: str
    lat: float
    lon: float


class Region(NamedTuple):
    lang: str
    places: tuple[Place, ...]
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[str, ...]
    enumerators: tuple[str, ...]
    orgs: tuple[str, ...]
    shelter_names: tuple[str, ...]
    notes: tuple[str, ...]
    descriptions: tuple[str, ...]
    missing_notes: tuple[str, ...]
    two_surnames: bool = False
    female_family: tuple[str, ...] = ()   # surnames used only by women


PHONES: dict[str, tuple[str, ...]] = {
    "NP": ("+977 98########", "98########"),
    "BD": ("+880 17##-######", "+880 18##-######", "019########"),
    "PH": ("+63 9## ### ####", "09#########"),
    "HT": ("+509 3# ## ####", "+509 4# ## ####"),
    "KE": ("+254 7## ### ###", "07########"),
    "SY": ("+963 9## ### ###",),
    "LB": ("+961 70 ### ###", "+961 3 ### ###"),
    "JO": ("+962 7# ### ####",),
    "PE": ("+51 9## ### ###",),
    "EC": ("+593 9# ### ####",),
    "PK": ("+92 3## #######", "03#########"),
    "IN": ("+91 9#### #####", "+91 7#### #####"),
}

EN_NOTES = (
    "Road access cut by a landslide; team reached the site on foot.",
    "Water point shared with the neighbouring camp, long queues in the morning.",
    "Family asks for tarpaulins before the rains start.",
    "Two children have not attended school since the flood.",
    "Latrines are full and need emptying.",
    "An elderly resident needs regular blood-pressure medication.",
    "Mobile signal only on the hill behind the school.",
    "Follow-up visit agreed for next week.",
    "Cooking outside; firewood is scarce and expensive.",
    "Registered with the ward office but no ration card yet.",
    'Community leader says "no more space" at the school, so families sleep in the yard.',
    "Assessment done with the help of an interpreter, some answers uncertain.",
    "Generator works 4 hours a day, fuel delivered every 3 days.",
    "Referred to the mobile clinic (Tue/Thu).",
    "Household moved twice since the first registration; check for duplicates.",
)
EN_DESCRIPTIONS = (
    "Wearing a red T-shirt and blue jeans.",
    "About 150 cm tall, slim build.",
    "Scar above the left eyebrow.",
    "Was carrying a green school bag.",
    "Short black hair, wears glasses.",
    "Walks with a limp.",
    "Speaks only a little English.",
)
EN_MISSING_NOTES = (
    "Reported at the shelter help desk.",
    "Photo held by the family, not attached to this record.",
    "Possibly taken to the district hospital by a rescue team.",
    "Family separated during the evacuation by boat.",
    "Name is spelled differently on the distribution list.",
    "Cross-checked with the hospital admissions list: no match yet.",
)
COMMON_ORGS = ("Volunteer response team", "Local NGO consortium", "Camp management agency",
               "Faith-based relief committee")


def _p(country: str, district: str, latin: str, local: str, lat: float, lon: float) -> Place:
    return Place(country, district, latin, local, lat, lon)


REGIONS: tuple[Region, ...] = (
    Region(
        lang="ne",
        places=(
            _p("NP", "Gorkha", "Barpak", "बारपाक", 28.205, 84.720),
            _p("NP", "Gorkha", "Gorkha Bazaar", "गोरखा बजार", 28.000, 84.628),
            _p("NP", "Sindhupalchok", "Chautara", "चौतारा", 27.775, 85.714),
            _p("NP", "Sindhupalchok", "Melamchi", "मेलम्ची", 27.832, 85.576),
            _p("NP", "Dolakha", "Charikot", "चरिकोट", 27.667, 86.050),
            _p("NP", "Kathmandu", "Sankhu", "साँखु", 27.730, 85.466),
            _p("NP", "Lalitpur", "Bungamati", "बुंगमती", 27.627, 85.302),
        ),
        female=("सीता", "गीता", "कमला", "सरिता", "मिना", "पुष्पा", "लक्ष्मी", "अनिता"),
        male=("राम", "हरि", "बिष्णु", "कृष्ण", "दिपक", "सुरेश", "बिकास", "प्रकाश"),
        family=("श्रेष्ठ", "तामाङ", "गुरुङ", "थापा", "राई", "अधिकारी", "मगर", "पौडेल"),
        enumerators=("Sunita Gurung (T1)", "Bikash Thapa (T1)", "Anil Rai (T2)",
                     "Pooja Adhikari (T3)"),
        orgs=("जिल्ला विपद् व्यवस्थापन समिति", "वडा कार्यालय", "स्थानीय युवा क्लब",
              "Ward 4 Office"),
        shelter_names=("{p} माध्यमिक विद्यालय", "{p} सामुदायिक भवन", "{p} खुला क्षेत्र शिविर",
                       "{p} Community Hall"),
        notes=(
            "पहिरोले बाटो बन्द भएकाले पैदल आइपुगियो।",
            "परिवारलाई सफा पिउने पानी चाहिन्छ।",
            "घर पूर्ण रूपमा भत्किएको छ।",
            "बच्चाहरू भूकम्पपछि विद्यालय गएका छैनन्।",
            "एक जना वृद्धलाई नियमित औषधि चाहिन्छ।",
            "अर्को हप्ता फेरि भेट्ने सहमति भयो।",
            "जाडो अघि त्रिपाल र कम्बल चाहिन्छ।",
        ),
        descriptions=(
            "रातो टिसर्ट र निलो पाइन्ट लगाएको थियो।",
            "उचाइ करिब ५ फिट।",
            "दाहिने हातमा घाउको दाग छ।",
            "चस्मा लगाउँछ।",
            "हरियो झोला बोकेको थियो।",
        ),
        missing_notes=("आश्रय केन्द्रको सहायता कक्षमा उजुरी दिइयो।",
                       "परिवारसँग फोटो छ।"),
    ),
    Region(
        lang="hi",
        places=(
            _p("IN", "Darbhanga", "Darbhanga", "दरभंगा", 26.152, 85.897),
            _p("IN", "Saharsa", "Saharsa", "सहरसा", 25.880, 86.596),
            _p("IN", "Supaul", "Supaul", "सुपौल", 26.126, 86.605),
            _p("IN", "Sitamarhi", "Sitamarhi", "सीतामढ़ी", 26.595, 85.490),
        ),
        female=("सुनीता", "पूजा", "रीना", "सविता", "मंजू", "आशा"),
        male=("रमेश", "अनिल", "सुनील", "मनोज", "राजेश", "विनोद"),
        family=("यादव", "मंडल", "झा", "पासवान", "साह", "सिंह"),
        female_family=("देवी", "कुमारी"),
        enumerators=("Manoj Kumar (B2)", "Priya Jha (B1)", "Ravi Mandal (B3)"),
        orgs=("प्रखंड कार्यालय", "ग्राम पंचायत", "Block Relief Cell"),
        shelter_names=("राजकीय मध्य विद्यालय, {p}", "बाढ़ राहत शिविर {p}", "पंचायत भवन {p}"),
        notes=(
            "गाँव में बाढ़ का पानी अभी भी भरा है।",
            "परिवार को साफ़ पीने का पानी चाहिए।",
            "बच्चों के लिए दूध की ज़रूरत है।",
            "अगले हफ़्ते दोबारा आएँगे।",
            "हैंडपंप डूब गया है।",
        ),
        descriptions=(
            "लाल कुर्ता और नीली पैंट पहने हुए।",
            "कद लगभग पाँच फुट।",
            "बाएँ हाथ पर चोट का निशान है।",
        ),
        missing_notes=("नाव से निकालते समय परिवार से बिछड़ गया।",),
    ),
    Region(
        lang="bn",
        places=(
            _p("BD", "Cox's Bazar", "Ukhia", "উখিয়া", 21.218, 92.101),
            _p("BD", "Cox's Bazar", "Teknaf", "টেকনাফ", 20.863, 92.300),
            _p("BD", "Satkhira", "Shyamnagar", "শ্যামনগর", 22.330, 89.100),
            _p("BD", "Sunamganj", "Sunamganj Sadar", "সুনামগঞ্জ সদর", 25.066, 91.399),
            _p("BD", "Kurigram", "Chilmari", "চিলমারী", 25.560, 89.690),
        ),
        female=("ফাতেমা", "নাসরিন", "রুমা", "শাহানা", "মরিয়ম", "রহিমা", "জোছনা"),
        male=("রহিম", "করিম", "সুমন", "জসিম", "আব্দুল", "মিজান", "হারুন"),
        family=("আহমেদ", "হোসেন", "বেগম", "খাতুন", "ইসলাম", "দাস", "মিয়া", "উদ্দিন"),
        enumerators=("Nusrat Jahan (U1)", "Tanvir Hasan (U2)", "Mitali Das (S1)"),
        orgs=("উপজেলা প্রশাসন", "ইউনিয়ন পরিষদ", "ঘূর্ণিঝড় প্রস্তুতি স্বেচ্ছাসেবক দল",
              "Union Parishad"),
        shelter_names=("{p} সাইক্লোন শেল্টার", "{p} সরকারি প্রাথমিক বিদ্যালয়",
                       "{p} Cyclone Shelter"),
        notes=(
            "রাস্তা পানির নিচে, নৌকায় করে এসেছি।",
            "পরিবারের বিশুদ্ধ পানির প্রয়োজন।",
            "ঘরের চাল উড়ে গেছে।",
            "একজন গর্ভবতী মহিলা আছেন।",
            "শিশুরা বন্যার পর থেকে স্কুলে যাচ্ছে না।",
            "আগামী সপ্তাহে আবার দেখা করা হবে।",
            "টিউবওয়েল লবণাক্ত পানিতে নষ্ট হয়ে গেছে।",
        ),
        descriptions=(
            "লাল জামা ও নীল প্যান্ট পরা ছিল।",
            "উচ্চতা প্রায় ৫ ফুট।",
            "বাম হাতে একটি কাটা দাগ আছে।",
            "চোখে চশমা পরে।",
        ),
        missing_notes=("আশ্রয়কেন্দ্রের হেল্প ডেস্কে জানানো হয়েছে।",
                       "পরিবারের কাছে ছবি আছে।"),
    ),
    Region(
        lang="tl",
        places=(
            _p("PH", "Leyte", "Tacloban", "Tacloban", 11.244, 125.004),
            _p("PH", "Leyte", "Palo", "Palo", 11.158, 124.991),
            _p("PH", "Leyte", "Ormoc", "Ormoc", 11.006, 124.607),
            _p("PH", "Eastern Samar", "Guiuan", "Guiuan", 11.033, 125.724),
            _p("PH", "Eastern Samar", "Borongan", "Borongan", 11.608, 125.432),
        ),
        female=("Maria", "Rosario", "Ligaya", "Maricel", "Analyn", "Jocelyn", "Corazon"),
        male=("Jose", "Danilo", "Rogelio", "Jun-Jun", "Ernesto", "Romeo", "Alfredo"),
        family=("Dela Cruz", "Santos", "Reyes", "Bautista", "Villanueva", "Mendoza",
                "Cabrera", "Abellana"),
        enumerators=("Kristine Ocampo (L1)", "Mark Anthony Lim (L2)", "Jessa Tan (S1)"),
        orgs=("MSWDO", "Barangay Council", "Parish Social Action Center"),
        shelter_names=("{p} Central Elementary School", "Barangay {p} Covered Court",
                       "{p} Evacuation Center", "San Roque Chapel, {p}"),
        notes=(
            "Sira ang bubong ng bahay dahil sa bagyo.",
            "Kailangan ng pamilya ng malinis na inuming tubig.",
            "May buntis sa pamilya, pitong buwan na.",
            "Hindi pa nakakapasok sa paaralan ang mga bata.",
            "Babalik kami sa susunod na linggo para mag-follow up.",
            "Walang kuryente sa barangay mula pa noong Martes.",
            "Humihingi sila ng trapal at kumot.",
        ),
        descriptions=(
            "Nakasuot ng pulang t-shirt at maong na shorts.",
            "Mga 5 talampakan ang taas.",
            "May peklat sa kaliwang braso.",
            "May dalang asul na bag.",
        ),
        missing_notes=("Huling nakita sa pantalan bago dumating ang storm surge.",
                       "Iniulat sa help desk ng evacuation center."),
    ),
    Region(
        lang="fr",
        places=(
            _p("HT", "Ouest", "Léogâne", "Léogâne", 18.511, -72.634),
            _p("HT", "Ouest", "Carrefour", "Carrefour", 18.534, -72.409),
            _p("HT", "Sud-Est", "Jacmel", "Jacmel", 18.234, -72.535),
            _p("HT", "Sud", "Les Cayes", "Les Cayes", 18.193, -73.746),
            _p("HT", "Grand'Anse", "Jérémie", "Jérémie", 18.650, -74.115),
            _p("HT", "Sud", "Camp-Perrin", "Camp-Perrin", 18.318, -73.860),
        ),
        female=("Marie-Claude", "Widlène", "Fabiola", "Nadège", "Roseline", "Mirlande"),
        male=("Jean-Baptiste", "Rénald", "Wilfrid", "Jean", "Frantz", "Évens"),
        family=("Pierre", "Joseph", "Louis", "Charles", "Étienne", "Désir", "Saint-Fleur",
                "Jean-Louis"),
        enumerators=("Stéphanie Noël (E1)", "Junior Michel (E2)", "Guerline Dorval (E3)"),
        orgs=("Protection civile communale", "Comité de quartier", "Église baptiste locale",
              "Mairie de la commune"),
        shelter_names=("École nationale de {p}", "Église Saint-Joseph, {p}", "Camp {p} Centre",
                       "Lycée de {p}"),
        notes=(
            "Accès par la route coupé, l'équipe est venue à pied.",
            "Le point d'eau est à deux kilomètres ; les femmes y vont avant l'aube.",
            "La famille dort sous une bâche depuis le séisme.",
            "Besoin urgent de kits d'hygiène et de moustiquaires.",
            "Une personne âgée a besoin de médicaments pour le diabète.",
            "Visite de suivi prévue la semaine prochaine.",
            "Fanmi an bezwen dlo pwòp.",
            "Timoun yo pa ale lekòl depi tranblemanntè a.",
            "Kay la kraze nèt, yo dòmi deyò.",
        ),
        descriptions=(
            "Portait une robe jaune et des sandales.",
            "Environ 1 m 60, cheveux courts.",
            "Cicatrice sur le bras droit.",
            "Avait un sac à dos bleu.",
            "Parle seulement créole.",
        ),
        missing_notes=("Signalé au bureau de la protection civile.",
                       "Li te sou mache a lè tranblemanntè a frape."),
    ),
    Region(
        lang="es",
        places=(
            _p("PE", "Pisco", "Pisco", "Pisco", -13.710, -76.203),
            _p("PE", "Ica", "Ica", "Ica", -14.068, -75.726),
            _p("PE", "Lima", "Chosica", "Chosica", -11.937, -76.697),
            _p("PE", "Piura", "Catacaos", "Catacaos", -5.266, -80.676),
            _p("EC", "Manabí", "Pedernales", "Pedernales", 0.071, -80.052),
            _p("EC", "Manabí", "Portoviejo", "Portoviejo", -1.054, -80.454),
            _p("EC", "Esmeraldas", "Muisne", "Muisne", 0.609, -80.024),
        ),
        female=("María José", "Rosa", "Ana Lucía", "Yesenia", "Carmen", "Maribel", "Lucía"),
        male=("Luis", "Jesús", "Andrés", "Wilmer", "José Antonio", "Segundo", "Iván"),
        family=("Quispe", "Mamani", "García", "Flores", "Huamán", "Rodríguez", "Muñoz",
                "Ibáñez", "Chávez", "Peña"),
        enumerators=("Diana Cárdenas (P1)", "Óscar Villacís (M1)", "Rocío Ñahui (P2)"),
        orgs=("Defensa Civil", "Municipalidad Distrital", "Parroquia San José",
              "Comité Vecinal de Emergencia"),
        shelter_names=("Colegio Nacional de {p}", "Coliseo Municipal de {p}", "Albergue {p}",
                       "Carpa comunal {p}"),
        notes=(
            "El camino está cortado por el huaico; llegamos a pie.",
            "La familia necesita agua potable y pastillas de cloro.",
            "La casa de adobe se derrumbó parcialmente.",
            "Hay una señora embarazada de siete meses.",
            "Los niños duermen en la carpa del vecino.",
            "Se acordó una visita de seguimiento el próximo lunes.",
            "No tienen documentos de identidad; se perdieron en la inundación.",
            "Piden frazadas porque en la noche hace mucho frío.",
        ),
        descriptions=(
            "Llevaba una chompa roja y pantalón negro.",
            "Mide aproximadamente 1,55 m.",
            "Tiene una cicatriz en la mejilla izquierda.",
            "Usa lentes.",
            "Cabello largo, recogido en trenza.",
        ),
        missing_notes=("Reportado en la mesa de ayuda del albergue.",
                       "La familia tiene una foto reciente."),
        two_surnames=True,
    ),
    Region(
        lang="sw",
        places=(
            _p("KE", "Garissa", "Garissa", "Garissa", 0.453, 39.646),
            _p("KE", "Garissa", "Dadaab", "Dadaab", 0.056, 40.310),
            _p("KE", "Turkana", "Lodwar", "Lodwar", 3.119, 35.597),
            _p("KE", "Turkana", "Kakuma", "Kakuma", 3.717, 34.857),
            _p("KE", "Kilifi", "Kilifi", "Kilifi", -3.631, 39.849),
            _p("KE", "Tana River", "Garsen", "Garsen", -2.270, 40.117),
        ),
        female=("Wanjiru", "Amina", "Zawadi", "Achieng", "Halima", "Neema", "Akai"),
        male=("Otieno", "Baraka", "Juma", "Abdi", "Kiprono", "Ekal", "Mwinyi"),
        family=("Mwangi", "Omondi", "Hassan", "Kiptoo", "Mutua", "Lokwang", "Ali",
                "Wekesa"),
        enumerators=("Faith Njeri (G1)", "Hussein Adan (G2)", "Esther Ekai (T1)"),
        orgs=("County Disaster Office", "Kamati ya Amani ya Kijiji", "Kikundi cha Vijana",
              "Ward Administrator"),
        shelter_names=("{p} Primary School", "Kambi ya {p}", "Ukumbi wa Jamii {p}"),
        notes=(
            "Barabara imekatika; tulifika kwa miguu.",
            "Familia inahitaji maji safi ya kunywa.",
            "Watoto hawajaenda shule tangu mafuriko.",
            "Mzee mmoja anahitaji dawa za shinikizo la damu.",
            "Choo kimejaa na kinahitaji kusafishwa.",
            "Tutarudi wiki ijayo kwa ufuatiliaji.",
            "Mifugo mingi imekufa kwa sababu ya ukame.",
            "Wanaomba vyandarua na blanketi.",
        ),
        descriptions=(
            "Alikuwa amevaa shati jekundu na kaptula ya bluu.",
            "Ana urefu wa takriban sentimita 150.",
            "Ana kovu kwenye mkono wa kushoto.",
            "Alikuwa amebeba mkoba wa shule.",
            "Anazungumza Kiswahili na Kisomali.",
        ),
        missing_notes=("Aliripotiwa kwenye dawati la msaada la kambi.",
                       "Familia ina picha yake."),
    ),
    Region(
        lang="ar",
        places=(
            _p("LB", "Akkar", "Halba", "حلبا", 34.543, 36.080),
            _p("LB", "Baalbek-Hermel", "Arsal", "عرسال", 34.180, 36.420),
            _p("LB", "Bekaa", "Zahle", "زحلة", 33.850, 35.902),
            _p("JO", "Mafraq", "Zaatari", "الزعتري", 32.295, 36.323),
            _p("SY", "Idlib", "Idlib", "إدلب", 35.930, 36.633),
            _p("SY", "Aleppo", "Jindires", "جنديرس", 36.394, 36.690),
        ),
        female=("فاطمة", "زينب", "مريم", "نور", "هبة", "آمنة", "سلمى"),
        male=("محمد", "أحمد", "خالد", "عمر", "يوسف", "حسن", "إبراهيم"),
        family=("الأحمد", "الحسن", "العلي", "الخطيب", "حداد", "السيد", "المصري",
                "النجار"),
        enumerators=("Rania Khoury (A1)", "Omar Haddad (A2)", "Lina Saleh (M1)"),
        orgs=("المجلس البلدي", "جمعية خيرية محلية", "إدارة المخيم", "Municipality"),
        shelter_names=("مدرسة {p} الابتدائية", "مخيم {p}", "قاعة {p} البلدية",
                       "{p} Collective Shelter"),
        notes=(
            "الطريق مقطوع، وصلنا سيراً على الأقدام.",
            "العائلة بحاجة إلى مياه شرب نظيفة.",
            "يوجد شخص مسن يحتاج إلى دواء للسكري.",
            "الأطفال لا يذهبون إلى المدرسة منذ شهرين.",
            "الخيمة تالفة وتحتاج إلى استبدال قبل الشتاء.",
            "تم الاتفاق على زيارة متابعة الأسبوع القادم.",
            "لا توجد كهرباء في المخيم بعد الساعة ٨ مساءً.",
        ),
        descriptions=(
            "قميص أزرق وبنطال أسود.",
            "الطول حوالي ١٦٠ سم.",
            "ندبة على اليد اليسرى.",
            "حقيبة مدرسية حمراء.",
        ),
        missing_notes=("تم الإبلاغ في مكتب المساعدة في المخيم.",
                       "لدى العائلة صورة حديثة."),
    ),
    Region(
        lang="ur",
        places=(
            _p("PK", "Dadu", "Dadu", "دادو", 26.731, 67.776),
            _p("PK", "Dadu", "Mehar", "میہڑ", 27.180, 67.820),
            _p("PK", "Sukkur", "Sukkur", "سکھر", 27.706, 68.857),
            _p("PK", "Larkana", "Larkana", "لاڑکانہ", 27.559, 68.212),
            _p("PK", "Jacobabad", "Jacobabad", "جیکب آباد", 28.281, 68.438),
        ),
        female=("عائشہ", "ثناء", "رخسانہ", "نسیم", "شازیہ", "پروین"),
        male=("عمران", "غلام", "علی", "شاہد", "نعیم", "رحیم"),
        family=("شیخ", "میمن", "بلوچ", "جتوئی", "سومرو", "لغاری"),
        enumerators=("Sana Memon (S1)", "Asif Soomro (S2)", "Kiran Baloch (D1)"),
        orgs=("ضلعی انتظامیہ", "مقامی فلاحی تنظیم", "District Relief Committee"),
        shelter_names=("گورنمنٹ پرائمری اسکول {p}", "ریلیف کیمپ {p}", "{p} Tent Village"),
        notes=(
            "سڑک سیلاب میں بہہ گئی، ہم پیدل پہنچے۔",
            "خاندان کو صاف پینے کا پانی چاہیے۔",
            "گھر کی چھت گر گئی ہے۔",
            "بچے سیلاب کے بعد سے اسکول نہیں جا رہے۔",
            "اگلے ہفتے دوبارہ آئیں گے۔",
        ),
        descriptions=(
            "سرخ قمیص اور نیلی شلوار پہنے ہوئے۔",
            "قد تقریباً پانچ فٹ۔",
            "بائیں ہاتھ پر زخم کا نشان ہے۔",
        ),
        missing_notes=("کیمپ کے ہیلپ ڈیسک پر اطلاع دی گئی۔",),
    ),
)

# --------------------------------------------------------------------------
# Small seeded helpers


def _cum(weights: Sequence[float]) -> list[float]:
    return list(accumulate(weights))


_DATES: tuple[str, ...] = tuple((BASE_DATE + _dt.timedelta(days=d - 120)).isoformat()
                                for d in range(0, 361))

_CAPACITIES = (40, 60, 80, 100, 120, 150, 200, 250, 300, 400, 500, 800, 1200, 2500)
_CAPACITY_CUM = _cum((3, 5, 8, 10, 9, 9, 10, 8, 7, 6, 5, 3, 2, 1))
_SHELTER_STATUS_CUM = _cum((60, 15, 15, 10))
_FACILITY_P = (0.85, 0.8, 0.35, 0.5, 0.45, 0.3, 0.25, 0.3, 0.25, 0.2, 0.15, 0.4)
_HH_SIZES = tuple(range(1, 16))
_HH_SIZE_CUM = _cum((6, 10, 14, 16, 15, 12, 9, 6, 4, 3, 2, 1, 1, 0.5, 0.5))
_NEED_P = (0.55, 0.6, 0.45, 0.3, 0.35, 0.15)
_VULN_P = (0.0, 0.02, 0.06, 0.08, 0.12, 0.14, 0.02, 0.07)
_NOTE_COUNTS = (0, 1, 2, 3, 4, 6, 9)
_NOTE_COUNT_CUM = _cum((15, 40, 20, 12, 7, 4, 2))
_SEX_CUM = _cum((48, 48, 4))
_MISSING_STATUS_CUM = _cum((60, 22, 14, 4))
_AGE_BANDS = ((0, 4), (5, 11), (12, 17), (18, 39), (40, 59), (60, 95))
_AGE_BAND_CUM = _cum((12, 18, 14, 28, 16, 12))


# Helpers use rng.random() directly (deterministic, and ~3x faster than
# Random.choice/choices/randrange, which matters for 100k-record runs).


def _choice(rng: random.Random, items: Sequence[Any]) -> Any:
    return items[int(rng.random() * len(items))]


def _range(rng: random.Random, lo: int, hi: int) -> int:
    """Integer in ``[lo, hi)``."""
    return lo + int(rng.random() * (hi - lo))


def _pick(rng: random.Random, items: Sequence[Any], cum: Sequence[float]) -> Any:
    return items[bisect_right(cum, rng.random() * cum[-1])]


def _date(offset: int) -> str:
    return _DATES[offset + 120]


def _gps(rng: random.Random, place: Place, spread: float = 0.04) -> tuple[float, float]:
    lat = round(place.lat + (rng.random() - 0.5) * 2 * spread, 5)
    lon = round(place.lon + (rng.random() - 0.5) * 2 * spread, 5)
    return lat, lon


def _place_name(rng: random.Random, place: Place) -> str:
    return place.local if rng.random() < 0.7 else place.latin


_PHONE_FORMATS: dict[str, tuple[str, ...]] = {
    c: tuple(p.replace("#", "{}") for p in pats) for c, pats in PHONES.items()}


def _phone(rng: random.Random, country: str) -> str:
    template = _choice(rng, _PHONE_FORMATS[country])
    return template.format(*f"{int(rng.random() * 1e12):012d}")


def _person(rng: random.Random, region: Region, sex: str) -> str:
    if sex == "unknown":
        sex = "female" if rng.random() < 0.5 else "male"
    given = _choice(rng, region.female if sex == "female" else region.male)
    families = region.family + region.female_family if sex == "female" else region.family
    name = f"{given} {_choice(rng, families)}"
    if region.two_surnames and rng.random() < 0.7:
        name = f"{name} {_choice(rng, region.family)}"
    return name


def _text(rng: random.Random, local: Sequence[str], english: Sequence[str], count: int,
          local_share: float = 0.75) -> str:
    parts = [_choice(rng, local) if rng.random() < local_share else _choice(rng, english)
             for _ in range(count)]
    if count >= 4 and rng.random() < 0.3:
        return "\n".join(parts)
    return " ".join(parts)


def _notes(rng: random.Random, local: Sequence[str], english: Sequence[str]) -> str:
    return _text(rng, local, english, _pick(rng, _NOTE_COUNTS, _NOTE_COUNT_CUM))


def _flags(rng: random.Random, names: Sequence[str], probs: Sequence[float]) -> list[str]:
    return [n for n, p in zip(names, probs) if rng.random() < p]


# --------------------------------------------------------------------------
# One record per collection


def _shelter(rng: random.Random) -> dict[str, Any]:
    region = _choice(rng, REGIONS)
    place = _choice(rng, region.places)
    lat, lon = _gps(rng, place)
    capacity = _pick(rng, _CAPACITIES, _CAPACITY_CUM)
    status = _pick(rng, SHELTER_STATUS, _SHELTER_STATUS_CUM)
    if status == "open":
        population = int(capacity * (0.2 + 0.8 * rng.random()))
    elif status == "full":
        population = capacity + _range(rng, 0, capacity // 4 + 1)
    else:
        population = 0
    opened = _range(rng, 60, 120) if status == "planned" else _range(rng, -20, 60)
    return {
        "name": _choice(rng, region.shelter_names).format(p=_place_name(rng, place)),
        "organisation": _choice(rng, region.orgs + COMMON_ORGS),
        "country": place.country,
        "district": place.district,
        "place": _place_name(rng, place),
        "lat": lat,
        "lon": lon,
        "capacity": capacity,
        "population": population,
        "status": status,
        "opened": _date(opened),
        "contact_phone": _phone(rng, place.country) if rng.random() < 0.85 else None,
        "facilities": _flags(rng, FACILITIES, _FACILITY_P),
        "language": region.lang,
        "notes": _notes(rng, region.notes, EN_NOTES),
    }


def _priority(needs: dict[str, bool], vulnerabilities: list[str], size: int) -> str:
    score = sum(needs.values()) + 2 * len(vulnerabilities) + (size >= 8)
    if score >= 6 or "unaccompanied_minor" in vulnerabilities:
        return "high"
    return "medium" if score >= 3 else "low"


def _household(rng: random.Random) -> dict[str, Any]:
    region = _choice(rng, REGIONS)
    place = _choice(rng, region.places)
    sex = "female" if rng.random() < 0.4 else "male"
    size = _pick(rng, _HH_SIZES, _HH_SIZE_CUM)
    lat, lon = _gps(rng, place)
    needs = {n: rng.random() < p for n, p in zip(NEEDS, _NEED_P)}
    vulns = _flags(rng, VULNERABILITIES, _VULN_P)
    if sex == "female":
        vulns.insert(0, "female_headed")
    return {
        "head_name": _person(rng, region, sex),
        "head_sex": sex,
        "household_size": size,
        "country": place.country,
        "district": place.district,
        "place": _place_name(rng, place),
        "lat": lat,
        "lon": lon,
        "assessed": _date(_range(rng, 0, 120)),
        "needs": needs,
        "vulnerabilities": vulns,
        "priority": _priority(needs, vulns, size),
        "enumerator": _choice(rng, region.enumerators),
        "language": region.lang,
        "notes": _notes(rng, region.notes, EN_NOTES),
    }


def _missing_person(rng: random.Random) -> dict[str, Any]:
    region = _choice(rng, REGIONS)
    place = _choice(rng, region.places)
    sex = _pick(rng, SEXES, _SEX_CUM)
    lo, hi = _pick(rng, _AGE_BANDS, _AGE_BAND_CUM)
    age = _range(rng, lo, hi + 1) if rng.random() < 0.95 else None
    lat, lon = _gps(rng, place, spread=0.08)
    seen = _range(rng, -10, 60)
    return {
        "name": _person(rng, region, sex),
        "age": age,
        "sex": sex,
        "country": place.country,
        "district": place.district,
        "last_seen_place": _place_name(rng, place),
        "last_seen_date": _date(seen),
        "lat": lat,
        "lon": lon,
        "description": _text(rng, region.descriptions, EN_DESCRIPTIONS, _range(rng, 1, 4), 0.7),
        "reporter": _person(rng, region, "unknown"),
        "reporter_relation": _choice(rng, _MINOR_RELATIONS if (age or 0) < 18 else RELATIONS),
        "reporter_phone": _phone(rng, place.country) if rng.random() < 0.9 else None,
        "reported_date": _date(seen + _range(rng, 0, 12)),
        "status": _pick(rng, MISSING_STATUS, _MISSING_STATUS_CUM),
        "language": region.lang,
        "notes": _notes(rng, region.missing_notes, EN_MISSING_NOTES),
    }


_MAKERS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "shelters": _shelter,
    "households": _household,
    "missing_persons": _missing_person,
}

# --------------------------------------------------------------------------
# Public API


def record_id(collection: str, seed: int, index: int) -> str:
    """Deterministic UUID (v5) for record ``index`` of ``(collection, seed)``."""
    digest = hashlib.sha1(_ID_NAMESPACE.bytes + f"{collection}:{seed}:{index}".encode())
    h = bytearray(digest.digest()[:16])          # same bytes as uuid.uuid5, built faster
    h[6] = (h[6] & 0x0F) | 0x50
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _check(collection: str, count: int) -> None:
    if collection not in _MAKERS:
        choices = ", ".join(COLLECTIONS)
        raise ValueError(f"unknown collection {collection!r} (choose from {choices})")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a non-negative integer, not {count!r}")


def generate(collection: str, count: int, *, seed: int = 0,
             with_ids: bool = False) -> Iterator[dict[str, Any]]:
    """Yield ``count`` JSON-serialisable records of ``collection``.

    With ``with_ids`` each record starts with an ``id`` from :func:`record_id`.
    """
    _check(collection, count)
    return _generate(collection, count, seed, with_ids)


def _generate(collection: str, count: int, seed: int,
              with_ids: bool) -> Iterator[dict[str, Any]]:
    # the seed string predates the move into demo/; kept so the samples stay byte for byte
    rng = random.Random(f"sneakersync.fielddata:{collection}:{seed}")
    make = _MAKERS[collection]
    for index in range(count):
        rec = make(rng)
        if with_ids:
            rec = {"id": record_id(collection, seed, index), **rec}
        yield rec


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)     # one shared encoder: json.dumps(**kw) builds one per call


def _open_out(path: str | Path) -> IO[str]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "w", encoding="utf-8", newline="")


def _write_jsonl_to(fh: IO[str], records: Iterable[dict[str, Any]]) -> int:
    n = 0
    for rec in records:
        fh.write(_dumps(rec) + "\n")
        n += 1
    return n


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict, bool)):
        return _dumps(value)
    return str(value)


def _write_csv_to(fh: IO[str], collection: str, records: Iterable[dict[str, Any]],
                  with_ids: bool) -> int:
    columns = (["id"] if with_ids else []) + list(FIELDS[collection])
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(columns)
    n = 0
    for rec in records:
        writer.writerow([_csv_cell(rec[c]) for c in columns])
        n += 1
    return n


def write_jsonl(path: str | Path, collection: str, count: int, *, seed: int = 0,
                with_ids: bool = True) -> int:
    """Write records as UTF-8 JSON lines; return the number written."""
    records = generate(collection, count, seed=seed, with_ids=with_ids)
    with _open_out(path) as fh:
        return _write_jsonl_to(fh, records)


def write_csv(path: str | Path, collection: str, count: int, *, seed: int = 0,
              with_ids: bool = True) -> int:
    """Write records as UTF-8 CSV (header row first, ``\\n`` line ends).

    Lists/objects are JSON-encoded in their cell, ``None`` is an empty cell,
    numbers are plain text; notes may contain quoted newlines.
    """
    records = generate(collection, count, seed=seed, with_ids=with_ids)
    with _open_out(path) as fh:
        return _write_csv_to(fh, collection, records, with_ids)


def _decode_cell(kind: str, text: str) -> Any:
    if kind.endswith("?") and text == "":
        return None
    base = kind.rstrip("?")
    if base == "int":
        return int(text)
    if base == "float":
        return float(text)
    if base.startswith(("list", "dict")):
        return json.loads(text)
    return text


def decode_csv_row(collection: str, row: dict[str, str]) -> dict[str, Any]:
    """Turn a ``csv.DictReader`` row of :func:`write_csv` back into a record."""
    _check(collection, 0)
    types = {"id": "str", **FIELDS[collection]}
    return {name: _decode_cell(types[name], text) for name, text in row.items()}


# --------------------------------------------------------------------------
# Sample files (committed under samples/)


def write_samples(directory: str | Path) -> list[Path]:
    """(Re)write every file in :data:`SAMPLES` plus the malformed ones in ``bad/``."""
    directory = Path(directory)
    written = []
    for name, collection, count, seed in SAMPLES:
        path = directory / name
        writer = write_csv if path.suffix == ".csv" else write_jsonl
        writer(path, collection, count, seed=seed, with_ids=True)
        written.append(path)
    return written + write_bad_samples(directory / "bad")


def _single_line(collection: str, count: int, seed: int) -> list[dict[str, Any]]:
    recs = generate(collection, 200, seed=seed, with_ids=True)
    return [r for r in recs if "\n" not in r["notes"]][:count]


def _bad_households_csv() -> str:
    recs = _single_line("households", 6, 1)
    columns = ["id", *FIELDS["households"]]
    rows = [[_csv_cell(r[c]) for c in columns] for r in recs]
    rows[3] = rows[3][:-1]                                  # line 5: one cell short
    rows[4][3] = "five"                                     # line 6: size is not a number
    rows[4][10] = rows[4][10][: len(rows[4][10]) // 2]      #   and needs is truncated JSON
    rows[5] = rows[5] + ["surplus"]                         # line 7: one cell too many
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([columns, *rows])
    # line 8: a quote that is never closed; it swallows the rest of the file
    return buf.getvalue() + '"unterminated quote, Family asks for tarpaulins\n'


def write_bad_samples(directory: str | Path) -> list[Path]:
    """Write ``households_bad.csv`` and ``broken.jsonl`` (see samples/README.md)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / "households_bad.csv"
    csv_path.write_bytes(_bad_households_csv().encode("utf-8"))
    jsonl_path = directory / "broken.jsonl"
    jsonl_path.write_bytes(_broken_jsonl())
    return [csv_path, jsonl_path]


def _truncated(line: bytes) -> bytes:
    """Cut ``line`` just after the first byte of its last multi-byte UTF-8 character."""
    for i in range(len(line) - 1, 0, -1):
        if line[i] >= 0xC0:
            return line[: i + 1]
    return line[: len(line) // 2]


def _broken_jsonl() -> bytes:
    recs = [_dumps(r).encode("utf-8") for r in _single_line("missing_persons", 40, 1)]
    ascii_only = [r for r in recs if r.isascii()][:5]
    non_ascii = next(r for r in recs if not r.isascii())
    lines = [ascii_only[0], recs[2], ascii_only[1],
             _truncated(non_ascii),               # line 4: cut inside a UTF-8 character
             ascii_only[2],
             b'["not", "an", "object"]',          # line 6: valid JSON, not an object
             b"",                                 # line 7: blank (allowed)
             ascii_only[3]]
    tail = ascii_only[4][: len(ascii_only[4]) * 2 // 3]   # line 9: cut short, no newline
    return b"\n".join(lines) + b"\n" + tail


# --------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sneakersync.demo.fielddata",
        description="Generate synthetic, multilingual field records (deterministic).")
    p.add_argument("collection", nargs="?", choices=COLLECTIONS)
    p.add_argument("count", nargs="?", type=int)
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", help="output file, .jsonl or .csv (default: JSON lines on stdout)")
    p.add_argument("--no-ids", action="store_true", help="leave out the 'id' field")
    p.add_argument("--samples", metavar="DIR", help="rewrite the committed sample files in DIR")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.samples:
        for path in write_samples(args.samples):
            print(f"wrote {path}", file=sys.stderr)
        return 0
    if args.collection is None or args.count is None or args.count < 0:
        parser.error("give COLLECTION and a non-negative COUNT (or --samples DIR)")
    with_ids = not args.no_ids
    if args.out is None:
        records = generate(args.collection, args.count, seed=args.seed, with_ids=with_ids)
        _write_jsonl_to(sys.stdout, records)
        return 0
    suffix = Path(args.out).suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        parser.error("--out must end in .jsonl or .csv")
    writer = write_csv if suffix == ".csv" else write_jsonl
    n = writer(args.out, args.collection, args.count, seed=args.seed, with_ids=with_ids)
    print(f"wrote {n} {args.collection} records to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
