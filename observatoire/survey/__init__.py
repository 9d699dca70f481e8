"""Count-night questionnaires: definitions, response validation, XLSForm export, ODK/Kobo import.

Pure: reads questionnaire files and export files, never the database.
"""

from observatoire.survey.questionnaire import (
    Question,
    Questionnaire,
    QuestionnaireError,
    list_questionnaires,
    load_questionnaire,
    parse_questionnaire,
)
from observatoire.survey.responses import (
    AnswerIssue,
    ResponseCheck,
    Submission,
    browser_position,
    validate_response,
)

__all__ = [
    "AnswerIssue",
    "Question",
    "Questionnaire",
    "QuestionnaireError",
    "ResponseCheck",
    "Submission",
    "browser_position",
    "list_questionnaires",
    "load_questionnaire",
    "parse_questionnaire",
    "validate_response",
]
