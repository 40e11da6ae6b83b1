"""Russian labels of the fixed vocabularies, and the order of the phases.

The engine's vocabularies (roles, deliveries, kinds of education, phases,
levels, mentoring forms, severities, step kinds, school subjects) are ids in
English; what a person reads is Russian. The resolver's reasons, the route's
messages, the ИОМ document and the step library's messages all take their
words from here, so one word is spelt one way everywhere.
"""

from __future__ import annotations

__all__ = [
    "CATEGORY_RU",
    "DELIVERY_RU",
    "EDUCATION_RU",
    "EDU_LEVEL_RU",
    "FORM_RU",
    "LEVEL_RU",
    "MARK_STATUS_RU",
    "PHASE_ORDER",
    "PHASE_RU",
    "ROLE_RU",
    "SEVERITY_RU",
    "STEP_KIND_RU",
    "SUBJECT_RU",
    "format_hours",
    "plural_ru",
]


ROLE_RU: dict[str, str] = {
    "teacher": "учитель",
    "educator": "воспитатель",
    "psychologist": "педагог-психолог",
    "additional_education_teacher": "педагог дополнительного образования",
    "tutor": "тьютор",
    "counselor": "советник директора по воспитанию",
    "deputy_head": "заместитель руководителя",
    "manager": "руководитель",
    # a post in the municipal methodical service, not the category «педагог-методист»
    "methodist": "методист муниципальной методической службы",
}
#: Qualification category (``person.category``) -> how an attestation order names it.
CATEGORY_RU: dict[str, str] = {
    "no_category": "без квалификационной категории",
    "first": "первая квалификационная категория",
    "highest": "высшая квалификационная категория",
    "pedagogue_methodist": "квалификационная категория «педагог-методист»",
    "pedagogue_mentor": "квалификационная категория «педагог-наставник»",
}
DELIVERY_RU: dict[str, str] = {
    "in_person": "очная",
    "distance": "дистанционная",
    "blended": "смешанная",
}
EDUCATION_RU: dict[str, str] = {
    "formal": "формальное",
    "non_formal": "неформальное",
    "informal": "информальное",
}
PHASE_RU: dict[str, str] = {
    "learn": "освоение",
    "practice": "практика",
    "share": "трансляция опыта",
    "reflect": "рефлексия",
}
LEVEL_RU: dict[str, str] = {
    "regional": "региональный",
    "municipal": "муниципальный",
    "institutional": "институциональный",
}
FORM_RU: dict[str, str] = {
    "teacher_teacher": "педагог – педагог",
    "young_specialist": "наставник – молодой специалист",
    "competency_pair": "учитель, владеющий компетенцией – учитель, которому её нужно сформировать",
    "group": "групповое наставничество",
    "team": "командное наставничество",
    "management": "менторство управленческих команд",
}
SEVERITY_RU: dict[str, str] = {
    "critical": "критический",
    "high": "выраженный",
    "moderate": "умеренный",
    "low": "слабый",
}
#: A tutor's mark on a step (``StepMark.status``) as the ИОМ's «Отметка о
#: выполнении», the progress report and the web pages all say it: one table, so the
#: signed document and the screen never word one state two ways.
MARK_STATUS_RU: dict[str, str] = {
    "planned": "запланировано",
    "in_progress": "выполняется",
    "done": "выполнено",
    "skipped": "не выполнено",
}
#: Phase -> its place in a route: learning first, reflection last.
PHASE_ORDER: dict[str, int] = {"learn": 0, "practice": 1, "share": 2, "reflect": 3}

#: A step kind (see ``deficit_engine.route.STEP_KINDS``) -> its short label.
STEP_KIND_RU: dict[str, str] = {
    "program": "ДПП",
    "mentoring": "Наставник",
    "format": "Форма работы",
    "self_education": "Самообразование",
    "rediagnosis": "Повторная диагностика",
}

#: School subject id (``person.subjects``) -> its name.
EDU_LEVEL_RU: dict[str, str] = {
    "preschool": "дошкольное",
    "primary": "начальное общее",
    "basic": "основное общее",
    "secondary": "среднее общее",
}
SUBJECT_RU: dict[str, str] = {
    "mathematics": "математика",
    "russian": "русский язык",
    "literature": "литература",
    "physics": "физика",
    "chemistry": "химия",
    "history": "история",
    "biology": "биология",
    "informatics": "информатика",
    "primary": "начальные классы",
    "preschool": "дошкольное образование",
    "english": "английский язык",
    "geography": "география",
}


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """Russian plural agreement: 1 потребность, 2 потребности, 5 потребностей.

    Parameters
    ----------
    n : int
        The count.
    one, few, many : str
        The word's forms for 1, 2-4 and 5 (21, 22, 25, ...).

    Returns
    -------
    str
        The form that agrees with ``n``.
    """
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def format_hours(value: float) -> str:
    """Hours as a Russian text shows them: ``36.0`` -> ``36``, ``2.5`` -> ``2,5``.

    Parameters
    ----------
    value : float
        A number of hours.

    Returns
    -------
    str
        Whole numbers without a fraction, others with a decimal comma.
    """
    if float(value).is_integer():
        return str(int(value))
    return f"{value:g}".replace(".", ",")
