"""Where a language sits in its family tree (Glottolog's top levels), to compare what models
learn with how languages are related: ``relatedness("es", "it")`` is the number of levels the two
share (0: different families). Languages of Common Voice and the papers' evaluations; an unknown
code shares nothing with anything."""

from __future__ import annotations

IE = "Indo-European"
ROMANCE, GERMANIC, SLAVIC = (IE, "Italic", "Romance"), (IE, "Germanic"), (IE, "Balto-Slavic", "Slavic")
INDO_ARYAN, IRANIAN = (IE, "Indo-Iranian", "Indo-Aryan"), (IE, "Indo-Iranian", "Iranian")
TURKIC, SEMITIC, URALIC = ("Turkic",), ("Afro-Asiatic", "Semitic"), ("Uralic",)
BANTU = ("Atlantic-Congo", "Volta-Congo", "Benue-Congo", "Bantu")
DRAVIDIAN, AUSTRONESIAN, SINO_TIBETAN = ("Dravidian",), ("Austronesian",), ("Sino-Tibetan",)

FAMILIES: dict[str, tuple[str, ...]] = {
    **{lang: ROMANCE + (branch,) for lang, branch in (
        ("es", "West Ibero-Romance"), ("pt", "West Ibero-Romance"), ("gl", "West Ibero-Romance"),
        ("ca", "East Ibero-Romance"), ("fr", "Gallo-Romance"), ("it", "Italo-Dalmatian"), ("ro", "Eastern Romance"))},
    **{lang: GERMANIC + (branch,) for lang, branch in (
        ("en", "West"), ("de", "West"), ("nl", "West"), ("fy-NL", "West"), ("sv-SE", "North"), ("da", "North"),
        ("nb-NO", "North"), ("is", "North"))},
    **{lang: SLAVIC + (branch,) for lang, branch in (
        ("ru", "East"), ("uk", "East"), ("be", "East"), ("pl", "West"), ("cs", "West"), ("sk", "West"),
        ("sl", "South"), ("sr", "South"), ("bg", "South"), ("mk", "South"))},
    "lt": (IE, "Balto-Slavic", "Baltic"), "lv": (IE, "Balto-Slavic", "Baltic"),
    "el": (IE, "Hellenic"), "hy-AM": (IE, "Armenian"), "sq": (IE, "Albanian"),
    "cy": (IE, "Celtic"), "ga-IE": (IE, "Celtic"), "br": (IE, "Celtic"),
    **{lang: INDO_ARYAN for lang in ("hi", "ur", "bn", "pa-IN", "mr", "as", "or", "ne-NP", "gu-IN")},
    **{lang: IRANIAN for lang in ("fa", "ckb", "kmr", "tg")},
    **{lang: TURKIC for lang in ("tr", "az", "kk", "ky", "uz", "tt", "ba", "ug", "sah", "cv")},
    **{lang: SEMITIC for lang in ("ar", "he", "mt", "am", "ti")},
    **{lang: URALIC + (branch,) for lang, branch in (("fi", "Finnic"), ("et", "Finnic"), ("hu", "Ugric"),
                                                      ("myv", "Mordvinic"), ("mdf", "Mordvinic"))},
    **{lang: BANTU for lang in ("sw", "rw", "lg", "zu", "xh")},
    **{lang: DRAVIDIAN for lang in ("ta", "te", "ml", "kn")},
    **{lang: AUSTRONESIAN for lang in ("id", "ms", "tl", "mg")},
    **{lang: SINO_TIBETAN for lang in ("zh-CN", "zh-TW", "zh-HK", "yue", "my")},
    "ka": ("Kartvelian",), "eu": ("Basque",), "ja": ("Japonic",), "ko": ("Koreanic",), "vi": ("Austroasiatic",),
    "th": ("Tai-Kadai",), "mn": ("Mongolic",),
}


def family(lang: str) -> tuple[str, ...]:
    """The language's place, from its family down (empty if unknown); a region subtag falls back to the
    language (``es-419`` -> ``es``)."""
    return FAMILIES.get(lang) or FAMILIES.get(lang.split("-")[0]) or ()


def relatedness(a: str, b: str) -> int:
    """Levels of the family tree that ``a`` and ``b`` share: 0 = unrelated or unknown."""
    shared = 0
    for x, y in zip(family(a), family(b)):
        if x != y:
            break
        shared += 1
    return shared
