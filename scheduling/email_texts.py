"""Every text the service emails a citizen, declared once, in each language: the booking emails (confirmation,
reminder, move, cancellation: :func:`scheduling.notify.render` puts their paragraphs together), the calendar
entry attached to them (:mod:`scheduling.ics`), and the email with a fresh join link that an operator sends from
a consultation's page (:func:`scheduling.notify.link_email`).

Italian is the default; a language not listed gets the Italian texts. ``{name}``-style fields are filled with
``str.format``. The booking emails address the citizen formally (*lei*), the link email informally (*tu*), as
they always have.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT = "it"

TEXTS: Mapping[str, Mapping[str, str]] = {
    "it": {
        # the booking emails: subjects by kind, then paragraphs
        "confirmation": "Il suo appuntamento è confermato",
        "reminder": "Promemoria del suo appuntamento",
        "moved": "Il suo appuntamento è stato spostato",
        "cancellation": "Il suo appuntamento è stato annullato",
        "greeting": "Buongiorno {name},",
        "intro_confirmation": "il suo appuntamento è confermato per {when}.",
        "intro_reminder": "le ricordiamo il suo appuntamento di {when}.",
        "intro_moved": "il suo appuntamento è stato spostato a {when}.",
        "intro_cancellation": "il suo appuntamento di {when} è stato annullato.",
        "video": "Per collegarsi in video apra questo link qualche minuto prima (non serve installare nulla):\n{link}",
        "phone": "La chiameremo noi al numero che ci ha lasciato.",
        "manage": "Per annullare o spostare l'appuntamento:\n{link}",
        "again": "Se lo desidera, può prenotare un nuovo appuntamento:\n{link}",
        "help": "Per parlare con noi può chiamare il {phone}.",
        "emergency": "Se lei o un'altra persona è in pericolo immediato, chiami il {emergency}.",
        "rome": "(ora di Roma)",
        # the calendar entry: neutral, nothing names the service (others may see a calendar)
        "calendar_summary": "Appuntamento",
        "calendar_description": "Link per collegarsi: {link}",
        # a fresh join link from the consultation's page
        "link_subject": "Il tuo appuntamento - {service}",
        "link_body": (
            "Gentile {name},\n\nper entrare nel colloquio video apri questo link dal telefono o dal computer:\n"
            "{link}\n\nNon serve installare nulla. Se hai difficoltà chiama il {phone}.\n\n{service}"
        ),
    },
    "en": {
        "confirmation": "Your appointment is confirmed",
        "reminder": "A reminder of your appointment",
        "moved": "Your appointment has been moved",
        "cancellation": "Your appointment has been cancelled",
        "greeting": "Hello {name},",
        "intro_confirmation": "your appointment is confirmed for {when}.",
        "intro_reminder": "this is a reminder of your appointment on {when}.",
        "intro_moved": "your appointment has been moved to {when}.",
        "intro_cancellation": "your appointment on {when} has been cancelled.",
        "video": "To join by video, open this link a few minutes before (nothing to install):\n{link}",
        "phone": "We will call you on the number you gave us.",
        "manage": "To cancel or move the appointment:\n{link}",
        "again": "If you wish, you can book a new appointment:\n{link}",
        "help": "To talk to us you can call {phone}.",
        "emergency": "If you or someone else is in immediate danger, call {emergency}.",
        "rome": "(Rome time)",
        "calendar_summary": "Appointment",
        "calendar_description": "Link to join: {link}",
        "link_subject": "Your appointment - {service}",
        "link_body": (
            "Dear {name},\n\nto join your video talk, open this link on your phone or computer:\n"
            "{link}\n\nNothing to install. If you have any difficulty call {phone}.\n\n{service}"
        ),
    },
}


def language(lang: str) -> str:
    """``lang`` if the emails are written in it, else the default."""
    return lang if lang in TEXTS else DEFAULT


def texts(lang: str) -> Mapping[str, str]:
    """The texts in ``lang`` (the default language's when there are none in it)."""
    return TEXTS[language(lang)]
