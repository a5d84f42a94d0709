"""The access body's figures (``access.figures``) for a period: a page with charts drawn as SVG
on the server, the same figures as CSV, and a printable report. Access-body administrators
only; everyone else gets 404."""

import csv
from dataclasses import dataclass, field
from datetime import date

from django import forms
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from access.figures import NOT_STATED, UNKNOWN, Durations, Figures, access_body_figures
from access.models import Purpose, RefusalGround
from catalogue import quality
from catalogue.models import Dataset
from portal.models import Role
from portal.permissions import role_required

# The chart's geometry (SVG user units; the drawing scales to the width of the screen).
CHART_WIDTH, LABEL_WIDTH, BAR_HEIGHT, ROW_HEIGHT, LABEL_CHARS = 640, 260, 18, 26, 36


class PeriodForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), widget=forms.DateInput({"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("The period must end after it starts."))
        return data


def _default_period(today: date) -> tuple[date, date]:
    """The two-year reporting period of Art 59: from 1 January of last year to today."""
    return date(today.year - 1, 1, 1), today


def _period(request) -> tuple[PeriodForm, date, date]:
    start, end = _default_period(timezone.localdate())
    form = PeriodForm(request.GET or {"start": start, "end": end})
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    return form, start, end


@dataclass
class Row:
    key: str
    label: str
    value: float | int | None
    shown: str


@dataclass
class Section:
    key: str
    title: str
    rows: list[Row]
    chart: bool = False
    note: str = ""
    bars: list[dict] = field(default_factory=list)
    height: int = 0


def _n(value: int) -> Row:
    return Row("", "", value, number_format(value))


def _counted(key: str, label: str, value: int) -> Row:
    row = _n(value)
    row.key, row.label = key, label
    return row


def _days(key: str, label: str, value: float | None, *, missing: str) -> Row:
    shown = missing if value is None else _("%s working days") % number_format(value)
    return Row(key, label, value, shown)


def _durations(prefix: str, what: str, durations: Durations | None, missing: str) -> list[Row]:
    if durations is None:
        return [Row(prefix, what, None, missing)]
    none = _("none in this period")
    return [
        _counted(f"{prefix}.count", _("%s: cases") % what, durations.count),
        _days(f"{prefix}.median", _("%s: median") % what, durations.median, missing=none),
        _days(f"{prefix}.p90", _("%s: 90th percentile") % what, durations.p90, missing=none),
    ]


def _labelled(counts, labels: dict[str, str]) -> list[Row]:
    rows = [_counted(key, labels.get(key, key), n) for key, n in counts.items()]
    return sorted(rows, key=lambda r: (-int(r.value or 0), r.label))


def _with_bars(section: Section) -> Section:
    """Lay the section's rows out as horizontal bars, the longest across the chart."""
    top = max((int(r.value or 0) for r in section.rows), default=0) or 1
    room = CHART_WIDTH - LABEL_WIDTH - 60
    for i, row in enumerate(section.rows):
        label = row.label if len(row.label) <= LABEL_CHARS else row.label[: LABEL_CHARS - 1] + "…"
        width = round(room * int(row.value or 0) / top)
        section.bars.append(
            {"row": row, "label": label, "y": i * ROW_HEIGHT, "width": width,
             "value_x": LABEL_WIDTH + width + 6, "text_y": i * ROW_HEIGHT + BAR_HEIGHT - 4}
        )  # fmt: skip
    section.height = max(len(section.rows), 1) * ROW_HEIGHT
    return section


def sections(figures: Figures) -> list[Section]:
    """The figures as the page, the CSV and the printed report show them."""
    unknown = {UNKNOWN: _("Not recorded (before the chain recorded it)")}
    grounds = {**dict(RefusalGround.choices), NOT_STATED: _("Ground not stated"), **unknown}
    titles = dict(
        Dataset.objects.filter(
            pk__in=[k for k in figures.permits_by_dataset if k.isdigit()]
        ).values_list("pk", "title")
    )
    datasets = {str(pk): title for pk, title in titles.items()} | unknown
    share = figures.share_within_deadline
    not_measured = _("not yet measured: no node has reported an access")
    result = [
        Section("applications", _("Applications"), [
            _counted("received", _("Received"), figures.received),
            _counted("decided", _("Decided"), figures.decided),
            _counted("approved", _("Approved"), figures.approved),
            _counted("partly_approved", _("Partly approved"), figures.partly_approved),
            _counted("refused", _("Refused"), figures.refused),
            _counted("withdrawn", _("Withdrawn"), figures.withdrawn),
            _counted("lapsed", _("Lapsed (not completed within four weeks)"), figures.lapsed),
        ], chart=True),
        Section("refusals", _("Refusals by ground (Article 68)"),
                _labelled(figures.refused_by_ground, grounds), chart=True),
        Section("times", _("Time taken"), [
            *_durations("to_decision", _("From complete application to decision"),
                        figures.to_decision, ""),
            Row("within_deadline", _("Decided within the Article 68 deadline"), share,
                _("no deadline recorded") if share is None else
                f"{share:.0%} ({figures.within_deadline} / {figures.deadline_known})"),
            *_durations("to_first_access", _("From decision to first access"),
                        figures.to_first_access, not_measured),
        ], note=_("Working days: weekdays that are not public holidays of %s.")
            % (figures.country or _("any country (weekends only)"))),
        Section("permits_by_purpose", _("Permits issued, by purpose (Article 53)"),
                _labelled(figures.permits_by_purpose, {**dict(Purpose.choices), **unknown}),
                chart=True),
        Section("permits_by_dataset", _("Permits issued, by dataset"),
                _labelled(figures.permits_by_dataset, datasets), chart=True),
        Section("permit_changes", _("Permits suspended and revoked"), [
            _counted("suspended", _("Suspensions"), figures.suspensions),
            _counted("revoked", _("Revocations"), figures.revocations),
        ]),
        Section("quality", _("Quality labels of published datasets, by level (today)"), [
            _counted(level, str(quality.LEVEL_LABELS[level]), n)
            for level, n in figures.quality_levels.items()
        ], chart=True),
    ]  # fmt: skip
    return [_with_bars(s) if s.chart else s for s in result]


def _context(request) -> dict:
    form, start, end = _period(request)
    figures = access_body_figures(start=start, end=end)
    return {
        "form": form,
        "figures": figures,
        "sections": sections(figures),
        "query": request.GET.urlencode(),
        "chart_width": CHART_WIDTH,
        "label_width": LABEL_WIDTH,
        "bar_height": BAR_HEIGHT,
        "generated": timezone.now(),
        "hdab_name": settings.HDAB_NAME,
    }


@require_safe
@role_required(Role.HDAB_ADMIN)
def figures_page(request):
    return render(request, "access/figures/page.html", _context(request))


@require_safe
@role_required(Role.HDAB_ADMIN)
def figures_report(request):
    """The activity report for the period, laid out for paper."""
    return render(request, "access/figures/report.html", _context(request))


def _cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run: text that starts like a formula gets a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@require_safe
@role_required(Role.HDAB_ADMIN)
def figures_csv(request):
    context = _context(request)
    figures: Figures = context["figures"]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="access-body-figures-{figures.start}-{figures.end}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(["section", "item", "label", "value", "shown"])
    writer.writerow(["period", "start", _("From"), figures.start.isoformat(), ""])
    writer.writerow(["period", "end", _("To"), figures.end.isoformat(), ""])
    writer.writerow(["chain", "length", _("Events in the audit chain"), figures.head_seq, ""])
    writer.writerow(["chain", "head_hash", _("Hash of its last event"), figures.head_hash, ""])
    for section in context["sections"]:
        for row in section.rows:
            value = "" if row.value is None else row.value
            writer.writerow([_cell(c) for c in (section.key, row.key, row.label, value, row.shown)])
    return response
