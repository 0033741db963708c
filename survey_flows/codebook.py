"""The codebook of a survey's export: each column an analyst gets, what it means, how it is coded.

Built from the forms alone (pure: no database, no files). Several versions of one form give the
union of their questions in form order, each name once: a question renamed between versions is
two columns, never merged with another by its label. A select_multiple gives its summary column
(the picks, space-separated, as KoBo writes them) and then one 0/1 column per choice. A question
inside groups is named by their path, as KoBo does ("part1/c1_1_a"). A scored form adds a column
per sub-feature and characteristic score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from survey_flows.form import Flow, Item, Kind

#: The separator between a select_multiple's name and a choice, in its 0/1 columns (KoBo's).
CHOICE_SEPARATOR = "/"
#: The column types a writer needs to know: each maps to a cell type and an SPSS measure.
NUMERIC, TEXT, DATE, CHOICE, FLAG, SCORE = "numeric", "text", "date", "choice", "flag", "score"
KIND_TYPES = {
    Kind.INTEGER: NUMERIC,
    Kind.DECIMAL: NUMERIC,
    Kind.CALCULATE: TEXT,
    Kind.DATE: DATE,
    Kind.SELECT_ONE: CHOICE,
    Kind.SELECT_MULTIPLE: TEXT,
    Kind.TEXT: TEXT,
    Kind.ACKNOWLEDGE: TEXT,
}


@dataclass(frozen=True)
class Code:
    """One code a column takes: what is stored, its labels, and its score if it is scored."""

    value: str
    label_th: str
    label_en: str
    score: float | None = None


@dataclass(frozen=True)
class Variable:
    """One column of the export, as the codebook describes it."""

    name: str
    label_th: str
    label_en: str
    type: str
    codes: tuple[Code, ...] = ()
    #: The question it comes from (a 0/1 column's select_multiple; "" for a score).
    question: str = ""
    #: For a 0/1 column: the choice it flags.
    choice: str = ""
    characteristic: str = ""
    subfeature: str = ""
    reverse: bool = False
    #: The form versions that ask it, as the forms name them.
    versions: tuple[str, ...] = ()


#: The columns after the answers and scores in the wide layout, as KoBo names its own (and ours
#: after them): about the submission, never about the person beyond their pseudonym.
META = (
    Variable("_uuid", "รหัสชุดคำตอบ", "Submission id", TEXT),
    Variable("_submission_time", "เวลาที่ส่ง (เวลาไทย)", "Submitted at (Bangkok time)", DATE),
    Variable("_started_at", "เวลาที่เริ่ม (เวลาไทย)", "Started at (Bangkok time)", DATE),
    Variable("__version__", "รุ่นของแบบสอบถาม", "Form version", TEXT),
    Variable("_respondent", "รหัสแทนตัวผู้ตอบ", "Respondent's pseudonym", TEXT),
    Variable("_group", "กลุ่ม", "Group (profile code)", TEXT),
    Variable("_municipality", "เทศบาล", "Municipality (profile code)", TEXT),
    Variable("_channel", "ช่องทาง", "Channel: line, telegram, assisted, web", TEXT),
    Variable("_round", "รอบที่ตอบ", "Round: 1, 2, …", NUMERIC),
    Variable("_entered_by", "ผู้บันทึก", "Entered by: self, or the coordinator", TEXT),
)


def codebook(flows: Sequence[Flow]) -> list[Variable]:
    """The answer and score columns of an export of these versions of one form, in order."""
    asked: dict[str, tuple[Item, list[str]]] = {}
    order: list[str] = []
    for flow in flows:
        exported = [item for item in flow.items if item.asks or item.calculation is not None]
        for position, item in enumerate(exported):
            if item.name not in asked:
                # a question new in this version goes just before the next one it is followed
                # by there that the merged order already has (so after the ones it replaced)
                later = (i.name for i in exported[position + 1 :] if i.name in asked)
                following = next(later, None)
                order.insert(order.index(following) if following else len(order), item.name)
                asked[item.name] = (item, [])
            asked[item.name][1].append(flow.version)
    asked = {name: asked[name] for name in order}
    scored = {s.name: s for flow in flows if flow.scoring for s in flow.scoring.items}
    variables: list[Variable] = []
    for name, (item, versions) in asked.items():
        scoring = scored.get(name)
        codes = tuple(
            Code(
                choice.name,
                choice.label.get("th", ""),
                choice.label.get("en", ""),
                scoring.scale.get(choice.name) if scoring else None,
            )
            for choice in item.choices
        )
        column = f"{item.group}/{name}" if item.group else name
        variables.append(
            Variable(
                column,
                item.label.get("th", ""),
                item.label.get("en", ""),
                KIND_TYPES.get(item.kind, TEXT),
                codes,
                question=name,
                characteristic=scoring.characteristic if scoring else "",
                subfeature=scoring.subfeature if scoring else "",
                reverse=scoring.reverse if scoring else False,
                versions=tuple(versions),
            )
        )
        if item.kind is Kind.SELECT_MULTIPLE:
            variables += [
                Variable(
                    f"{column}{CHOICE_SEPARATOR}{code.value}",
                    f"{item.label.get('th', '')}: {code.label_th}",
                    f"{item.label.get('en', '')}: {code.label_en}",
                    FLAG,
                    (Code("0", "ไม่ได้เลือก", "not picked"), Code("1", "เลือก", "picked")),
                    question=name,
                    choice=code.value,
                    versions=tuple(versions),
                )
                for code in codes
            ]
    return variables + score_variables(flows)


def score_variables(flows: Sequence[Flow]) -> list[Variable]:
    """A column per sub-feature, then per characteristic, of the scored versions."""
    columns: dict[str, Variable] = {}
    scorings = [flow.scoring for flow in flows if flow.scoring]
    dimensions = [d for s in scorings for d in s.subfeatures] + [
        d for s in scorings for d in s.characteristics
    ]
    for dimension in dimensions:
        is_subfeature = bool(dimension.characteristic)
        columns.setdefault(
            f"score_{dimension.id}",
            Variable(
                f"score_{dimension.id}",
                dimension.label.get("th", ""),
                dimension.label.get("en", ""),
                SCORE,
                characteristic=dimension.characteristic if is_subfeature else dimension.id,
                subfeature=dimension.id if is_subfeature else "",
            ),
        )
    return list(columns.values())


def cells(variables: Sequence[Variable], answers: dict[str, object]) -> list[object]:
    """One submission's answer cells, in the codebook's order (scores are the caller's): None
    where unanswered; a select_multiple's picks space-separated, then 0/1 for each choice."""
    row: list[object] = []
    for variable in variables:
        if variable.type == SCORE:
            continue
        value = answers.get(variable.question)
        if variable.type == FLAG:
            picked = value if isinstance(value, list) else []
            row.append(None if value is None else int(variable.choice in picked))
        elif isinstance(value, list):
            row.append(" ".join(str(item) for item in value))
        else:
            row.append(value)
    return row
