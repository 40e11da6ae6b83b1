"""Free text as the KB and profiles are compared: NFC, and Latin look-alikes in Cyrillic.

A municipality or organisation typed on a Mac or sent by a web form may be in
Unicode NFD, and a spreadsheet may hold «Анучинский MO» with a Latin M and O.
Both the profile's text (:mod:`~deficit_engine.profile`) and the KB's own
(mentors' municipality and organisation, folded by the loader) go through
:func:`person_text`, so the two meet whichever way either was written.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["person_text"]

#: Latin letters drawn like Cyrillic ones (a spreadsheet's «Анучинский MO» with a
#: Latin M and O): in a Cyrillic text, a word mixing these into Cyrillic letters,
#: or a capital abbreviation made only of them, is read in Cyrillic. A word with
#: any other Latin letter (IT-лицей) or in lower case («& Co») is left as it is.
_LOOKALIKES = str.maketrans("AaBCcEeHKMOoPpTXxy", "АаВСсЕеНКМОоРрТХху")
_LATIN = re.compile(r"[A-Za-z]")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_WORD = re.compile(r"[^\W\d_]+")


def person_text(value: str) -> str:
    """A municipality or organisation as the KB's text is compared with it.

    Parameters
    ----------
    value : str
        The text as the profile gives it.

    Returns
    -------
    str
        In NFC, and, when the text has Cyrillic letters, each word that mixes
        Latin look-alikes (``M``, ``O``, ``C``...) into Cyrillic, or is an
        abbreviation in capitals made only of them, read in Cyrillic.
    """
    text = unicodedata.normalize("NFC", value)
    if not (_LATIN.search(text) and _CYRILLIC.search(text)):
        return text

    def fold(word: re.Match[str]) -> str:
        text = word.group(0)
        # a word mixing the scripts (COШ), or an abbreviation in capitals (MO, ГO);
        # a Latin word in lower case («& Co») is left alone
        if not (_CYRILLIC.search(text) or text.isupper()):
            return text
        folded = text.translate(_LOOKALIKES)
        return folded if not _LATIN.search(folded) else text

    return _WORD.sub(fold, text)
